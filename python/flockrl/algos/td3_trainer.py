"""TD3 on the off-policy runtime (flockrl.algos.offpolicy_trainer): actors
add Gaussian noise to their copy of the deterministic actor's action, each
its own scale (uniformly random actions until learning_starts); the
learner updates from the replay."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous_trainer import ContinuousTrainer, ExploringPolicy
from flockrl.algos.offpolicy_trainer import Acting
from flockrl.algos.td3 import TD3Config, TD3Learner, make_td3_actor
from flockrl.nets.continuous import DeterministicActor


class GaussianNoisePolicy(ExploringPolicy):
    """clip(actor(obs) + N(0, noise_std), -1, 1), as SB3's NormalActionNoise."""

    def __init__(self, module: DeterministicActor, action_space: gym.spaces.Box, noise_std: float,
                 random_until: int, rng: np.random.Generator):
        super().__init__(module, action_space, random_until, rng)
        self.noise_std = noise_std

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        return (self.module(obs) + self.noise(obs, self.noise_std)).clamp(-1.0, 1.0)


class TD3Trainer(ContinuousTrainer):
    """One training run of TD3."""

    algo = "td3"
    stat_columns = ("critic_loss", "actor_loss")

    make_actor = staticmethod(make_td3_actor)

    def make_learner(self) -> TD3Learner:
        return TD3Learner(self.config, self.obs_space, self.action_space, self.device)

    @staticmethod
    def acting(config: TD3Config, obs_space: gym.Space, action_space: gym.Space, index: int,
               rng: np.random.Generator) -> Acting:
        net = make_td3_actor(config, obs_space, action_space)
        std = config.exploration_noise * config.actor_noise_scale(index)
        return net, GaussianNoisePolicy(net, action_space, std, config.learning_starts, rng), None
