"""Networks of the continuous off-policy methods (SAC, TD3): twin
Q-critics evaluated in one batched pass, a squashed-Gaussian actor (SAC)
and a deterministic tanh actor (TD3). Actions here live in [-1, 1]; the
learners map them to and from the env's bounds.

The twin critics hold each layer's two weight matrices stacked, so both
critics run as one ``baddbmm`` per layer instead of two ``addmm`` (half the
kernel launches and autograd nodes). Their initialisation is nn.Linear's
(uniform in +-1/sqrt(fan_in)), as SB3's and CleanRL's critics have.

The learners differentiate these nets by hand (forward_tape, backward,
sample_backward), as PPO's MLPs are (flockrl.nets.mlp): autograd's
bookkeeping cost 3-20% (median 7%) of a SAC or TD3 update of 256x256 nets
at batch 256 on one 2-core AMD EPYC thread, where the matrix products
take most of the rest. tests/test_continuous_backprop.py checks them
against autograd.

Under a learner's bfloat16 autocast (learner_precision) the hidden layers
run in bfloat16 and every output layer in float32, so Q-values, means and
log-stds keep float32's precision.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from flockrl.nets import mlp as mlp_backprop
from flockrl.nets.mlp import grad_of, store_grad

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
        self.act_dim = act_dim
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w, b = torch.empty(2, fan_in, fan_out), torch.empty(2, 1, fan_out)
            _linear_init_(w, b, fan_in)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """[2, B]: both critics' values."""
        return self.forward_tape(obs, action)[-1].squeeze(2)

    def forward_tape(self, obs: torch.Tensor, action: torch.Tensor, count: int = 2) -> list[torch.Tensor]:
        """The first `count` critics' layers on (obs, action), kept for
        backward: [the input [B, in], each hidden layer's output (after its
        ReLU) [count, B, h], the values [count, B, 1]]."""
        x = torch.cat([obs, action], dim=1)
        tape, h = [x], x.expand(count, -1, -1)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = torch.relu(torch.baddbmm(b[:count], h, w[:count]))
            tape.append(h)
        # the output layer (one column), here and in backward, as broadcast products and sums in
        # float32: bmm takes ~160 us for such a matrix-vector or outer product at 256 x 256, these ~35 us
        w, b = self.weights[-1][:count], self.biases[-1][:count]
        tape.append((h.float() * w.transpose(1, 2)).sum(2, keepdim=True) + b)
        return tape

    @torch.no_grad()
    def backward(self, tape: list[torch.Tensor], grad_values: torch.Tensor) -> None:
        """Sets (overwrites) every weight's and bias's .grad from
        grad_values = d loss / d values [2, B] and forward_tape's tape of
        both critics."""
        grad = grad_values.unsqueeze(2).float()
        last = len(self.weights) - 1
        grad_of(self.weights[last]).copy_((tape[last].float() * grad).sum(1, keepdim=True).transpose(1, 2))
        for i in range(last, -1, -1):
            if i < last:
                inputs = tape[i] if i > 0 else tape[0].expand(2, -1, -1)
                store_grad(self.weights[i], torch.bmm, inputs.transpose(1, 2), grad)
            grad_of(self.biases[i]).copy_(grad.sum(1, keepdim=True))
            if i > 0:
                grad = self._through_layer(i, tape, grad)

    @torch.no_grad()
    def action_grad(self, tape: list[torch.Tensor], grad_values: torch.Tensor) -> torch.Tensor:
        """d loss / d action [B, |A|] (summed over the taped critics), given
        grad_values = d loss / d values [count, B]; the weights' gradients
        are left alone (the actor's loss holds the critics fixed)."""
        grad = grad_values.unsqueeze(2).float()
        for i in range(len(self.weights) - 1, 0, -1):
            grad = self._through_layer(i, tape, grad)
        w = self.weights[0][:grad.shape[0], -self.act_dim:]  # the action's rows of the first layer
        return torch.bmm(grad, w.transpose(1, 2)).sum(dim=0).float()

    def _through_layer(self, i: int, tape: list[torch.Tensor], grad: torch.Tensor) -> torch.Tensor:
        """The gradient at layer i's output, passed back to its input (the
        output of layer i - 1's ReLU) and through that ReLU."""
        w = self.weights[i][:grad.shape[0]].transpose(1, 2)
        grad = grad * w if i == len(self.weights) - 1 else torch.bmm(grad, w)
        return torch.ops.aten.threshold_backward(grad, tape[i], 0)

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
        trunk = mlp_backprop.forward(self.trunk, obs)
        with _float32(trunk[-1]):
            x = trunk[-1].float()
            return self.mean(x), self.log_std(x).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(action, log pi(action | obs)) with u = mean + std * noise
        (reparameterised: differentiable in the weights)."""
        action, log_prob, _ = self.sample_tape(obs, noise)
        return action, log_prob

    def sample_tape(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple]:
        """sample(obs, noise) and what sample_backward needs."""
        trunk = mlp_backprop.forward(self.trunk, obs)
        with _float32(trunk[-1]):
            x = trunk[-1].float()
            mean, raw_log_std = self.mean(x), self.log_std(x)
        log_std = raw_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        std_noise = log_std.exp() * noise
        u = mean + std_noise
        action = torch.tanh(u)
        return action, squashed_log_prob(u, noise, log_std), (trunk, raw_log_std, std_noise, action)

    @torch.no_grad()
    def sample_backward(self, tape: tuple, grad_action: torch.Tensor, grad_log_prob: torch.Tensor) -> None:
        """Sets (overwrites) every parameter's .grad from d loss / d action
        [B, |A|] and d loss / d log_prob [B] at sample_tape's draw (the
        noise held fixed). The tape may hold more rows than B (one pass over
        several batches): the loss is of its first B rows."""
        rows = grad_action.shape[0]
        trunk, raw_log_std, std_noise, action = [t[:rows] for t in tape[0]], *(t[:rows] for t in tape[1:])
        grad_log_prob = grad_log_prob.unsqueeze(1)
        # u reaches the action through tanh and log pi through the squashing term: d log pi / du = 2 tanh(u).
        grad_u = torch.ops.aten.tanh_backward(grad_action, action) + 2.0 * grad_log_prob * action
        # log_std reaches u (times std * noise) and log pi (the Gaussian's -log_std); the clamp passes
        # gradients inside its bounds, as torch.clamp's backward does.
        inside = (raw_log_std >= LOG_STD_MIN) & (raw_log_std <= LOG_STD_MAX)
        grad_log_std = (grad_u * std_noise - grad_log_prob) * inside
        _trunk_backward(self.trunk, trunk, [(self.mean, grad_u), (self.log_std, grad_log_std)])

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
        return self.forward_tape(obs)[0]

    def forward_tape(self, obs: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """(forward(obs), what backward needs)."""
        trunk = mlp_backprop.forward(self.trunk, obs)
        with _float32(trunk[-1]):
            action = torch.tanh(self.out(trunk[-1].float()))
        return action, (trunk, action)

    @torch.no_grad()
    def backward(self, tape: tuple, grad_action: torch.Tensor) -> None:
        """Sets (overwrites) every parameter's .grad from d loss / d action [B, |A|]."""
        trunk, action = tape
        _trunk_backward(self.trunk, trunk, [(self.out, torch.ops.aten.tanh_backward(grad_action, action))])

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self(obs)


def _trunk_backward(trunk: nn.Sequential, tape: list[torch.Tensor],
                    heads: list[tuple[nn.Linear, torch.Tensor]]) -> None:
    """Sets the .grad of the heads (float32 linear layers on the trunk's
    output) and of the trunk, given each head's d loss / d output and the
    trunk's activations (flockrl.nets.mlp.forward)."""
    h = tape[-1]
    with _float32(h):
        features = h.float()
        grad_h = torch.zeros_like(features)
        for head, grad in heads:
            store_grad(head.weight, torch.mm, grad.t(), features)
            torch.sum(grad, 0, out=grad_of(head.bias))
            grad_h.addmm_(grad, head.weight)
    mlp_backprop.backward(trunk, tape, torch.ops.aten.threshold_backward(grad_h, h, 0))
