"""SAC on the off-policy runtime (flockrl.algos.offpolicy_trainer): actors
sample actions from their copy of the squashed-Gaussian actor (uniformly
at random until learning_starts), the learner updates from the replay."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ActionScale, continuous_spaces
from flockrl.algos.offpolicy_trainer import Acting, OffPolicyTrainer
from flockrl.algos.sac import SACConfig, SACLearner, make_sac_actor
from flockrl.nets.continuous import SquashedGaussianActor


class SquashedGaussianPolicy:
    """Actions tanh(mean + std * noise) in the env's bounds, the noise from
    the actor's own generator; uniform in the bounds before
    `random_until` env steps (SB3's learning_starts)."""

    def __init__(self, module: SquashedGaussianActor, action_space: gym.spaces.Box, random_until: int,
                 rng: np.random.Generator):
        self.module, self.scale, self.random_until, self.rng = module, ActionScale(action_space), random_until, rng
        self.act_dim = action_space.shape[0]

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, env_steps: int) -> np.ndarray:
        shape = (len(obs), self.act_dim)
        if env_steps < self.random_until:
            action = torch.as_tensor(self.rng.uniform(-1.0, 1.0, shape), dtype=torch.float32)
        else:
            mean, log_std = self.module(torch.as_tensor(obs, dtype=torch.float32).flatten(1))
            noise = torch.as_tensor(self.rng.standard_normal(shape), dtype=torch.float32)
            action = torch.tanh(mean + log_std.exp() * noise)
        return self.scale.to_env(action).numpy()


def greedy_policy(config: SACConfig, actor_state: dict[str, Any]) -> Any:
    """The mean-action function (CPU) of a SAC actor's saved weights."""
    obs_space, action_space = SACTrainer.spaces(config)
    actor = make_sac_actor(config, obs_space, action_space)
    actor.load_state_dict(actor_state)
    scale = ActionScale(action_space)

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        return scale.to_env(actor.deterministic(torch.as_tensor(obs, dtype=torch.float32).flatten(1))).numpy()

    return act


class SACTrainer(OffPolicyTrainer):
    """One training run of SAC."""

    algo = "sac"
    stat_columns = ("critic_loss", "actor_loss", "ent_coef")

    @staticmethod
    def spaces(config: SACConfig) -> tuple[gym.spaces.Box, gym.spaces.Box]:
        return continuous_spaces(config, "SAC")

    def make_learner(self) -> SACLearner:
        return SACLearner(self.config, self.obs_space, self.action_space, self.device)

    @staticmethod
    def acting(config: SACConfig, obs_space: gym.Space, action_space: gym.Space, index: int,
               rng: np.random.Generator) -> Acting:
        net = make_sac_actor(config, obs_space, action_space)
        return net, SquashedGaussianPolicy(net, action_space, config.learning_starts, rng), None

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        return self.learner.greedy_action(torch.as_tensor(obs, device=self.device)).cpu().numpy()
