"""TD3 on the off-policy runtime (flockrl.algos.offpolicy_trainer): actors
add Gaussian noise to their copy of the deterministic actor's action, each
its own scale (uniformly random actions until learning_starts); the
learner updates from the replay."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ActionScale
from flockrl.algos.continuous_trainer import ContinuousTrainer
from flockrl.algos.offpolicy_trainer import Acting
from flockrl.algos.td3 import TD3Config, TD3Learner, make_td3_actor
from flockrl.nets.continuous import DeterministicActor


class GaussianNoisePolicy:
    """clip(actor(obs) + N(0, noise_std), -1, 1) in the env's bounds (SB3's
    NormalActionNoise), the noise from the actor's own generator; uniform
    in the bounds before `random_until` env steps."""

    def __init__(self, module: DeterministicActor, action_space: gym.spaces.Box, noise_std: float,
                 random_until: int, rng: np.random.Generator):
        self.module, self.scale, self.noise_std = module, ActionScale(action_space), noise_std
        self.random_until, self.rng, self.act_dim = random_until, rng, action_space.shape[0]

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, env_steps: int) -> np.ndarray:
        shape = (len(obs), self.act_dim)
        if env_steps < self.random_until:
            action = torch.as_tensor(self.rng.uniform(-1.0, 1.0, shape), dtype=torch.float32)
        else:
            action = self.module(torch.as_tensor(obs, dtype=torch.float32).flatten(1))
            noise = torch.as_tensor(self.rng.normal(0.0, self.noise_std, shape), dtype=torch.float32)
            action = (action + noise).clamp(-1.0, 1.0)
        return self.scale.to_env(action).numpy()


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
