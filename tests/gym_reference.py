"""Run gymnasium's own SyncVectorEnv and a flockrl vector env side by side."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import flockrl


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Units in the last place between float32 arrays (0 means bit-identical)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    # Map the sign-magnitude bit patterns onto a monotonic integer line.
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def rollout_pair(env_id, num_envs, seed, actions, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP, **kwargs):
    """Yield (step, reference results, flockrl results) for the given actions.

    Step -1 is the reset: (obs, info) pairs.
    """
    ref = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="sync", vector_kwargs={"autoreset_mode": autoreset_mode}
    )
    ours = flockrl.make_vec(env_id, num_envs, seed=seed, autoreset_mode=autoreset_mode, **kwargs)
    try:
        yield -1, ref.reset(seed=seed), ours.reset()
        for t, a in enumerate(actions):
            yield t, ref.step(a), ours.step(a)
    finally:
        ref.close()
        ours.close()
