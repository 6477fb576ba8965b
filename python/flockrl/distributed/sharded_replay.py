"""Replay sharded across Ray actors: each shard wraps flockrl's C++ buffer
(uniform or prioritized); the learner draws from the shards in proportion
to their mass (sum of p^alpha, or item count for uniform replay), so every
item is drawn with probability p_i^alpha / (sum over all shards), as from
one buffer holding them all, and importance weights are normalised by the
smallest p^alpha of any shard.

One call per shard per learner step: it applies the priority updates the
learner sends with it, draws the shard's share of the next batch and
answers with its mass, on which the following batch's shares are drawn.
The next batch is drawn while the learner learns from the current one.
So the shares lag the shards by a step (the adds since, and the two latest
batches' priority updates): on a buffer that is not changing, sampling is
exact.

A shard restarted by Ray after its process died restores its last saved
state (``save``); without one it starts empty, and the learner says which.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from flockrl.distributed.ray_support import was_restarted
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, batch_to_device

Mass = tuple[float, float, int, int]
"""A shard's (sum of p^alpha, min p^alpha, size, process id); uniform: (size, 1, size, pid)."""


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
                 seed: int, checkpoint: str | None, restore: bool, frame_stack: tuple[str, ...] = ()):
        """checkpoint: the file a restart restores from (what save() wrote
        there); restore: load it now if it exists (a resumed run);
        frame_stack: fields stored one frame each (flockrl.replay)."""
        self.index = index
        if prioritized:
            self.buffer: ReplayBuffer = PrioritizedReplayBuffer(capacity, fields, alpha=alpha, seed=seed,
                                                                frame_stack=frame_stack)
        else:
            self.buffer = ReplayBuffer(capacity, fields, seed=seed, frame_stack=frame_stack)
        self.restarted = was_restarted()
        self.restored = 0
        if checkpoint is not None and (restore or self.restarted) and Path(checkpoint).exists():
            self.buffer.load(checkpoint)
            self.restored = len(self.buffer)

    def info(self) -> dict[str, Any]:
        return {"index": self.index, "size": len(self.buffer), "restarted": self.restarted,
                "restored": self.restored, "pid": os.getpid(), **self.buffer.stats}

    def add(self, items: dict[str, np.ndarray], priorities: np.ndarray | None) -> None:
        self.buffer.add(priorities=priorities, **items)

    def mass(self) -> Mass:
        size = len(self.buffer)
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            total, least = self.buffer.mass
            return total, least, size, os.getpid()
        return float(size), 1.0, size, os.getpid()

    def step(self, handles: np.ndarray | None, priorities: np.ndarray | None,
             n: int) -> tuple[dict[str, np.ndarray] | None, Mass]:
        """Applies the priority updates, draws n items (prioritized: with
        each one's p^alpha as ``masses``) and returns them with the mass after."""
        if handles is not None and len(handles):
            self.buffer.update_priorities(handles, priorities)
        batch = None
        if n > 0:
            if isinstance(self.buffer, PrioritizedReplayBuffer):
                batch = self.buffer.sample(n, beta=0.0, with_masses=True)
            else:
                batch = self.buffer.sample(n)
        return batch, self.mass()

    def save(self, path: str) -> int:
        """Writes the shard's state to `path` (atomically); returns its size."""
        self.buffer.save(path)
        return len(self.buffer)


