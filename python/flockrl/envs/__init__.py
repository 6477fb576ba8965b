"""Batched environments behind gymnasium's ``VectorEnv`` API, from one door:
``make_vec``. Each source is a module of its own:

    native.py         the C++ stepper: classic control, bit-exact with gymnasium
    atari.py          ale-py's own C++ AtariVectorEnv (pip install "flockrl[atari]")
    gymnasium_vec.py  any other registered id: gymnasium's Sync/AsyncVectorEnv
    multitask.py      several ids joined by "+", as one env
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from flockrl.envs.atari import AtariVecEnv, is_atari_id
from flockrl.envs.common import default_num_threads
from flockrl.envs.gymnasium_vec import make_gymnasium_vec
from flockrl.envs.multitask import MultiTaskVecEnv, is_multitask, task_env_counts, task_names
from flockrl.envs.native import NATIVE_ENV_IDS, NativeVecEnv

__all__ = ["NATIVE_ENV_IDS", "AtariVecEnv", "MultiTaskVecEnv", "NativeVecEnv", "action_mask_of",
           "default_num_threads", "is_atari_id", "is_multitask", "make_vec", "task_names"]


def make_vec(
    env_id: str,
    num_envs: int = 1,
    *,
    seed: int | None = None,
    num_threads: int | None = None,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    copy: bool = True,
    vectorization_mode: str = "sync",
    **env_kwargs: Any,
) -> VectorEnv:
    """A vector env of ``num_envs`` copies of ``env_id``.

    * Native ids (``flockrl.NATIVE_ENV_IDS``, also reachable as
      ``gym.make_vec("flockrl/<id>")``) run in C++ on ``num_threads`` threads.
    * ALE ids (``ALE/Breakout-v5``, ...) run in ale-py's C++ vector env on
      ``num_threads`` threads, with CleanRL's training settings
      (``flockrl.envs.atari.TRAINING_DEFAULTS``), each overridable as an
      env kwarg (``noop_max=0``, ``repeat_action_probability=0.25``, ...).
    * Ids joined by "+" make a multi-task env (flockrl.envs.multitask).
    * Any other registered gymnasium id is built with gymnasium's own vector
      env (``vectorization_mode`` "sync" or "async"), env kwargs passed on.

    ``seed`` applies at the first ``reset()`` without a seed (env i gets
    seed + i), for every source.
    """
    if is_multitask(env_id):
        if env_kwargs:
            raise ValueError(f"a multi-task env takes no env kwargs, got {sorted(env_kwargs)}")
        tasks = task_names(env_id)
        counts = task_env_counts(num_envs, len(tasks))
        envs = [_make_one(task, count, seed=None if seed is None else seed + 1000 * t, num_threads=num_threads,
                          autoreset_mode=autoreset_mode, copy=copy, vectorization_mode=vectorization_mode,
                          env_kwargs={}) for t, (task, count) in enumerate(zip(tasks, counts))]
        return MultiTaskVecEnv(tasks, envs, autoreset_mode=autoreset_mode)
    return _make_one(env_id, num_envs, seed=seed, num_threads=num_threads, autoreset_mode=autoreset_mode, copy=copy,
                     vectorization_mode=vectorization_mode, env_kwargs=env_kwargs)


def _make_one(env_id: str, num_envs: int, *, seed: int | None, num_threads: int | None,
              autoreset_mode: AutoresetMode | str, copy: bool, vectorization_mode: str,
              env_kwargs: dict[str, Any]) -> VectorEnv:
    if env_id.startswith("flockrl/"):
        env_id = env_id[len("flockrl/"):]
    if env_id in NATIVE_ENV_IDS:
        if env_kwargs:
            raise ValueError(f"{env_id} is native and takes no env kwargs, got {sorted(env_kwargs)}")
        return NativeVecEnv(env_id, num_envs, seed=seed, num_threads=num_threads, autoreset_mode=autoreset_mode,
                            copy=copy)
    if is_atari_id(env_id):
        return AtariVecEnv(env_id, num_envs, seed=seed, num_threads=num_threads, autoreset_mode=autoreset_mode,
                           **env_kwargs)
    return make_gymnasium_vec(env_id, num_envs, seed=seed, autoreset_mode=autoreset_mode, copy=copy,
                              vectorization_mode=vectorization_mode, env_kwargs=env_kwargs)


def action_mask_of(env_id: str) -> np.ndarray | None:
    """[tasks, actions] valid-action mask of a multi-task id; None for one env."""
    if not is_multitask(env_id):
        return None
    env = make_vec(env_id, len(task_names(env_id)))
    try:
        return env.action_mask
    finally:
        env.close()
