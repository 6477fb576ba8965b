"""Greedy evaluation: run a policy for N whole episodes on fresh envs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flockrl.envs import make_vec


def evaluate(act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int, seed: int) -> np.ndarray:
    """The return of each of `episodes` episodes, one env per episode, all
    stepped together until every one has ended (env i seeded seed + i)."""
    env = make_vec(env_id, episodes, seed=seed)
    try:
        obs, _ = env.reset()
        returns = np.zeros(episodes)
        running = np.ones(episodes, dtype=bool)
        while running.any():
            obs, rewards, terminated, truncated, _ = env.step(act(obs))
            returns += np.where(running, rewards, 0.0)
            running &= ~(terminated | truncated)
        return returns
    finally:
        env.close()
