"""Stable-Baselines3 on flockrl's native envs (``pip install "flockrl[sb3]"``).

``sb3_vec_env(env_id, num_envs, seed)`` is an SB3 ``VecEnv`` stepping the
native C++ envs, with SB3's conventions as DummyVecEnv over Monitor-wrapped
gymnasium envs has them, so SB3's algorithms, logger and ``ep_info_buffer``
work unchanged:

* ``reset()`` returns the observations only; seeds from ``seed()`` (env i:
  seed + i) apply at the next reset, as in every SB3 VecEnv;
* an env that ends resets in the same step: ``infos[i]["terminal_observation"]``
  is its last observation, ``infos[i]["TimeLimit.truncated"]`` says it was cut
  off by the time limit rather than terminated;
* ``infos[i]["episode"] = {"r", "l", "t"}`` at an episode's end, as SB3's
  Monitor writes it (return rounded to 6 places, length, seconds since start).

The native envs are bit-exact with gymnasium's, so an SB3 run on this VecEnv
sees the very observations and rewards a DummyVecEnv of gymnasium's envs
with the same seeds gives it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from flockrl.envs.native import NATIVE_ENV_IDS, NativeVecEnv
from flockrl.runtime.episodes import EpisodeTracker

try:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import VecEnv
except ImportError:
    raise ImportError('sb3_vec_env needs Stable-Baselines3: pip install "flockrl[sb3]"') from None


class NativeSB3VecEnv(VecEnv):
    """An SB3 VecEnv over a NativeVecEnv (SAME_STEP autoreset)."""

    def __init__(self, env_id: str, num_envs: int, seed: int | None = None, num_threads: int | None = None):
        if env_id not in NATIVE_ENV_IDS:
            raise ValueError(f"sb3_vec_env: expected a native env id ({', '.join(NATIVE_ENV_IDS)}), got {env_id!r}; "
                             f"for other gymnasium envs use SB3's own make_vec_env")
        self._env = NativeVecEnv(env_id, num_envs, num_threads=num_threads, autoreset_mode=AutoresetMode.SAME_STEP)
        self.env_id = env_id
        super().__init__(num_envs, self._env.single_observation_space, self._env.single_action_space)
        self._episodes = EpisodeTracker(self._env)
        self._started = time.time()
        self._actions: np.ndarray | None = None
        if seed is not None:
            self.seed(seed)

    def reset(self) -> np.ndarray:
        if any(self._options):
            raise ValueError(f"sb3_vec_env: native envs take no reset options, got {self._options}")
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, _ = self._env.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        self._episodes = EpisodeTracker(self._env)  # a reset starts every episode afresh, as Monitor's does
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise RuntimeError("sb3_vec_env: step_wait() without step_async(actions)")
        actions, self._actions = self._actions, None
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.reshape(self.num_envs)  # SB3 may hand Discrete actions as (n, 1)
        obs, rewards, terminated, truncated, infos = self._env.step(actions)
        dones, returns, lengths = self._episodes.step(rewards, terminated, truncated, infos)
        env_infos: list[dict[str, Any]] = [{"TimeLimit.truncated": bool(truncated[i] and not terminated[i])}
                                           for i in range(self.num_envs)]
        for i, r, n in zip(np.flatnonzero(dones), returns, lengths):
            env_infos[i]["terminal_observation"] = infos["final_obs"][i].copy()
            env_infos[i]["episode"] = {"r": round(float(r), 6), "l": int(n), "t": round(time.time() - self._started, 6)}
        return obs, rewards.astype(np.float32), dones, env_infos

    def close(self) -> None:
        self._env.close()

    # SB3's attribute access into the envs: what a native env has.
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        values = {"render_mode": None, "spec": None, "env_id": self.env_id}
        if attr_name not in values:
            raise AttributeError(f"sb3_vec_env: native envs have the attributes {sorted(values)}, "
                                 f"not {attr_name!r}")
        return [values[attr_name] for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"sb3_vec_env: native envs have no settable attributes, got {attr_name!r}")

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        raise AttributeError(f"sb3_vec_env: native envs have no methods to call, got {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        # The episode statistics are Monitor's (SB3's evaluate_policy asks).
        return [wrapper_class is Monitor for _ in self._indices(indices)]

    def _indices(self, indices: Any) -> Iterable[int]:
        return list(self._get_indices(indices))


def sb3_vec_env(env_id: str, num_envs: int, seed: int | None = None, num_threads: int | None = None) -> NativeSB3VecEnv:
    """An SB3 VecEnv of `num_envs` native `env_id` envs (env i seeded seed + i
    at the first reset; None: fresh entropy), stepped in C++ on `num_threads`."""
    return NativeSB3VecEnv(env_id, num_envs, seed=seed, num_threads=num_threads)
