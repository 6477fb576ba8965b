"""What SAC's and TD3's trainers share on the off-policy runtime: the
spaces they accept, the learner's threads, greedy actions, and a greedy
policy loaded from a checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ActionScale, ContinuousConfig, continuous_spaces
from flockrl.algos.offpolicy_trainer import OffPolicyTrainer
from flockrl.envs import default_num_threads


class ExploringPolicy:
    """An actor's policy: uniformly random actions in the env's bounds for
    the first `random_until` env steps (SB3's learning_starts), then
    explore(obs) (subclasses: [-1, 1] actions of `module`), mapped to the
    bounds. The noise comes from the actor's own generator."""

    def __init__(self, module: torch.nn.Module, action_space: gym.spaces.Box, random_until: int,
                 rng: np.random.Generator):
        self.module, self.scale, self.random_until, self.rng = module, ActionScale(action_space), random_until, rng
        self.act_dim = action_space.shape[0]

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, env_steps: int) -> np.ndarray:
        if env_steps < self.random_until:
            action = torch.as_tensor(self.rng.uniform(-1.0, 1.0, (len(obs), self.act_dim)), dtype=torch.float32)
        else:
            action = self.explore(torch.as_tensor(obs, dtype=torch.float32).flatten(1))
        return self.scale.to_env(action).numpy()

    def noise(self, obs: torch.Tensor, std: float) -> torch.Tensor:
        return torch.as_tensor(self.rng.normal(0.0, std, (len(obs), self.act_dim)), dtype=torch.float32)


class ContinuousTrainer(OffPolicyTrainer):
    """An OffPolicyTrainer for bounded continuous actions; subclasses supply
    make_learner, acting and make_actor (the actor network of a config)."""

    @classmethod
    def spaces(cls, config: ContinuousConfig) -> tuple[gym.spaces.Box, gym.spaces.Box]:
        return continuous_spaces(config, cls.algo.upper())

    @staticmethod
    def make_actor(config: Any, obs_space: gym.spaces.Box, action_space: gym.spaces.Box) -> torch.nn.Module:
        raise NotImplementedError

    def torch_threads(self) -> int:
        """Every core for the learner: its 256-wide matrix products are the
        run's cost, and actors of one small MLP forward per step barely
        compete (SAC on Pendulum: 7.4 -> 4.8 ms an update on 2 cores)."""
        return default_num_threads()

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        return self.learner.greedy_action(torch.as_tensor(obs, device=self.device)).cpu().numpy()

    @classmethod
    def greedy_policy(cls, config: ContinuousConfig, actor_state: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
        """The deterministic action function (CPU) of an actor's saved weights."""
        obs_space, action_space = cls.spaces(config)
        actor = cls.make_actor(config, obs_space, action_space)
        actor.load_state_dict(actor_state)
        scale = ActionScale(action_space)

        @torch.no_grad()
        def act(obs: np.ndarray) -> np.ndarray:
            return scale.to_env(actor.deterministic(torch.as_tensor(obs, dtype=torch.float32).flatten(1))).numpy()

        return act
