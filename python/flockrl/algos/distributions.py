"""Action distributions for policy-gradient methods, as plain functions of
the network's outputs. torch.distributions builds an object and validates
its arguments on every call, which costs more than the small policy nets
themselves at acting time; these do the same math with a few kernels and
are tested against torch.distributions."""

from __future__ import annotations

import math

import torch

_LOG_2PI = math.log(2 * math.pi)


class Categorical:
    """Discrete actions from logits [B, A]."""

    @staticmethod
    def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(actions [B] int64, their log-probabilities [B]); Gumbel-max sampling."""
        u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(min=1e-20)
        actions = (logits - torch.log(-torch.log(u))).argmax(dim=-1)
        return actions, Categorical.log_prob(logits, actions)

    @staticmethod
    def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        return Categorical._entropy(torch.log_softmax(logits, dim=-1))

    @staticmethod
    def log_prob_entropy(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log_prob, entropy) from one log-softmax."""
        log_p = torch.log_softmax(logits, dim=-1)
        return log_p.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), Categorical._entropy(log_p)

    @staticmethod
    def _entropy(log_p: torch.Tensor) -> torch.Tensor:
        return -(log_p.exp() * log_p).sum(dim=-1)

    @staticmethod
    def backward(logits: torch.Tensor, actions: torch.Tensor, grad_log_prob: torch.Tensor,
                 grad_entropy: float) -> torch.Tensor:
        """d loss / d logits, given d loss / d log_prob(actions) [B] and
        d loss / d entropy (one number for every row, as a mean's is)."""
        log_p = torch.log_softmax(logits, dim=-1)
        p = log_p.exp()
        # d log p_a / d logits = onehot(a) - p;  d entropy / d logits = -p * (log p + entropy).
        grad = p * -grad_log_prob.unsqueeze(-1)
        if grad_entropy:
            grad -= grad_entropy * p * (log_p + Categorical._entropy(log_p).unsqueeze(-1))
        return grad.scatter_add_(-1, actions.long().unsqueeze(-1), grad_log_prob.unsqueeze(-1))

    @staticmethod
    def mode(logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=-1)


class DiagGaussian:
    """Continuous actions from (mean [B, D], log_std [D] or [B, D]), independent per dimension."""

    @staticmethod
    def sample(params: tuple[torch.Tensor, torch.Tensor],
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = params
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        actions = mean + log_std.exp() * noise
        # log N(a; mean, std) with (a - mean) / std = noise, summed over dimensions.
        log_prob = -(0.5 * noise.square() + log_std + 0.5 * _LOG_2PI).sum(dim=-1)
        return actions, log_prob

    @staticmethod
    def log_prob(params: tuple[torch.Tensor, torch.Tensor], actions: torch.Tensor) -> torch.Tensor:
        mean, log_std = params
        z = (actions - mean) * torch.exp(-log_std)
        return -(0.5 * z.square() + log_std + 0.5 * _LOG_2PI).sum(dim=-1)

    @staticmethod
    def entropy(params: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        mean, log_std = params
        return (log_std + 0.5 * (1.0 + _LOG_2PI)).expand_as(mean).sum(dim=-1)

    @staticmethod
    def log_prob_entropy(params: tuple[torch.Tensor, torch.Tensor],
                         actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return DiagGaussian.log_prob(params, actions), DiagGaussian.entropy(params)

    @staticmethod
    def backward(params: tuple[torch.Tensor, torch.Tensor], actions: torch.Tensor, grad_log_prob: torch.Tensor,
                 grad_entropy: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(d loss / d mean, d loss / d log_std) for log_std [D], given
        d loss / d log_prob(actions) [B] and d loss / d entropy (one number
        for every row, as a mean's is)."""
        mean, log_std = params
        inv_std = torch.exp(-log_std)
        z = (actions - mean) * inv_std
        g = grad_log_prob.unsqueeze(-1)
        # d log_prob / d mean = z / std;  d log_prob / d log_std = z^2 - 1;  d entropy / d log_std = 1.
        grad_log_std = (g * (z.square() - 1)).sum(dim=0) + grad_entropy * len(mean)
        return g * z * inv_std, grad_log_std

    @staticmethod
    def mode(params: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return params[0]
