"""Several envs as one vector env, for training one policy on many tasks.

``make_vec("CartPole-v1+Acrobot-v1+MountainCar-v0", num_envs)`` interleaves
the tasks over the envs (env i runs task i % k). Observations are
flattened, zero-padded to the widest task and followed by a one-hot task
id; actions are Discrete(most actions of any task), and ``action_mask`` ([k, n], True where a task has that action) lets
the policy mask the others out. Episode returns stay per task: the runtime
reports them separately (``task_of_env``, ``task_names``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Box, Discrete
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

SEPARATOR = "+"


def is_multitask(env_id: str) -> bool:
    return SEPARATOR in env_id


def task_names(env_id: str) -> list[str]:
    return env_id.split(SEPARATOR) if is_multitask(env_id) else [env_id]


def task_env_counts(num_envs: int, tasks: int) -> list[int]:
    """How many of `num_envs` envs run each task (env i runs task i % tasks)."""
    if num_envs < tasks:
        raise ValueError(f"num_envs: expected at least one env per task ({tasks}), got {num_envs}")
    return [len(range(t, num_envs, tasks)) for t in range(tasks)]


class MultiTaskVecEnv(VectorEnv):
    def __init__(self, env_ids: list[str], envs: list[VectorEnv],
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP):
        """envs[t]: the vector env of task env_ids[t], with
        task_env_counts(num_envs, tasks)[t] envs (flockrl.make_vec builds them)."""
        if len(env_ids) < 2 or len(set(env_ids)) != len(env_ids):
            raise ValueError(f"multi-task env: expected two or more different env ids, got {env_ids}")
        num_envs = sum(env.num_envs for env in envs)
        if [env.num_envs for env in envs] != task_env_counts(num_envs, len(env_ids)):
            raise ValueError(f"multi-task env: expected {task_env_counts(num_envs, len(env_ids))} envs per task, "
                             f"got {[env.num_envs for env in envs]}")
        self.task_names = list(env_ids)
        self.num_envs = num_envs
        self.task_of_env = np.arange(num_envs) % len(env_ids)
        self._index = [np.flatnonzero(self.task_of_env == t) for t in range(len(env_ids))]
        self.envs = envs
        for env_id, env in zip(env_ids, self.envs):
            if not isinstance(env.single_action_space, Discrete) or not isinstance(env.single_observation_space, Box):
                raise ValueError(f"multi-task env: {env_id} has {env.single_action_space}; expected Box "
                                 "observations and Discrete actions in every task")
            if env.single_observation_space.dtype.kind != "f":
                raise ValueError(f"multi-task env: {env_id} has {env.single_observation_space.dtype} observations; "
                                 "expected float vectors in every task (images are not padded into one)")
        self._widths = [int(np.prod(env.single_observation_space.shape)) for env in self.envs]
        self._width = max(self._widths)
        counts = [int(env.single_action_space.n) for env in self.envs]
        self.action_mask = np.zeros((len(env_ids), max(counts)), dtype=bool)
        for t, n in enumerate(counts):
            self.action_mask[t, :n] = True
        self.single_observation_space = Box(-np.inf, np.inf, (self._width + len(env_ids),), np.float32)
        self.single_action_space = Discrete(max(counts))
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode(autoreset_mode), "render_modes": []}
        self.render_mode = None
        self.closed = False

    def _pad(self, task: int, obs: np.ndarray, out: np.ndarray) -> None:
        idx = self._index[task]
        out[idx, :self._widths[task]] = obs.reshape(len(idx), -1)
        out[idx, self._width + task] = 1.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        if options:
            raise ValueError(f"options: the multi-task env takes none, got {sorted(options)}")
        obs = np.zeros((self.num_envs, self.single_observation_space.shape[0]), dtype=np.float32)
        for t, env in enumerate(self.envs):
            self._pad(t, env.reset(seed=None if seed is None else seed + 1000 * t)[0], obs)
        return obs, {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions: expected shape ({self.num_envs},), got {actions.shape}")
        n = self.num_envs
        obs = np.zeros((n, self.single_observation_space.shape[0]), dtype=np.float32)
        rewards, terminated, truncated = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        final_obs, has_final = np.zeros_like(obs), np.zeros(n, dtype=bool)
        for t, env in enumerate(self.envs):
            idx = self._index[t]
            sub = actions[idx]
            bad = ~self.action_mask[t][np.clip(sub, 0, self.action_mask.shape[1] - 1)] | (sub < 0)
            if bad.any():
                raise ValueError(f"actions: {self.task_names[t]} has actions 0..{self.action_mask[t].sum() - 1}, "
                                 f"got {sub[bad][0]} for env {idx[bad][0]}")
            o, r, term, trunc, info = env.step(sub)
            self._pad(t, o, obs)
            rewards[idx], terminated[idx], truncated[idx] = r, term, trunc
            if "final_obs" in info:  # SAME_STEP autoreset: dense for native envs, objects for gymnasium's
                mask = info.get("_final_obs", term | trunc)
                for j in np.flatnonzero(mask):
                    final_obs[idx[j], :self._widths[t]] = np.asarray(info["final_obs"][j]).reshape(-1)
                    final_obs[idx[j], self._width + t] = 1.0
                has_final[idx[mask]] = True
        infos: dict[str, Any] = {"final_obs": final_obs, "_final_obs": has_final} if has_final.any() else {}
        return obs, rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()
