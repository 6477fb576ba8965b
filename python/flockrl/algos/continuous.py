"""What SAC and TD3 share: their config fields, the map between the env's
action bounds and the networks' [-1, 1], and the learners' checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.offpolicy_config import OffPolicyConfig
from flockrl.nets import is_image_space
from flockrl.runtime.training_run import env_spaces


@dataclass
class ContinuousConfig(OffPolicyConfig):
    """Fields of SAC and TD3; defaults are SB3's (rl-zoo's Pendulum-v1 values where they differ)."""

    env: str = "Pendulum-v1"
    """Environment id with a bounded Box action space: a native id (Pendulum-v1, MountainCarContinuous-v0) or any gymnasium id."""
    envs_per_actor: int = 1
    lr: float = 1e-3
    n_step: int = 1
    batch_size: int = 256
    buffer_size: int = 1_000_000
    learning_starts: int = 100
    """Transitions in the buffer before the learner starts; until then actors act uniformly at random."""
    samples_per_insert: float = 256.0
    tau: float = 0.005
    publish_interval: int = 4

    def validate(self) -> None:
        super().validate()
        if self.network not in ("auto", "mlp"):
            raise ValueError(f"config network: SAC and TD3 take vector observations (mlp), got {self.network!r}")


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
    if not bool(torch.isfinite(tensor).all()):
        raise FloatingPointError(f"{name}: the weights became NaN or infinite after {updates} updates; "
                                 "the last checkpoint in the run directory is from before. Lower lr, "
                                 "or check the env's rewards and observations for NaN or huge values")
