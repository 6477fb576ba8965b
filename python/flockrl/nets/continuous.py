"""Networks of the continuous off-policy methods (SAC, TD3): twin
Q-critics evaluated in one batched pass, a squashed-Gaussian actor (SAC)
and a deterministic tanh actor (TD3). Actions here live in [-1, 1]; the
learners map them to and from the env's bounds.

The twin critics hold each layer's two weight matrices stacked, so both
critics run as one ``baddbmm`` per layer instead of two ``addmm`` (half the
kernel launches and autograd nodes). Their initialisation is nn.Linear's
(uniform in +-1/sqrt(fan_in)), as SB3's and CleanRL's critics have.

Under a learner's bfloat16 autocast (learner_precision) the hidden layers
run in bfloat16 and every output layer in float32, so Q-values, means and
log-stds keep float32's precision.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
"""The squashed-Gaussian actor's log-std clamp (Haarnoja et al.'s code, SB3)."""


def _float32(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Autocast off (if it is on) for an output layer, whose input is then cast to float32 by the caller."""
    return torch.autocast(x.device.type, enabled=False) if torch.is_autocast_enabled(x.device.type) \
        else contextlib.nullcontext()


def _linear_init_(weight: torch.Tensor, bias: torch.Tensor, fan_in: int) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(weight, -bound, bound)
    nn.init.uniform_(bias, -bound, bound)


class TwinQ(nn.Module):
    """Two independent Q(s, a) MLPs (ReLU) with stacked weights:
    weights[i] is [2, in, out], biases[i] is [2, 1, out]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        sizes = [obs_dim + act_dim, *hidden_sizes, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w, b = torch.empty(2, fan_in, fan_out), torch.empty(2, 1, fan_out)
            _linear_init_(w, b, fan_in)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def forward(self, obs: torch.Tensor, action: torch.Tensor, frozen: bool = False,
                first_only: bool = False) -> torch.Tensor:
        """[2, B]: both critics' values ([1, B]: the first's alone, as TD3's
        actor loss wants). frozen: without gradients to the critics'
        weights (the actor's loss differentiates through the action only)."""
        count = 1 if first_only else 2
        x = torch.cat([obs, action], dim=1).expand(count, -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            w, b = w[:count], b[:count]
            if frozen:
                w, b = w.detach(), b.detach()
            if i < last:
                x = torch.relu(torch.baddbmm(b, x, w))
            else:
                with _float32(x):
                    x = torch.baddbmm(b, x.float(), w)
        return x.squeeze(2)

    def critic(self, index: int) -> nn.Sequential:
        """Critic `index` (0 or 1) as a plain nn.Sequential copy (tests and references)."""
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            linear = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                linear.weight.copy_(w[index].t())
                linear.bias.copy_(b[index, 0])
            layers += [linear, nn.ReLU()] if i < len(self.weights) - 1 else [linear]
        return nn.Sequential(*layers)


def _trunk(obs_dim: int, hidden_sizes: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    width = obs_dim
    for h in hidden_sizes:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers), width


class SquashedGaussianActor(nn.Module):
    """obs -> a Gaussian over u (mean, clamped log-std), action = tanh(u)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.trunk, width = _trunk(obs_dim, hidden_sizes)
        self.mean = nn.Linear(width, act_dim)
        self.log_std = nn.Linear(width, act_dim)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) of u."""
        x = self.trunk(obs)
        with _float32(x):
            x = x.float()
            return self.mean(x), self.log_std(x).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(action, log pi(action | obs)) with u = mean + std * noise
        (reparameterised: differentiable in the weights)."""
        mean, log_std = self(obs)
        u = mean + log_std.exp() * noise
        return torch.tanh(u), squashed_log_prob(u, noise, log_std)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self(obs)[0])


def squashed_log_prob(u: torch.Tensor, noise: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log pi(tanh(u)) summed over action dims, u = mean + exp(log_std) * noise:
    the Gaussian's log-density minus log(1 - tanh(u)^2), the latter computed
    stably as 2 (log 2 - u - softplus(-2u))."""
    gaussian = -0.5 * noise.square() - log_std - 0.5 * math.log(2 * math.pi)
    correction = 2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))
    return (gaussian - correction).sum(dim=1)


class DeterministicActor(nn.Module):
    """obs -> tanh(MLP(obs)): TD3's actor (Fujimoto et al. 2018)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.trunk, width = _trunk(obs_dim, hidden_sizes)
        self.out = nn.Linear(width, act_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.trunk(obs)
        with _float32(x):
            return torch.tanh(self.out(x.float()))

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self(obs)
