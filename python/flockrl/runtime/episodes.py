"""Episode returns as users should see them. An env that keeps its own
episode statistics (``reports_episodes``: Atari, whose score is the
unclipped return of a whole game, while the learner sees clipped rewards
and life-loss terminations) reports them in ``infos["episode"]`` where
``infos["_episode"]`` is True; for every other env an episode's return is
the sum of its rewards until it terminates or is truncated."""

from __future__ import annotations

from typing import Any

import numpy as np


class EpisodeTracker:
    def __init__(self, env: Any):
        """env: the vector env whose steps are passed to ``step``."""
        self.own_statistics = bool(getattr(env, "reports_episodes", False))
        self._return = np.zeros(env.num_envs)
        self._length = np.zeros(env.num_envs, dtype=np.int64)

    def step(self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
             infos: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ended, returns, lengths): the envs whose episode ended at this step
        (a bool mask) and those episodes' returns and lengths."""
        if self.own_statistics:
            ended = infos.get("_episode")
            if ended is None:
                return np.zeros(len(rewards), dtype=bool), np.zeros(0), np.zeros(0, dtype=np.int64)
            return ended, infos["episode"]["r"][ended], infos["episode"]["l"][ended]
        self._return += rewards
        self._length += 1
        ended = terminated | truncated
        returns, lengths = self._return[ended], self._length[ended]
        self._return[ended] = 0.0
        self._length[ended] = 0
        return ended, returns, lengths
