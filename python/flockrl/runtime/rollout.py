"""On-policy acting: a RolloutWorker steps a vector env with an
ActorCritic for T steps at a time and returns the rollout as time-major
numpy arrays, ready for GAE or V-trace. Like Actor, it depends only on the
objects it is given, so it runs in a thread here and in a Ray actor later.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from flockrl.runtime.actor import true_next_obs
from flockrl.runtime.episodes import EpisodeTracker
from flockrl.runtime.metrics import Metrics

Rollout = dict[str, Any]
"""obs [T, N, *obs], action [T, N(, D)], log_prob, value, reward [T, N]
float32, done [T, N] bool, last_obs [N, *obs] and last_value [N] (of the
observation after the last step), version (of the weights that acted),
actor (index). A truncated step's reward includes gamma * V(final
obs), so `done` can stop bootstrapping for terminations and truncations alike."""


class RolloutWorker:
    def __init__(self, env: Any, net: Any, metrics: Metrics, *, gamma: float, seed: int | None = None,
                 index: int = 0):
        """env: a vector env in SAME_STEP autoreset mode; net: an ActorCritic
        (flockrl.algos.actor_critic) whose weights the caller refreshes."""
        if env.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError(f"env: expected autoreset_mode SAME_STEP, got {env.metadata.get('autoreset_mode')}")
        self.env, self.net, self.metrics, self.gamma, self.index = env, net, metrics, gamma, index
        space = env.single_action_space
        self._bounds = (space.low, space.high) if isinstance(space, gym.spaces.Box) else None
        self._action_shape, self._action_dtype = space.shape, (np.float32 if self._bounds else np.int64)
        self.generator = torch.Generator()
        self.generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ())))
        self.obs, _ = env.reset(seed=seed)
        self._episodes = EpisodeTracker(env)

    @torch.inference_mode()
    def collect(self, steps: int, version: int) -> Rollout:
        env, net, n = self.env, self.net, self.env.num_envs
        obs = np.empty((steps, n, *self.obs.shape[1:]), dtype=self.obs.dtype)
        actions = np.empty((steps, n, *self._action_shape), dtype=self._action_dtype)
        log_probs, values, rewards = (np.empty((steps, n), dtype=np.float32) for _ in range(3))
        dones = np.empty((steps, n), dtype=bool)
        for t in range(steps):
            obs[t] = self.obs
            action, log_prob, value = net.act(torch.from_numpy(self.obs), self.generator)
            actions[t], log_probs[t], values[t] = action.numpy(), log_prob.numpy(), value.numpy()
            # Gaussian samples are stored as drawn (their log-prob is of those); the env gets them clipped.
            to_env = actions[t] if self._bounds is None else np.clip(actions[t], *self._bounds)
            next_obs, reward, terminated, truncated, infos = env.step(to_env)
            done = terminated | truncated
            rewards[t], dones[t] = reward, done
            cut = truncated & ~terminated
            if cut.any():  # the episode did not end, it was cut: bootstrap its value
                final = true_next_obs(next_obs, infos, done)[cut]
                rewards[t, cut] += self.gamma * net.values(torch.from_numpy(final)).numpy()
            self._track_episodes(reward, terminated, truncated, infos)
            self.obs = next_obs
        last_value = net.values(torch.from_numpy(self.obs)).numpy()
        self.metrics.add_steps(steps * n, steps * n)
        return {"obs": obs, "action": actions, "log_prob": log_probs, "value": values, "reward": rewards,
                "done": dones, "last_obs": self.obs.copy(), "last_value": last_value, "version": version,
                "actor": self.index}

    def _track_episodes(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                        infos: dict[str, Any]) -> None:
        ended, returns, lengths = self._episodes.step(reward, terminated, truncated, infos)
        if ended.any():
            tasks = getattr(self.env, "task_of_env", None)  # multi-task envs
            self.metrics.add_episodes(returns, lengths, None if tasks is None else tasks[ended])
