"""The actor-critic network of the policy-gradient methods (PPO, A3C,
IMPALA): for vector observations, separate policy and value MLPs over
(optionally normalised) observations; for images, one CNN trunk (Nature or
IMPALA's) with a policy and a value head on its features, as CleanRL's
Atari agents. A categorical head for Discrete actions and a diagonal
Gaussian with state-independent log-std for Box actions."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from flockrl.algos.distributions import Categorical, DiagGaussian
from flockrl.algos.running_norm import RunningNorm
from flockrl.envs import action_mask_of
from flockrl.nets import make_cnn, resolve_network
from flockrl.nets import mlp as mlp_backprop
from flockrl.nets.mlp import ACTIVATIONS, mlp


class ActorCritic(nn.Module):
    def __init__(self, obs_space: gym.spaces.Box, action_space: gym.spaces.Space, hidden_sizes: tuple[int, ...],
                 activation: str = "tanh", normalize_obs: bool = False, log_std_init: float = 0.0,
                 action_mask: np.ndarray | None = None, network: str = "auto"):
        """action_mask: multi-task envs' [tasks, actions] valid actions; the
        task is the argmax of the observation's last `tasks` entries (its
        one-hot task id) and other actions get no probability. network:
        flockrl.nets' choice of encoder (hidden_sizes and activation shape
        the MLPs only)."""
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
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
        self.network = resolve_network(network, obs_space)
        self.trunk: nn.Module | None = None  # a CNN shared by both heads
        if self.network == "mlp":
            sizes = [obs_dim, *hidden_sizes]
        else:
            if normalize_obs:
                raise ValueError("normalize_obs: running normalisation is for vector observations; images are "
                                 "scaled by 1/255 in the network (set normalize_obs false)")
            self.trunk = make_cnn(self.network, obs_space)
            sizes = [self.trunk.features]
        self.obs_norm = RunningNorm(tuple(obs_space.shape)) if normalize_obs else None
        self.policy = mlp([*sizes, out], activation, out_gain=0.01)
        self.value = mlp([*sizes, 1], activation, out_gain=1.0)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        if self.trunk is not None:
            return self.trunk(obs)
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

    def forward_for_backprop(self, obs: torch.Tensor, autocast: Callable[[], AbstractContextManager[Any]] = nullcontext
                             ) -> tuple[Any, torch.Tensor, Any]:
        """forward(obs) and a tape for backprop: the MLPs' activations, or
        (a CNN's) autograd's graph of the heads' outputs, computed in
        `autocast`'s precision (flockrl.algos.precision) and returned in float32."""
        if self.trunk is not None:
            with torch.enable_grad():
                with autocast():
                    x = self.trunk(obs)
                    policy, value = self.policy(x), self.value(x)
                policy, value = policy.float(), value.float()
            with torch.no_grad():
                return self._policy_params(obs, policy), value.squeeze(-1), (policy, value)
        with torch.no_grad():
            x = self._features(obs)
            policy, value = mlp_backprop.forward(self.policy, x), mlp_backprop.forward(self.value, x)
            return self._policy_params(obs, policy[-1]), value[-1].squeeze(-1), (policy, value)

    @torch.no_grad()
    def backprop(self, tape: Any, grad_params: Any, grad_values: torch.Tensor) -> None:
        """Sets every parameter's .grad to d loss / d parameter, given the
        loss's gradients with respect to forward_for_backprop's distribution
        parameters and values. MLPs by hand (see flockrl.nets.mlp for why
        not autograd); a CNN's convolutions by autograd, which accumulates
        into the gradients (zero them first)."""
        policy, value = tape
        if self.trunk is not None:
            if not self.discrete:
                grad_params, grad_log_std = grad_params
                if self.log_std.grad is None:
                    self.log_std.grad = torch.zeros_like(self.log_std)
                self.log_std.grad += grad_log_std
            with torch.enable_grad():
                torch.autograd.backward([policy, value], [grad_params, grad_values.unsqueeze(-1)])
            return
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
                       action_mask_of(config.env), config.network)


def greedy_actions(net: ActorCritic, action_space: gym.Space, obs: np.ndarray) -> np.ndarray:
    """The net's most likely actions, inside the action space's bounds."""
    action = net.greedy(torch.as_tensor(obs, device=next(net.parameters()).device)).cpu().numpy()
    if isinstance(action_space, gym.spaces.Box):
        action = np.clip(action, action_space.low, action_space.high)
    return action
