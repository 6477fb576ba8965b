"""What every env source shares: argument checks, the CPUs to use, and
make_vec's ``seed`` semantics for vector envs that do not have them."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

MAX_NUM_ENVS = 2**31 - 1
MAX_THREADS = 1024


def default_num_threads() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what}: expected an int in [{low}, {high}], got {value}")
    return int(value)


class SeedOnFirstReset(gym.vector.VectorWrapper):
    """Gives a vector env make_vec's ``seed``: the seed of the first reset
    that gives none (env i then gets seed + i)."""

    def __init__(self, env: VectorEnv, seed: int) -> None:
        super().__init__(env)
        self._pending_seed: int | None = seed

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> Any:
        if seed is None:
            seed = self._pending_seed
        self._pending_seed = None
        return self.env.reset(seed=seed, options=options)
