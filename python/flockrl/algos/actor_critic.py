"""The actor-critic network of the policy-gradient methods (PPO, A3C,
IMPALA): separate policy and value MLPs over (optionally normalised)
observations, a categorical head for Discrete actions and a diagonal
Gaussian with state-independent log-std for Box actions."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from flockrl.algos import mlp_backprop
from flockrl.algos.distributions import Categorical, DiagGaussian
from flockrl.algos.running_norm import RunningNorm
from flockrl.multitask import action_mask_of

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(sizes: list[int], activation: str, out_gain: float) -> nn.Sequential:
    """Linear layers with `activation` between them; orthogonal init (gain
    sqrt 2 for hidden layers, `out_gain` for the last), zero biases, as in
    the PPO implementations that reproduce the paper's results."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        linear = nn.Linear(a, b)
        nn.init.orthogonal_(linear.weight, out_gain if last else math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    def __init__(self, obs_space: gym.spaces.Box, action_space: gym.spaces.Space, hidden_sizes: tuple[int, ...],
                 activation: str = "tanh", normalize_obs: bool = False, log_std_init: float = 0.0,
                 action_mask: np.ndarray | None = None):
        """action_mask: multi-task envs' [tasks, actions] valid actions; the
        task is the argmax of the observation's last `tasks` entries (its
        one-hot task id) and other actions get no probability."""
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if not isinstance(obs_space, gym.spaces.Box):
            raise ValueError(f"actor-critic needs a Box observation space, got {obs_space}")
        obs_dim = int(np.prod(obs_space.shape))
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            out = int(action_space.n)
            self.dist: Any = Categorical
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            out = int(action_space.shape[0])
            self.dist = DiagGaussian
            self.log_std = nn.Parameter(torch.full((out,), float(log_std_init)))
        else:
            raise ValueError(f"actor-critic needs a Discrete or 1-d Box action space, got {action_space}")
        self.logit_bias: torch.Tensor | None = None
        if action_mask is not None:
            del self.logit_bias  # becomes a buffer, saved and published with the weights
            if not self.discrete or action_mask.shape[1] != out:
                raise ValueError(f"action_mask: expected [tasks, {out}] for {action_space}, got {action_mask.shape}")
            # A large finite negative, not -inf: masked actions then have
            # probability 0 and contribute 0 (not nan) to the entropy.
            self.register_buffer("logit_bias", torch.from_numpy(np.where(action_mask, 0.0, -1e9).astype(np.float32)))
        self.obs_norm = RunningNorm(tuple(obs_space.shape)) if normalize_obs else None
        sizes = [obs_dim, *hidden_sizes]
        self.policy = mlp([*sizes, out], activation, out_gain=0.01)
        self.value = mlp([*sizes, 1], activation, out_gain=1.0)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.float()
        if self.obs_norm is not None:
            obs = self.obs_norm(obs)
        return obs.flatten(1)

    def _policy_params(self, obs: torch.Tensor, out: torch.Tensor) -> Any:
        """The distribution's parameters from the policy MLP's output."""
        if not self.discrete:
            return out, self.log_std
        if self.logit_bias is not None:
            task = obs.flatten(1)[:, -self.logit_bias.shape[0]:].argmax(dim=1)
            out = out + self.logit_bias[task]
        return out

    def forward(self, obs: torch.Tensor) -> tuple[Any, torch.Tensor]:
        """(distribution parameters, values [B])."""
        x = self._features(obs)
        return self._policy_params(obs, self.policy(x)), self.value(x).squeeze(-1)

    @torch.no_grad()
    def forward_for_backprop(self, obs: torch.Tensor) -> tuple[Any, torch.Tensor, Any]:
        """forward(obs) without autograd, and a tape for backprop."""
        x = self._features(obs)
        policy, value = mlp_backprop.forward(self.policy, x), mlp_backprop.forward(self.value, x)
        return self._policy_params(obs, policy[-1]), value[-1].squeeze(-1), (policy, value)

    @torch.no_grad()
    def backprop(self, tape: Any, grad_params: Any, grad_values: torch.Tensor) -> None:
        """Sets every parameter's .grad to d loss / d parameter, given the
        loss's gradients with respect to forward_for_backprop's distribution
        parameters and values (see mlp_backprop for why not autograd)."""
        policy, value = tape
        if not self.discrete:
            grad_params, grad_log_std = grad_params
            if self.log_std.grad is None:
                self.log_std.grad = torch.empty_like(self.log_std)
            self.log_std.grad.copy_(grad_log_std)
        # The logit bias is added to the policy MLP's output: its gradient passes through unchanged.
        mlp_backprop.backward(self.policy, policy, grad_params)
        mlp_backprop.backward(self.value, value, grad_values.unsqueeze(-1))

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(self._features(obs)).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled (actions, log-probabilities, values) for a batch of observations."""
        params, values = self(obs)
        actions, log_probs = self.dist.sample(params, generator)
        return actions, log_probs, values

    @torch.no_grad()
    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        """The most likely action (argmax, or the Gaussian's mean)."""
        return self.dist.mode(self._policy_params(obs, self.policy(self._features(obs))))


def make_actor_critic(config: Any, obs_space: gym.Space, action_space: gym.Space) -> ActorCritic:
    """The network an actor-critic config describes (PPO's options where it has them)."""
    return ActorCritic(obs_space, action_space, config.hidden_sizes, config.activation,
                       getattr(config, "normalize_obs", False), getattr(config, "log_std_init", 0.0),
                       action_mask_of(config.env))


def greedy_actions(net: ActorCritic, action_space: gym.Space, obs: np.ndarray) -> np.ndarray:
    """The net's most likely actions, inside the action space's bounds."""
    action = net.greedy(torch.as_tensor(obs, device=next(net.parameters()).device)).cpu().numpy()
    if isinstance(action_space, gym.spaces.Box):
        action = np.clip(action, action_space.low, action_space.high)
    return action
