"""SAC on the off-policy runtime (flockrl.algos.offpolicy_trainer): actors
sample actions from their copy of the squashed-Gaussian actor (uniformly
at random until learning_starts), the learner updates from the replay."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ActionScale
from flockrl.algos.continuous_trainer import ContinuousTrainer
from flockrl.algos.offpolicy_trainer import Acting
from flockrl.algos.sac import SACConfig, SACLearner, make_sac_actor
from flockrl.nets.continuous import SquashedGaussianActor


class SquashedGaussianPolicy:
    """Actions tanh(mean + std_scale * std * noise) in the env's bounds, the
    noise from the actor's own generator; uniform in the bounds before
    `random_until` env steps (SB3's learning_starts)."""

    def __init__(self, module: SquashedGaussianActor, action_space: gym.spaces.Box, random_until: int,
                 rng: np.random.Generator, std_scale: float = 1.0):
        self.module, self.scale, self.random_until, self.rng = module, ActionScale(action_space), random_until, rng
        self.act_dim, self.std_scale = action_space.shape[0], std_scale

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, env_steps: int) -> np.ndarray:
        shape = (len(obs), self.act_dim)
        if env_steps < self.random_until:
            action = torch.as_tensor(self.rng.uniform(-1.0, 1.0, shape), dtype=torch.float32)
        else:
            mean, log_std = self.module(torch.as_tensor(obs, dtype=torch.float32).flatten(1))
            noise = torch.as_tensor(self.rng.standard_normal(shape), dtype=torch.float32)
            action = torch.tanh(mean + self.std_scale * log_std.exp() * noise)
        return self.scale.to_env(action).numpy()


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
