"""DQN and Ape-X on the off-policy runtime (flockrl.algos.offpolicy_trainer):
epsilon-greedy actors, and for Ape-X fixed per-actor epsilons and initial
priorities computed by the actors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.dqn import ApexConfig, DQNConfig, DQNLearner, make_q_network
from flockrl.algos.offpolicy_trainer import Acting, OffPolicyTrainer
from flockrl.runtime.actor import EpsilonGreedy
from flockrl.runtime.training_run import env_spaces


@torch.no_grad()
def initial_priorities(net: torch.nn.Module, tr: dict[str, np.ndarray]) -> np.ndarray:
    """Ape-X actors' priorities: |n-step TD error| under the actor's own copy
    of the network, |R + discount * max_a Q(s', a) - Q(s, a)|."""
    q = net(torch.as_tensor(tr["obs"])).gather(1, torch.as_tensor(tr["action"])[:, None]).squeeze(1)
    next_value = net(torch.as_tensor(tr["next_obs"])).max(dim=1).values
    target = torch.as_tensor(tr["reward"]) + torch.as_tensor(tr["discount"]) * next_value
    return (target - q).abs().double().numpy()


def greedy_policy(config: DQNConfig, online_state: dict[str, Any]) -> Any:
    """The greedy action function (CPU) of a Q-network's saved weights."""
    obs_space, act_space = DQNTrainer.spaces(config)
    net = make_q_network(config, obs_space, int(act_space.n))
    net.load_state_dict(online_state)

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        return net(torch.as_tensor(obs)).argmax(dim=1).numpy()

    return act


class DQNTrainer(OffPolicyTrainer):
    """One training run of DQN, or of Ape-X when given an ApexConfig: then
    each actor explores with its own fixed epsilon and computes the initial
    priorities of what it adds; otherwise every actor follows the config's
    decaying epsilon and new items enter at the maximum priority."""

    stat_columns = ("loss",)

    def __init__(self, config: DQNConfig, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        """resume: continue the run whose checkpoint is in run_dir (ValueError
        if it is missing, corrupt or from another algorithm or network)."""
        self.algo = "apex" if isinstance(config, ApexConfig) else "dqn"  # the checkpoint's name, before resuming
        super().__init__(config, run_dir, log, resume)
        self.config: DQNConfig = config

    @staticmethod
    def spaces(config: DQNConfig) -> tuple[gym.spaces.Box, gym.spaces.Discrete]:
        """The observation and action spaces; DQN needs discrete actions."""
        obs_space, act_space = env_spaces(config.env, config.env_kwarg_values())
        if not isinstance(act_space, gym.spaces.Discrete):
            raise ValueError(f"{config.env}: DQN needs a Discrete action space, got {act_space}; "
                             "for continuous actions use sac, td3 or ppo")
        if not isinstance(obs_space, gym.spaces.Box):
            raise ValueError(f"{config.env}: DQN needs a Box observation space, got {obs_space}")
        return obs_space, act_space

    def make_learner(self) -> DQNLearner:
        return DQNLearner(self.config, self.obs_space, int(self.action_space.n), self.device)

    @staticmethod
    def acting(config: DQNConfig, obs_space: gym.Space, action_space: gym.Space, index: int,
               rng: np.random.Generator) -> Acting:
        num_actions = int(action_space.n)
        net = make_q_network(config, obs_space, num_actions)
        if isinstance(config, ApexConfig):
            fixed = config.actor_epsilons()[index]
            return (net, EpsilonGreedy(net, num_actions, lambda _: fixed, rng),
                    lambda tr: initial_priorities(net, tr))
        return net, EpsilonGreedy(net, num_actions, config.epsilon, rng), None

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.learner.online(torch.as_tensor(obs, device=self.device)).argmax(dim=1).cpu().numpy()
