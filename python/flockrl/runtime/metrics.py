"""Run metrics shared by actor threads and the learner: env steps/s,
learner updates/s, samples per insert, policy lag, episode returns and
lengths. Thread-safe; recording is a lock and a few additions."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np


class Metrics:
    def __init__(self, window: int = 100, env_steps: int = 0, seconds: float = 0.0, tasks: list[str] | None = None):
        """env_steps, seconds: where a resumed run starts counting. tasks: a
        multi-task run's task names, whose returns are also kept apart."""
        self._lock = threading.Lock()
        self._start = time.monotonic() - seconds
        self.env_steps = env_steps
        self.updates = 0
        self.inserted = 0
        self.sampled = 0
        self.episodes = 0
        self._returns: deque[float] = deque(maxlen=window)
        self._lengths: deque[int] = deque(maxlen=window)
        self.tasks = list(tasks or [])
        self._task_returns: list[deque[float]] = [deque(maxlen=window) for _ in self.tasks]
        self._lags: deque[int] = deque(maxlen=window)
        self.max_policy_lag = 0
        self._last = (time.monotonic(), env_steps, 0)  # time, env steps, updates at the last snapshot

    def add_steps(self, steps: int, inserted: int, policy_lag: int | None = None) -> None:
        """An actor stepped `steps` envs acting with weights `policy_lag`
        versions behind the newest published (None: measured elsewhere)."""
        with self._lock:
            self.env_steps += steps
            self.inserted += inserted
            if policy_lag is not None:
                self._lags.append(policy_lag)
                self.max_policy_lag = max(self.max_policy_lag, policy_lag)

    def add_policy_lags(self, lags: list[int]) -> None:
        """On-policy learners: the lag of each rollout an update used."""
        with self._lock:
            self._lags.extend(lags)
            self.max_policy_lag = max(self.max_policy_lag, *lags)

    def add_episodes(self, returns: np.ndarray, lengths: np.ndarray, tasks: np.ndarray | None = None) -> None:
        """tasks: each episode's task index (multi-task runs)."""
        with self._lock:
            self.episodes += len(returns)
            self._returns.extend(float(r) for r in returns)
            self._lengths.extend(int(n) for n in lengths)
            if tasks is not None and self.tasks:
                for r, t in zip(returns, tasks):
                    self._task_returns[int(t)].append(float(r))

    def add_update(self, sampled: int) -> None:
        with self._lock:
            self.updates += 1
            self.sampled += sampled

    def elapsed(self) -> float:
        """Seconds since the run started (earlier runs included when resumed)."""
        return time.monotonic() - self._start

    def snapshot(self) -> dict[str, Any]:
        """Totals, rates since the previous snapshot, and recent means."""
        with self._lock:
            now = time.monotonic()
            t0, steps0, updates0 = self._last
            dt = max(now - t0, 1e-9)
            out = {
                "time": now - self._start,
                "env_steps": self.env_steps,
                "updates": self.updates,
                "episodes": self.episodes,
                "sps": (self.env_steps - steps0) / dt,
                "updates_per_sec": (self.updates - updates0) / dt,
                "samples_per_insert": self.sampled / self.inserted if self.inserted else 0.0,
                "policy_lag": float(np.mean(self._lags)) if self._lags else 0.0,
                "return_mean": float(np.mean(self._returns)) if self._returns else float("nan"),
                "length_mean": float(np.mean(self._lengths)) if self._lengths else float("nan"),
            }
            for name, returns in zip(self.tasks, self._task_returns):
                out[f"return_mean/{name}"] = float(np.mean(returns)) if returns else float("nan")
            self._last = (now, self.env_steps, self.updates)
            return out
