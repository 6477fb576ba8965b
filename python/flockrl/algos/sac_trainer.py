"""SAC on the off-policy runtime (flockrl.algos.offpolicy_trainer): actors
sample actions from their copy of the squashed-Gaussian actor (uniformly
at random until learning_starts), the learner updates from the replay."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous_trainer import ContinuousTrainer, ExploringPolicy
from flockrl.algos.offpolicy_trainer import Acting
from flockrl.algos.sac import SACConfig, SACLearner, make_sac_actor
from flockrl.nets.continuous import SquashedGaussianActor


class SquashedGaussianPolicy(ExploringPolicy):
    """tanh(mean + std_scale * std * noise): the policy's own sampling, its
    spread scaled per actor."""

    def __init__(self, module: SquashedGaussianActor, action_space: gym.spaces.Box, random_until: int,
                 rng: np.random.Generator, std_scale: float = 1.0):
        super().__init__(module, action_space, random_until, rng)
        self.std_scale = std_scale

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        mean, log_std = self.module(obs)
        return torch.tanh(mean + log_std.exp() * self.noise(obs, self.std_scale))


class SACTrainer(ContinuousTrainer):
    """One training run of SAC."""

    algo = "sac"
    stat_columns = ("critic_loss", "actor_loss", "ent_coef")

    make_actor = staticmethod(make_sac_actor)

    def make_learner(self) -> SACLearner:
        return SACLearner(self.config, self.obs_space, self.action_space, self.device)

    @staticmethod
    def acting(config: SACConfig, obs_space: gym.Space, action_space: gym.Space, index: int,
               rng: np.random.Generator) -> Acting:
        net = make_sac_actor(config, obs_space, action_space)
        return net, SquashedGaussianPolicy(net, action_space, config.learning_starts, rng,
                                           config.actor_noise_scale(index)), None
