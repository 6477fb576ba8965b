"""Pausing actor threads between their writes, so the learner can snapshot
what they write into (a replay buffer saved mid-run)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PauseGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._inside = 0

    @contextmanager
    def passage(self) -> Iterator[None]:
        """An actor's write: waits while paused, then holds the pause off
        until the block ends. Keep it short (a write with a timeout), since
        pausing waits for every passage to end."""
        with self._cond:
            self._cond.wait_for(lambda: not self._paused)
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                self._cond.notify_all()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The block runs with no actor inside a passage, and none enters
        one until it ends."""
        with self._cond:
            self._paused = True
            self._cond.wait_for(lambda: self._inside == 0)
        try:
            yield
        finally:
            with self._cond:
                self._paused = False
                self._cond.notify_all()
