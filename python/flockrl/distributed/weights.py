"""Weights for remote actors through Ray's object store, by version: the
learner puts each version once; a remote actor is handed the reference
only when it holds an older version, and fetches it then."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch


def state_arrays(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """The module's state_dict as CPU numpy arrays (what Ray stores without pickling tensors)."""
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


class WeightBroadcast:
    """Learner side: one ``ray.put`` per published version."""

    def __init__(self, ray: Any):
        self._ray = ray
        self.newest: tuple[int, Any] = (0, None)
        """(version, object ref), replaced whole, so a reader never pairs one version with another's ref."""

    @property
    def version(self) -> int:
        return self.newest[0]

    def publish(self, module: torch.nn.Module) -> int:
        version = self.newest[0] + 1
        self.newest = (version, self._ray.put(state_arrays(module)))
        return version


class PushedWeights:
    """Remote side: the WeightSource an Actor pulls from, fed by receive()."""

    def __init__(self) -> None:
        self.version = 0  # the newest received
        self._pending: dict[str, np.ndarray] | None = None

    def receive(self, version: int, state: dict[str, np.ndarray]) -> None:
        self.version, self._pending = version, state

    def pull(self, module: torch.nn.Module) -> int | None:
        if self._pending is None:
            return None
        with torch.no_grad(), warnings.catch_warnings():
            # The object store's arrays are read-only; they are only read here.
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            for name, tensor in module.state_dict().items():
                tensor.copy_(torch.from_numpy(self._pending[name]))
        self._pending = None
        return self.version
