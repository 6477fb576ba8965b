"""Observation normalisation with running statistics kept as module buffers,
so they travel with the weights (checkpoints, the ParamStore) and every
actor normalises with the statistics the learner trained with."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class RunningNorm(nn.Module):
    """(x - mean) / sqrt(var + eps), clipped to [-clip, clip]; the statistics
    change only through update(), which merges a batch exactly (Chan et
    al.'s parallel variance formula, in float64)."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8):
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.count == 0:
            return x
        mean, std = self.mean.to(x.dtype), torch.sqrt(self.var + self.eps).to(x.dtype)
        return ((x - mean) / std).clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, batch: np.ndarray | torch.Tensor) -> None:
        """Merge a batch of observations ([B, *shape])."""
        x = torch.as_tensor(batch, device=self.mean.device).reshape(-1, *self.mean.shape).double()
        if len(x):
            self.update_moments(len(x), x.mean(dim=0), x.var(dim=0, unbiased=False))

    @torch.no_grad()
    def update_moments(self, n: float, batch_mean: torch.Tensor, batch_var: torch.Tensor) -> None:
        """Merge a batch given by its size, mean and (population) variance."""
        total = self.count + n
        delta = batch_mean - self.mean
        self.var.copy_((self.var * self.count + batch_var * n + delta.square() * self.count * n / total) / total)
        self.mean.add_(delta * n / total)
        self.count.copy_(total)
