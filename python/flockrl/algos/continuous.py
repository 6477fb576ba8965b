"""What SAC and TD3 share: their config fields, the map between the env's
action bounds and the networks' [-1, 1], per-actor exploration scales,
and the learner's twin critics with their targets, optimizers and checks."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.offpolicy_config import OffPolicyConfig
from flockrl.algos.optim import FlatAdam
from flockrl.algos.precision import mlp_autocast
from flockrl.flat_params import FlatParameters
from flockrl.nets import is_image_space
from flockrl.nets.continuous import TwinQ
from flockrl.runtime.training_run import env_spaces


@dataclass
class ContinuousConfig(OffPolicyConfig):
    """Fields of SAC and TD3; defaults are SB3's (rl-zoo's Pendulum-v1 values where they differ) but for
    3-step returns (n_step, as flockrl's DQN): on Pendulum-v1 SAC is solved at a median 2k env steps
    instead of 3k and TD3 after 2k learning steps instead of 5k (5 seeds each, README's Benchmarks);
    the rl-zoo presets of other envs keep one-step targets."""

    env: str = "Pendulum-v1"
    """Environment id with a bounded Box action space: a native id (Pendulum-v1, MountainCarContinuous-v0) or any gymnasium id."""
    envs_per_actor: int = 1
    lr: float = 1e-3
    batch_size: int = 256
    buffer_size: int = 1_000_000
    learning_starts: int = 100
    """Transitions in the buffer before the learner starts; until then actors act uniformly at random."""
    samples_per_insert: float = 256.0
    tau: float = 0.005
    publish_interval: int = 4
    noise_spread: float = 2.0
    """Per-actor exploration, Ape-X style: actor i of N scales its exploration noise (TD3) or policy std (SAC) by noise_spread ** (2i/(N-1) - 1), from 1/spread to spread (1: all alike; one actor: unscaled)."""

    def validate(self) -> None:
        super().validate()
        self.check_range("noise_spread", 1, None)
        if self.network not in ("auto", "mlp"):
            raise ValueError(f"config network: SAC and TD3 take vector observations (mlp), got {self.network!r}")

    def actor_noise_scale(self, index: int) -> float:
        """Actor `index`'s exploration scale (see noise_spread)."""
        if self.num_actors == 1:
            return 1.0
        return float(self.noise_spread ** (2.0 * index / (self.num_actors - 1) - 1.0))


def one_step_targets(presets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """rl-zoo's presets with rl-zoo's one-step targets (n_step 1) where a preset does not set n_step."""
    return {env: {"n_step": 1, **values} for env, values in presets.items()}


def continuous_spaces(config: ContinuousConfig, algo: str) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    """The env's observation and action spaces: vectors, and bounded
    continuous actions (else a ValueError naming what fits)."""
    obs_space, act_space = env_spaces(config.env, config.env_kwarg_values())
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1:
        raise ValueError(f"{config.env}: {algo} needs a continuous (Box) action vector, got {act_space}; "
                         "for discrete actions use dqn, apex, ppo, a3c or impala")
    if not (np.isfinite(act_space.low).all() and np.isfinite(act_space.high).all()):
        raise ValueError(f"{config.env}: {algo} needs finite action bounds (actions are squashed into them), "
                         f"got low {act_space.low} and high {act_space.high}")
    if not isinstance(obs_space, gym.spaces.Box) or is_image_space(obs_space):
        raise ValueError(f"{config.env}: {algo} needs vector observations (a Box), got {obs_space}")
    return obs_space, act_space


class ActionScale:
    """The affine map between [-1, 1] (the networks' actions) and the env's
    [low, high]."""

    def __init__(self, space: gym.spaces.Box, device: Any = "cpu"):
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.low, self.high = low.tolist(), high.tolist()
        self.center = torch.as_tensor((high + low) / 2, dtype=torch.float32, device=device)
        self.half = torch.as_tensor((high - low) / 2, dtype=torch.float32, device=device)

    def to_env(self, action: torch.Tensor) -> torch.Tensor:
        return self.center + self.half * action

    def from_env(self, action: torch.Tensor) -> torch.Tensor:
        return (action - self.center) / self.half


def check_finite(name: str, tensor: torch.Tensor, updates: int) -> None:
    """A FloatingPointError if the learner's weights have gone NaN or
    infinite: the run stops before publishing them (its last checkpoint,
    written earlier, stays good)."""
    # A sum is non-finite when an element is, and reading the weights once beats isfinite().all()'s
    # mask (~4x); the mask decides only when the sum says so (finite weights can overflow a sum).
    if not bool(torch.isfinite(tensor.sum())) and not bool(torch.isfinite(tensor).all()):
        raise FloatingPointError(f"{name}: the weights became NaN or infinite after {updates} updates; "
                                 "the last checkpoint in the run directory is from before. Lower lr, "
                                 "or check the env's rewards and observations for NaN or huge values")


class TwinCriticLearner:
    """What SAC's and TD3's learners share: the actor (given) and twin
    critics with target copies, each on flat parameters with its own Adam,
    the action map, the Polyak step, the finite-weights check and the
    checkpoint state. Subclasses add their update and extra state."""

    def __init__(self, config: ContinuousConfig, obs_space: gym.spaces.Box, action_space: gym.spaces.Box,
                 device: torch.device, actor: torch.nn.Module):
        self.config, self.device = config, device
        obs_dim, self.act_dim = int(np.prod(obs_space.shape)), action_space.shape[0]
        self.actor = actor.to(device)
        self.critic = TwinQ(obs_dim, self.act_dim, config.hidden_sizes).to(device)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor_flat, self.critic_flat = FlatParameters(self.actor), FlatParameters(self.critic)
        self.critic_target_flat = FlatParameters(self.critic_target)  # one lerp_ per Polyak update
        self.critic_target.requires_grad_(False)
        self.actor_opt = FlatAdam(self.actor_flat.param, config.lr)
        self.critic_opt = FlatAdam(self.critic_flat.param, config.lr)
        self.scale = ActionScale(action_space, device)
        self.autocast = mlp_autocast(config.learner_precision, device)  # the forward passes' arithmetic
        self.updates = 0

    @property
    def acting_net(self) -> torch.nn.Module:
        """The network actors act with (and the ParamStore carries)."""
        return self.actor

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """obs, next_obs (flat float32) and the action mapped into [-1, 1]
        (ValueError for actions outside the env's bounds, e.g. from a policy
        of one's own feeding the replay: the critics would learn values of
        actions the actor can never take)."""
        action = self.scale.from_env(batch["action"].float())
        if not bool((action.abs() <= 1.0 + 1e-5).all()):
            worst = batch["action"][action.abs().amax(dim=1).argmax()]
            raise ValueError(f"batch actions: expected actions within the env's bounds [{self.scale.low}, "
                             f"{self.scale.high}], got {worst.tolist()} among them; clip them before adding")
        return batch["obs"].flatten(1).float(), batch["next_obs"].flatten(1).float(), action

    def _critic_step(self, obs: torch.Tensor, action: torch.Tensor, target: torch.Tensor,
                     batch: dict[str, torch.Tensor], scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One Adam step of the critics on scale * mean(w * (td_1^2 + td_2^2)),
        td = Q_i(obs, action) - target and w the importance weights of
        prioritized replay (else 1). Returns (the loss, td [2, B])."""
        with self.autocast():
            tape = self.critic.forward_tape(obs, action)
        td = tape[-1].squeeze(2) - target
        weights = batch["weights"].float() if "weights" in batch else None
        grad = td * (2.0 * scale / td.shape[1])
        losses = td.square().sum(dim=0)
        if weights is not None:
            grad, losses = grad * weights, losses * weights
        with self.autocast():
            self.critic.backward(tape, grad)
        self.critic_opt.step()
        return scale * losses.mean(), td

    def _critic_action_grad(self, obs: torch.Tensor, action: torch.Tensor,
                            count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Of the actor's loss -mean(Q(obs, action)), Q the smaller of the
        two critics (count 2) or the first (count 1), the critics held
        fixed: (the mean Q, d loss / d action [B, |A|])."""
        with self.autocast():
            tape = self.critic.forward_tape(obs, action, count)
        q = tape[-1].squeeze(2)
        q_min, chosen = q.min(dim=0)
        grad = torch.zeros_like(q).scatter_(0, chosen.unsqueeze(0), -1.0 / q.shape[1])
        with self.autocast():
            grad_action = self.critic.action_grad(tape, grad)
        return q_min.mean(), grad_action

    @torch.no_grad()
    def _polyak(self, target: FlatParameters, online: FlatParameters) -> None:
        target.param.lerp_(online.param, self.config.tau)

    def _finish_update(self, td: torch.Tensor, out: dict[str, Any]) -> dict[str, Any]:
        """Counts the update, checks the weights before the trainer publishes
        them, adds the priorities (mean |TD error| of the two critics)."""
        self.updates += 1
        if self.updates % self.config.publish_interval == 0:
            check_finite(f"{type(self).__name__} actor", self.actor_flat.param, self.updates)
            check_finite(f"{type(self).__name__} critics", self.critic_flat.param, self.updates)
        if self.config.prioritized:
            out["priorities"] = td.detach().abs().mean(dim=0).cpu().numpy().astype(np.float64)
        return out

    @torch.no_grad()
    def greedy_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The actor's deterministic action, in the env's bounds."""
        return self.scale.to_env(self.actor.deterministic(obs.flatten(1).float()))

    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "critic_target": self.critic_target.state_dict(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.updates = int(state["updates"])
