"""n-step transitions from batched single steps (one accumulator per actor).

For env e at step t, with horizon m = min(n, steps left in its episode):

    reward   = sum_{k<m} gamma^k r_{t+k}
    next_obs = the observation after step t+m-1
    discount = 0 if the episode terminated at step t+m-1, else gamma^m

so the TD target is ``reward + discount * V(next_obs)``: no bootstrapping
across a terminal state, bootstrapping through a truncation (a time limit).
Vectorised over envs with NumPy: a push costs a few array operations
whatever the number of envs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class NStepAccumulator:
    """Accumulates ``push``-ed steps of ``num_envs`` envs and returns the
    n-step transitions that became complete.

    Args:
        n: the number of steps summed (1 gives ordinary one-step transitions).
        gamma: the discount.
        num_envs: envs stepped together (the leading dimension of every push).

    With a NEXT_STEP-autoreset vector env, the step right after an episode
    ends is a reset (its action is ignored): pass ``valid=False`` for those
    envs so the step is not recorded. With SAME_STEP autoreset, pass
    ``infos["final_obs"]`` as ``next_obs``.
    """

    def __init__(self, n: int, gamma: float, num_envs: int) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: expected an int >= 1, got {n!r}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma: expected a number in [0, 1], got {gamma!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs: expected an int >= 1, got {num_envs!r}")
        self.n, self.gamma, self.num_envs = int(n), float(gamma), int(num_envs)
        self._powers = self.gamma ** np.arange(self.n + 1)  # gamma^0 .. gamma^n
        self._obs: np.ndarray | None = None  # (n, num_envs, *obs_shape), allocated on the first push
        self._act: np.ndarray | None = None
        self._rew = np.zeros((self.n, self.num_envs))
        self._start = np.zeros(self.num_envs, dtype=np.int64)  # ring start per env
        self._count = np.zeros(self.num_envs, dtype=np.int64)  # pending steps per env

    def pending(self) -> int:
        """Steps held back, waiting for their n-step horizon."""
        return int(self._count.sum())

    def clear(self) -> None:
        """Drop every pending step (e.g. after an external reset of all envs)."""
        self._start[:] = 0
        self._count[:] = 0

    def push(
        self,
        obs: Any,
        action: Any,
        reward: Any,
        next_obs: Any,
        terminated: Any,
        truncated: Any,
        valid: Any = None,
    ) -> dict[str, np.ndarray]:
        """Record one step of every env; returns the completed transitions as
        arrays ``obs, action, reward, next_obs, discount`` and ``env`` (the
        index of the env each came from), possibly empty."""
        obs, action, next_obs = np.asarray(obs), np.asarray(action), np.asarray(next_obs)
        reward = np.asarray(reward, dtype=np.float64)
        terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
        valid = np.ones(self.num_envs, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        e = self.num_envs
        for name, a in (("reward", reward), ("terminated", terminated), ("truncated", truncated), ("valid", valid)):
            if a.shape != (e,):
                raise ValueError(f"{name}: expected shape ({e},), got {a.shape}")
        if obs.shape[:1] != (e,) or next_obs.shape != obs.shape or action.shape[:1] != (e,):
            raise ValueError(
                f"obs, next_obs and action: expected a leading dimension of {e} and matching obs shapes, "
                f"got {obs.shape}, {next_obs.shape} and {action.shape}"
            )
        if self._obs is None:
            self._obs = np.zeros((self.n, *obs.shape), dtype=obs.dtype)
            self._act = np.zeros((self.n, *action.shape), dtype=action.dtype)
        elif obs.shape != self._obs.shape[1:] or action.shape != self._act.shape[1:]:
            raise ValueError(
                f"obs/action: expected shapes {self._obs.shape[1:]} and {self._act.shape[1:]} as in earlier pushes, "
                f"got {obs.shape} and {action.shape}"
            )
        for name, a, kept in (("obs", obs, self._obs), ("next_obs", next_obs, self._obs), ("action", action, self._act)):
            if not np.can_cast(a.dtype, kept.dtype, "same_kind"):  # e.g. floats into the ints of a first push
                raise TypeError(f"{name}: expected dtype {kept.dtype.name} as in the first push, got {a.dtype.name}")

        envs = np.flatnonzero(valid)
        slot = (self._start[envs] + self._count[envs]) % self.n
        self._obs[slot, envs] = obs[envs]
        self._act[slot, envs] = action[envs]
        self._rew[slot, envs] = reward[envs]
        self._count[envs] += 1

        ended = valid & (terminated | truncated)
        full = valid & ~ended & (self._count == self.n)
        parts = []
        if full.any():
            f = np.flatnonzero(full)
            parts.append(self._windows(f, np.zeros(len(f), dtype=np.int64), self._count[f], next_obs, None))
            self._start[f] = (self._start[f] + 1) % self.n
            self._count[f] -= 1
        if ended.any():
            d = np.flatnonzero(ended)
            # Every pending window of an ended env: offset j, horizon count - j.
            offsets = np.arange(self.n)
            env_idx, j = np.nonzero(offsets[None, :] < self._count[d][:, None])
            ended_envs = d[env_idx]
            parts.append(self._windows(ended_envs, j, self._count[ended_envs], next_obs, terminated))
            self._start[d] = 0
            self._count[d] = 0
        if not parts:
            return self._empty(obs, action)
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _windows(self, envs, offsets, counts, next_obs, terminated):
        """Transitions starting `offsets` steps into each env's ring and running
        to its end (horizon counts - offsets)."""
        horizon = counts - offsets
        k = np.arange(self.n)
        slots = (self._start[envs][:, None] + offsets[:, None] + k[None, :]) % self.n
        in_window = k[None, :] < horizon[:, None]
        rewards = self._rew[slots, envs[:, None]]
        returns = np.sum(np.where(in_window, rewards * self._powers[None, : self.n], 0.0), axis=1)
        first = (self._start[envs] + offsets) % self.n
        discount = self._powers[horizon]
        if terminated is not None:
            discount = np.where(terminated[envs], 0.0, discount)
        return {
            "obs": self._obs[first, envs],
            "action": self._act[first, envs],
            "reward": returns,
            "next_obs": next_obs[envs],
            "discount": discount,
            "env": envs,
        }

    def _empty(self, obs, action):
        return {
            "obs": np.zeros((0, *obs.shape[1:]), dtype=obs.dtype),
            "action": np.zeros((0, *action.shape[1:]), dtype=action.dtype),
            "reward": np.zeros(0),
            "next_obs": np.zeros((0, *obs.shape[1:]), dtype=obs.dtype),
            "discount": np.zeros(0),
            "env": np.zeros(0, dtype=np.int64),
        }
