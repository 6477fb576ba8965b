"""Samples per insert across processes, kept where the counts are exact:
in the learner process, between the threads that drive remote actors
(before each chunk of actor steps) and the learner (before each sample).
The rule is Reverb's SampleToInsertRatio, as in the C++ rate limiter."""

from __future__ import annotations

import threading


class RatioGate:
    """With ``diff = inserted * samples_per_insert - sampled``: an insert of
    n waits while it would push diff above ``spi * min_size + error_buffer``;
    a sample of b waits until min_size items were inserted and while it
    would push diff below ``spi * min_size - error_buffer``."""

    def __init__(self, samples_per_insert: float, min_size: int, error_buffer: float):
        self.spi, self.min_size, self.error_buffer = samples_per_insert, min_size, error_buffer
        self.inserted = 0
        self.sampled = 0
        self._cond = threading.Condition()
        self._closed = False

    def _diff(self) -> float:
        return self.inserted * self.spi - self.sampled

    def _centre(self) -> float:
        return self.spi * self.min_size

    def wait_insert(self, n: int, timeout: float) -> bool:
        """True when an insert of n may go ahead (then count it with inserted_(n))."""
        if self.spi == 0:
            return True
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or self.inserted < self.min_size
                or self._diff() + n * self.spi <= self._centre() + self.error_buffer, timeout) and not self._closed

    def inserted_(self, n: int) -> None:
        with self._cond:
            self.inserted += n
            self._cond.notify_all()

    def wait_sample(self, b: int, timeout: float) -> bool:
        """True when a sample of b may go ahead; it is then counted."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._closed or (self.inserted >= max(self.min_size, 1)
                                         and (self.spi == 0 or self._diff() - b >= self._centre() - self.error_buffer)),
                timeout) and not self._closed
            if ok:
                self.sampled += b
                self._cond.notify_all()
            return ok

    def close(self) -> None:
        """Wakes everyone; later waits return False at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