class ShardedReplay:
    """The learner's view of the shards: sample, update_priorities and save
    as on one buffer. Handles are (shard, handle) rows."""

    def __init__(self, ray: Any, shards: list[Any], prioritized: bool, seed: int, log: Any):
        self.ray, self.shards, self.prioritized, self.log = ray, shards, prioritized, log
        self.rng = np.random.default_rng([seed, 0x5A4D])
        self.restarts = 0
        self._masses: list[Mass] | None = None  # each shard's, from its last answer
        self._updates: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(shards)  # to send with the next step
        self._in_flight: tuple[np.ndarray, float, list[Any]] | None = None  # a draw sent: counts, min mass, calls
        self._drawn: tuple[np.ndarray, float, list[Any]] | None = None  # a draw answered: counts, min mass, answers

    def __len__(self) -> int:
        return sum(m[2] for m in self._refresh())

    def sample(self, batch_size: int, beta: float = 0.4, device: Any = None) -> dict[str, Any] | None:
        """batch_size items over all shards (None while they are all empty):
        fields, ``handles`` [B, 2] (shard, handle) and, prioritized,
        ``weights`` = (p_min^alpha / p_i^alpha)^beta with p_min over every
        shard. The next batch is drawn while the caller learns from this
        one, so priority updates reach the shards one batch later."""
        drawn = self._take_draw(batch_size)
        if drawn is None:
            return None
        self._send_draw(batch_size)
        counts, least, answers = drawn
        chosen = [k for k in range(len(self.shards)) if counts[k] > 0 and answers[k][0] is not None]
        parts = [answers[k][0] for k in chosen]
        if not parts:  # the shards chosen came back empty (restarted with nothing saved)
            return None
        batch = {key: np.concatenate([p[key] for p in parts]) for key in parts[0] if key != "handles"}
        batch["handles"] = np.concatenate([np.stack([np.full(len(p["handles"]), k), p["handles"]], axis=1)
                                           for k, p in zip(chosen, parts)])
        if self.prioritized:
            leaf = batch.pop("masses")
            batch["weights"] = (np.minimum(least, leaf) / leaf) ** beta
        return batch_to_device(batch, device)

    def update_priorities(self, handles: Any, priorities: Any) -> None:
        """Sent with the next draw, and applied before it."""
        handles = np.asarray(handles.cpu() if hasattr(handles, "cpu") else handles)
        priorities = np.asarray(priorities, dtype=np.float64)
        for k in np.unique(handles[:, 0]):
            mine = handles[:, 0] == k
            self._updates[int(k)] = (np.ascontiguousarray(handles[mine, 1]), priorities[mine])

    def save(self, path: str | os.PathLike) -> int:
        """Shard k saves its state (pending priority updates applied) to
        ``{path}.{k}``, where a restarted shard made with that checkpoint
        file restores from; returns the items saved."""
        self._refresh()
        return sum(self._call([(k, "save", f"{os.fspath(path)}.{k}") for k in range(len(self.shards))]))

    def info(self) -> list[dict[str, Any]]:
        return self._call([(k, "info") for k in range(len(self.shards))])

    # -- draws, and calls that survive a shard's restart ---------------------------------

    def _take_draw(self, batch_size: int) -> tuple[np.ndarray, float, list[Any]] | None:
        """The draw sent last time if it was of batch_size, else one made now."""
        self._settle()
        drawn, self._drawn = self._drawn, None
        if drawn is None or drawn[0].sum() != batch_size:
            self._send_draw(batch_size)
            self._settle()
            drawn, self._drawn = self._drawn, None
        return drawn

    def _send_draw(self, batch_size: int) -> None:
        """Sends every shard its pending updates and its share of a batch,
        on their last known masses (nothing when they are all empty)."""
        masses = self._masses or self._refresh()
        totals = np.array([m[0] if m[2] > 0 else 0.0 for m in masses])
        if not totals.sum() > 0:
            self._refresh()
            return
        counts = stratified_counts(totals, batch_size, self.rng)
        least = min(m[1] for m in masses if m[2] > 0)
        self._in_flight = (counts, least, self._send(self._step_calls(counts)))

    def _settle(self) -> None:
        """Waits for the draw in flight, if any, and keeps its answers."""
        if self._in_flight is not None:
            counts, least, sent = self._in_flight
            self._in_flight = None
            self._drawn = (counts, least, self._answered(self._receive(sent)))

    def _refresh(self) -> list[Mass]:
        """Sends the pending priority updates; every shard's mass."""
        self._settle()
        answers = self._call(self._step_calls(np.zeros(len(self.shards), dtype=np.int64)))
        return [mass for _, mass in self._answered(answers)]

    def _step_calls(self, counts: np.ndarray) -> list[tuple[Any, ...]]:
        updates, self._updates = self._updates, [None] * len(self.shards)
        return [(k, "step", *(updates[k] or (None, None)), int(counts[k])) for k in range(len(self.shards))]

    def _answered(self, answers: list[tuple[Any, Mass]]) -> list[tuple[Any, Mass]]:
        """Keeps the shards' new masses; a shard in a new process is reported."""
        masses = [mass for _, mass in answers]
        if self._masses is not None:
            for k, (old, new) in enumerate(zip(self._masses, masses)):
                if new[3] != old[3]:
                    self.restarts += 1
                    print(f"replay shard {k} died and was restarted by Ray with {new[2]} items "
                          f"({'its last saved state' if new[2] else 'empty: nothing was saved'})", file=self.log)
        self._masses = masses
        return answers

    def _call(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        return self._receive(self._send(calls))

    def _send(self, calls: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[Any]]:
        return calls, [getattr(self.shards[k], method).remote(*args) for k, method, *args in calls]

    def _receive(self, sent: tuple[list[tuple[Any, ...]], list[Any]]) -> list[Any]:
        """The answers to calls sent; made again when a shard's process died
        meanwhile (Ray restarts it; _answered reports it). Priority updates
        sent to a shard that died are lost with it."""
        from ray.exceptions import RayActorError  # ActorUnavailableError too

        calls, refs = sent
        for attempt in range(100):
            try:
                return self.ray.get(refs)
            except RayActorError:
                time.sleep(min(0.01 * 2**attempt, 1.0))
                calls, refs = self._send(calls)
        raise RuntimeError("replay shards: no answer after 100 tries (a shard keeps dying)")
