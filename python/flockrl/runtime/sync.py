"""Parameter-sync strategies for on-policy training: how actor threads and
the learner hand rollouts over and how stale the acting weights may be.

    sync     every rollout of an update is collected with the learner's
             current weights: after submitting, an actor waits for the next
             version; the learner waits for one rollout from every actor.
    async    nobody waits on versions: actors pull the newest weights
             before each rollout; the learner takes what is queued. Policy
             lag (learner version minus the rollout's) is unbounded but logged.
    bounded  as async, but the learner never trains on a rollout more than
             `max_lag` versions old: before an update it waits for any
             rollout still being collected with weights that the next
             version would push past the bound, and trains on it too
             (stale-synchronous parallel; max_lag=1 overlaps acting with
             learning, as in "hybrid" schemes).

Versions are the ParamStore's: the learner publishes, then calls
published(version). One exchange serves one learner.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

SYNC_MODES = ("sync", "async", "bounded")


class Closed(Exception):
    """The exchange was closed (the run is stopping)."""


class RolloutExchange:
    def __init__(self, mode: str, num_actors: int, *, max_lag: int = 1, queued_per_actor: int = 2):
        """queued_per_actor: an actor with this many rollouts waiting for the
        learner waits before starting another (async and bounded). It bounds
        memory when actors outpace the learner, and, being per actor, lets
        no fast actor crowd a slow one out."""
        if mode not in SYNC_MODES:
            raise ValueError(f"sync: expected one of {', '.join(SYNC_MODES)}, got {mode!r}")
        if mode == "bounded" and max_lag < 1:
            raise ValueError(f"max_lag: expected >= 1 for bounded (0 is the sync mode), got {max_lag}")
        self.mode, self.num_actors, self.max_lag = mode, num_actors, max_lag
        self.queued_per_actor = queued_per_actor
        self._cond = threading.Condition()
        self._queue: deque[dict[str, Any]] = deque()
        self._in_flight: dict[int, int] = {}  # actor -> version it is collecting with
        self._queued = [0] * num_actors  # rollouts of each actor in the queue
        self._acted_with: dict[int, int] = {}  # sync: actor -> version of its last rollout
        self._retired: set[int] = set()  # actors that will submit no more
        self._version = 0
        self._closed = False

    # -- actor side ---------------------------------------------------------------

    def begin(self, actor: int, pull: Any) -> int:
        """Before a rollout: waits for the actor's turn (sync: a version newer
        than its last rollout's; otherwise fewer than queued_per_actor of its
        rollouts queued), then calls pull() -> the version of the weights the
        actor now holds, and records it as in flight. Waiting here, never in
        submit, means a finished rollout is always where the learner can
        take it."""
        with self._cond:
            if self.mode == "sync":
                self._wait(lambda: self._version > self._acted_with.get(actor, 0))
            else:
                self._wait(lambda: self._queued[actor] < self.queued_per_actor)
            version = pull()
            self._in_flight[actor] = version
            return version

    def submit(self, actor: int, rollout: dict[str, Any]) -> None:
        with self._cond:
            self._raise_if_closed()
            self._queue.append(rollout)
            self._queued[actor] += 1
            self._acted_with[actor] = self._in_flight.pop(actor)
            self._cond.notify_all()

    def retire(self, actor: int) -> None:
        """The actor has submitted its last rollout (its share of the budget
        is done): the learner stops waiting for it."""
        with self._cond:
            self._retired.add(actor)
            self._cond.notify_all()

    # -- learner side -------------------------------------------------------------

    def gather(self, min_rollouts: int, timeout: float | None = None) -> list[dict[str, Any]] | None:
        """The rollouts of the next update: sync, one from every actor (all
        of the current version); async and bounded, every queued rollout
        once at least min_rollouts are (bounded also waits for the stale
        ones still in flight). Retired actors are not waited for. None on
        timeout."""
        with self._cond:
            everyone = range(self.num_actors)
            if self.mode == "sync":
                ready = lambda: all(self._queued[a] or a in self._retired for a in everyone)  # noqa: E731
            else:
                # Publishing the next version must leave every outstanding rollout
                # within max_lag of it (bounded): wait for those that would not be.
                oldest_allowed = self._version + 1 - self.max_lag if self.mode == "bounded" else -1
                ready = lambda: ((len(self._queue) >= min_rollouts or len(self._retired) == self.num_actors)  # noqa: E731
                                 and all(v >= oldest_allowed for v in self._in_flight.values()))
            if not self._wait(lambda: bool(self._queue) and ready(), timeout):
                return None
            rollouts = list(self._queue)
            self._queue.clear()
            self._queued = [0] * self.num_actors
            self._cond.notify_all()
            return rollouts

    def published(self, version: int) -> None:
        with self._cond:
            self._version = version
            self._cond.notify_all()

    @property
    def version(self) -> int:
        return self._version

    def close(self) -> None:
        """Wakes every waiting actor and learner with Closed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- helpers ------------------------------------------------------------------

    def _wait(self, predicate: Any, timeout: float | None = None) -> bool:
        ok = self._cond.wait_for(lambda: self._closed or predicate(), timeout)
        self._raise_if_closed()
        return ok

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise Closed
