"""Evaluation: run a policy for N whole episodes on fresh envs (an Atari
episode is a whole game, all lives, scored unclipped)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from flockrl.envs import make_vec
from flockrl.runtime.episodes import EpisodeTracker


def evaluate(act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int, seed: int,
             env_kwargs: dict[str, Any] | None = None, epsilon: float = 0.0) -> np.ndarray:
    """The return of each of `episodes` episodes, one env per episode, all
    stepped together until every one has ended (env i seeded seed + i).
    epsilon: the probability of a uniformly random action instead of act's
    (Discrete actions), as DQN's evaluations use to keep a greedy policy
    from stalling a game."""
    env = make_vec(env_id, episodes, seed=seed, autoreset_mode=AutoresetMode.SAME_STEP, **(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    try:
        if epsilon > 0 and not hasattr(env.single_action_space, "n"):
            raise ValueError(f"eval_epsilon: random actions need Discrete actions, {env_id} has "
                             f"{env.single_action_space}; expected eval_epsilon 0")
        tracker = EpisodeTracker(env)
        obs, _ = env.reset()
        returns = np.full(episodes, np.nan)
        while np.isnan(returns).any():
            actions = act(obs)
            if epsilon > 0:
                explore = rng.random(episodes) < epsilon
                actions = np.where(explore, rng.integers(0, env.single_action_space.n, episodes), actions)
            obs, rewards, terminated, truncated, infos = env.step(actions)
            ended, finished, _ = tracker.step(rewards, terminated, truncated, infos)
            first = np.isnan(returns[ended])  # an env's later episodes do not count
            returns[np.flatnonzero(ended)[first]] = finished[first]
        return returns
    finally:
        env.close()
