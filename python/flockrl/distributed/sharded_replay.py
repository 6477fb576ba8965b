"""Replay sharded across Ray actors: each shard wraps flockrl's C++ buffer
(uniform or prioritized); the learner draws from the shards in proportion
to their mass (sum of p^alpha, or item count for uniform replay), so every
item is drawn with probability p_i^alpha / sum over all shards, exactly as
from one buffer holding them all, and importance weights are normalised by
the smallest p^alpha of any shard.

A shard restarted by Ray after its process died restores its last saved
state (``save``); without one it starts empty, and says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from flockrl.distributed.ray_support import was_restarted
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, batch_to_device


def stratified_counts(weights: np.ndarray, batch: int, rng: np.random.Generator) -> np.ndarray:
    """How many of `batch` draws go to each shard: one point in each of
    `batch` equal segments of [0, 1), assigned to the shard whose share of
    the cumulative weight it falls in. E[counts] = batch * weights / sum,
    with less spread than a multinomial."""
    cumulative = np.cumsum(weights, dtype=np.float64)
    points = (np.arange(batch) + rng.random(batch)) / batch * cumulative[-1]
    shard = np.minimum(np.searchsorted(cumulative, points, side="right"), len(weights) - 1)
    return np.bincount(shard, minlength=len(weights))


class ReplayShard:
    """One shard (the body of a Ray actor; see ShardedReplay)."""

    def __init__(self, index: int, capacity: int, fields: dict[str, Any], prioritized: bool, alpha: float,
                 seed: int, checkpoint: str | None, restore: bool):
        """checkpoint: the file save() writes and a restart restores from;
        restore: load it now if it exists (a resumed run)."""
        self.index, self.checkpoint = index, checkpoint
        if prioritized:
            self.buffer: ReplayBuffer = PrioritizedReplayBuffer(capacity, fields, alpha=alpha, seed=seed)
        else:
            self.buffer = ReplayBuffer(capacity, fields, seed=seed)
        self.restarted = was_restarted()
        self.restored = 0
        if checkpoint is not None and (restore or self.restarted) and Path(checkpoint).exists():
            self.buffer.load(checkpoint)
            self.restored = len(self.buffer)

    def info(self) -> dict[str, Any]:
        return {"index": self.index, "size": len(self.buffer), "restarted": self.restarted,
                "restored": self.restored, "pid": os.getpid(), **self.buffer.stats}

    def add(self, items: dict[str, np.ndarray], priorities: np.ndarray | None) -> int:
        self.buffer.add(priorities=priorities, **items)
        return len(items["reward"]) if "reward" in items else len(next(iter(items.values())))

    def mass(self) -> tuple[float, float, int, int]:
        """(sum, min) of p^alpha, the size and the process id (which tells a
        restart); uniform: (size, 1, size, pid)."""
        size = len(self.buffer)
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            total, least = self.buffer.mass
            return total, least, size, os.getpid()
        return float(size), 1.0, size, os.getpid()

    def sample(self, n: int) -> dict[str, np.ndarray]:
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            return self.buffer.sample(n, beta=0.0, with_masses=True)
        return self.buffer.sample(n)

    def update_priorities(self, handles: np.ndarray, priorities: np.ndarray) -> int:
        return self.buffer.update_priorities(handles, priorities)

    def save(self, path: str) -> int:
        """Writes the shard's state to `path` (atomically); returns its size.
        A restart restores from the checkpoint file given at construction."""
        self.buffer.save(path)
        return len(self.buffer)


class ShardedReplay:
    """The learner's view of the shards: sample, update_priorities and save
    as on one buffer. Handles are (shard, handle) rows."""

    def __init__(self, ray: Any, shards: list[Any], prioritized: bool, seed: int, log: Any):
        self.ray, self.shards, self.prioritized, self.log = ray, shards, prioritized, log
        self.rng = np.random.default_rng([seed, 0x5A4D])
        self.restarts = 0
        self._pids: list[int | None] = [None] * len(shards)  # each shard's process, as last seen
        self._pending: list[Any] = []  # priority updates sent, not yet confirmed

    def __len__(self) -> int:
        return sum(m[2] for m in self._masses())

    def sample(self, batch_size: int, beta: float = 0.4, device: Any = None) -> dict[str, Any] | None:
        """batch_size items over all shards (None while they are all empty):
        fields, ``handles`` [B, 2] (shard, handle) and, prioritized,
        ``weights`` = (p_min^alpha / p_i^alpha)^beta with p_min over every
        shard. Priority updates sent before are applied first (a shard runs
        its calls in the order this learner sent them)."""
        masses = self._masses()
        totals = np.array([m[0] if m[2] > 0 else 0.0 for m in masses])
        if not totals.sum() > 0:
            return None
        counts = stratified_counts(totals, batch_size, self.rng)
        chosen = [k for k in range(len(self.shards)) if counts[k] > 0]
        parts = self._call([(k, "sample", int(counts[k])) for k in chosen])
        batch = {key: np.concatenate([p[key] for p in parts]) for key in parts[0] if key != "handles"}
        batch["handles"] = np.concatenate([np.stack([np.full(len(p["handles"]), k), p["handles"]], axis=1)
                                           for k, p in zip(chosen, parts)])
        if self.prioritized:
            least = min(m[1] for m in masses if m[2] > 0)
            leaf = batch.pop("masses")
            batch["weights"] = (np.minimum(least, leaf) / leaf) ** beta
        return batch_to_device(batch, device)

    def update_priorities(self, handles: Any, priorities: Any) -> None:
        """Sent without waiting; a shard applies them before its next sample."""
        handles = np.asarray(handles.cpu() if hasattr(handles, "cpu") else handles)
        priorities = np.asarray(priorities, dtype=np.float64)
        self._confirm()
        for k in np.unique(handles[:, 0]):
            mine = handles[:, 0] == k
            self._pending.append(self.shards[int(k)].update_priorities.remote(
                np.ascontiguousarray(handles[mine, 1]), priorities[mine]))

    def save(self, path: str | os.PathLike) -> int:
        """Shard k saves its state to ``{path}.{k}`` (where a restarted shard
        made with that checkpoint file restores from); the items saved."""
        self._confirm()
        return sum(self._call([(k, "save", f"{os.fspath(path)}.{k}") for k in range(len(self.shards))]))

    def info(self) -> list[dict[str, Any]]:
        return self._call_all("info")

    # -- calls, surviving a shard's restart ------------------------------------------

    def _masses(self) -> list[tuple[float, float, int, int]]:
        """Every shard's mass(); a shard in a new process is reported."""
        masses = self._call_all("mass")
        for k, (_, _, size, pid) in enumerate(masses):
            if self._pids[k] is not None and pid != self._pids[k]:
                self.restarts += 1
                print(f"replay shard {k} died and was restarted by Ray with {size} items "
                      f"({'its last saved state' if size else 'empty: nothing was saved'})", file=self.log)
            self._pids[k] = pid
        return masses

    def _call_all(self, method: str) -> list[Any]:
        self._confirm()
        return self._call([(k, method) for k in range(len(self.shards))])

    def _call(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        """Calls shard methods in parallel, again when a shard's process died
        meanwhile (Ray restarts it; _masses reports it)."""
        from ray.exceptions import RayActorError

        for attempt in range(100):
            refs = [getattr(self.shards[k], method).remote(*args) for k, method, *args in calls]
            try:
                return self.ray.get(refs)
            except RayActorError:  # ActorUnavailableError too
                time.sleep(min(0.01 * 2**attempt, 1.0))
        raise RuntimeError("replay shards: no answer after 100 tries (a shard keeps dying)")

    def _confirm(self) -> None:
        """Raises the errors of priority updates sent earlier; those sent to a
        shard that died are lost with it."""
        from ray.exceptions import RayActorError

        pending, self._pending = self._pending, []
        for ref in pending:
            try:
                self.ray.get(ref)
            except RayActorError:  # ActorUnavailableError too
                pass
