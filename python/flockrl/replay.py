"""Replay buffers backed by flockrl's lock-free C++ store.

Many threads may ``add`` at once while learner threads ``sample`` and
``update_priorities``; none of these takes a global lock, and all of them
release the GIL while they copy data. See ``cpp/replay/replay_buffer.h`` for
the exact concurrency contract.
"""

from __future__ import annotations

import operator
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flockrl import _core

_DTYPES = ("float32", "float64", "int64", "int32", "uint8", "bool")
_RESERVED = ("priorities", "handles", "weights", "timeout", "env", "self")


def _normalize_fields(fields: Mapping[str, Any]) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """``{name: (shape, dtype)}`` -> ``[(name, shape, dtype)]``, validated."""
    if not isinstance(fields, Mapping) or not fields:
        raise TypeError(
            "fields: expected a non-empty dict {name: (shape, dtype)}, e.g. "
            f"{{'obs': ((4,), np.float32), 'act': ((), np.int64)}}, got {fields!r}"
        )
    out = []
    for name, spec in fields.items():
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED:
            raise ValueError(f"fields: names must be identifiers other than {_RESERVED}, got {name!r}")
        try:
            shape, dtype = spec
            shape = (_index(shape),) if isinstance(shape, (int, np.integer)) else tuple(_index(d) for d in shape)
            dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise TypeError(f"fields[{name!r}]: expected a (shape, dtype) pair, got {spec!r}") from None
        if dtype.name not in _DTYPES:
            raise TypeError(f"fields[{name!r}]: expected a dtype among {', '.join(_DTYPES)}, got {dtype.name}")
        if any(d < 1 for d in shape):
            raise ValueError(f"fields[{name!r}]: expected positive dimensions, got shape {shape}")
        out.append((name, shape, dtype))
    return out


@dataclass(frozen=True)
class SampleToInsertRatio:
    """Keeps sampled items close to ``samples_per_insert`` x inserted items
    (Reverb's rate limiter of the same name), so actors and learner stay in step.

    With ``diff = inserts * samples_per_insert - samples``, an ``add`` waits
    while it would push ``diff`` above ``samples_per_insert *
    min_size_to_sample + error_buffer``, and a ``sample`` waits until at
    least ``min_size_to_sample`` items were added and while it would push
    ``diff`` below ``samples_per_insert * min_size_to_sample - error_buffer``.
    """

    samples_per_insert: float
    """Target number of sampled items per inserted item."""
    min_size_to_sample: int = 1
    """Items to insert before the first sample is allowed."""
    error_buffer: float = 1000.0
    """Slack around the target, in sampled items. It must be at least every
    sample batch and samples_per_insert times every add batch (larger
    batches are refused, since they could stall both sides forever)."""


class ReplayBuffer:
    """A fixed-capacity FIFO replay buffer with uniform sampling.

    Args:
        capacity: how many items it holds; the oldest is overwritten first.
        fields: ``{name: (shape, dtype)}`` of one item, for instance
            ``{"obs": ((4,), np.float32), "act": ((), np.int64)}``. Dtypes:
            float32, float64, int64, int32, uint8, bool.
        seed: makes sampling reproducible (None: fresh entropy).
        rate_limiter: a ``SampleToInsertRatio`` making ``add`` and ``sample``
            wait for each other (None: they never wait).
        frame_stack: names of fields that are stacks of frames (shape
            ``(K, *frame)``, e.g. ``("obs", "next_obs")`` of ``(4, 84, 84)``
            uint8 Atari observations): stored one frame each, shared
            between the stacks and transitions they occur in, and rebuilt
            at sample time (in C++, the GIL released). ``add(env=...)``
            names the env (stream) each item came from.
        frame_capacity: frames such a buffer holds (default capacity +
            capacity // 32 + 1024: a stream stores about one new frame per
            step, plus a few per reset). Items whose frames were
            overwritten are evicted when drawn (``stats["evictions"]``).

    ``ReplayBuffer.nbytes_for(capacity, fields)`` tells what a buffer costs
    before it is allocated; a buffer that cannot fit the machine's
    available memory is a ValueError before anything is allocated.
    """

    _prioritized = False

    def __init__(
        self,
        capacity: int,
        fields: Mapping[str, Any],
        *,
        seed: int | None = None,
        rate_limiter: SampleToInsertRatio | None = None,
        frame_stack: Sequence[str] = (),
        frame_capacity: int | None = None,
    ) -> None:
        self._build(capacity, fields, seed, rate_limiter, alpha=0.0, eps=0.0, frame_stack=frame_stack,
                    frame_capacity=frame_capacity)

    def _build(
        self,
        capacity: int,
        fields: Mapping[str, Any],
        seed: int | None,
        rate_limiter: SampleToInsertRatio | None,
        alpha: float,
        eps: float,
        frame_stack: Sequence[str],
        frame_capacity: int | None,
    ) -> None:
        self._fields = _normalize_fields(fields)
        self._names = {n for n, _, _ in self._fields}
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
            raise TypeError(f"capacity: expected an int, got {type(capacity).__name__}")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise ValueError(f"seed: expected None or an int in [0, 2**64), got {seed!r}")
        if rate_limiter is not None and not isinstance(rate_limiter, SampleToInsertRatio):
            raise TypeError(f"rate_limiter: expected a SampleToInsertRatio or None, got {type(rate_limiter).__name__}")
        self.rate_limiter = rate_limiter
        check_fits_in_memory(type(self).nbytes_for(capacity, fields, frame_stack, frame_capacity),
                             f"a replay buffer of {capacity} items")
        self.frame_stack, frame_capacity = _frame_options(frame_stack, frame_capacity, capacity)
        self._writers = threading.local()  # frame stacks: each thread's FrameWriter
        self._core = _core.ReplayCore(
            int(capacity),
            [(n, s, d.name) for n, s, d in self._fields],
            self._prioritized,
            _number(alpha, "alpha"),
            _number(eps, "eps"),
            int(seed),
            None
            if rate_limiter is None
            else (
                _number(rate_limiter.samples_per_insert, "samples_per_insert"),
                _check_index(rate_limiter.min_size_to_sample, "min_size_to_sample"),
                _number(rate_limiter.error_buffer, "error_buffer"),
            ),
            list(self.frame_stack),
            frame_capacity,
        )

    @classmethod
    def nbytes_for(cls, capacity: int, fields: Mapping[str, Any], frame_stack: Sequence[str] = (),
                   frame_capacity: int | None = None) -> int:
        """Bytes a buffer of ``capacity`` items of ``fields`` allocates."""
        norm = _normalize_fields(fields)
        stacked, frame_capacity = _frame_options(frame_stack, frame_capacity, capacity)
        return _core.replay_bytes_for(_check_index(capacity, "capacity"), [(n, s, d.name) for n, s, d in norm],
                                      cls._prioritized, list(stacked), frame_capacity)

    @property
    def capacity(self) -> int:
        return self._core.capacity

    @property
    def nbytes(self) -> int:
        """Bytes this buffer allocated (data, slot table and trees)."""
        return self._core.nbytes

    @property
    def fields(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        return {n: (s, d) for n, s, d in self._fields}

    @property
    def stats(self) -> dict[str, int]:
        """Counters: adds, dropped, samples, torn_redraws, evictions, updates,
        stale_updates, and with frame stacks frames (frames stored)."""
        return self._core.stats

    def __len__(self) -> int:
        return self._core.size

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole state (items, priorities, counters, sampling stream)
        to ``path``. Atomic: a crash mid-save leaves any previous file intact.
        No other thread may use the buffer meanwhile."""
        self._core.save(os.fspath(path))

    def load(self, path: str | os.PathLike) -> None:
        """Restore a state written by ``save`` into this buffer, which must
        have the same capacity, fields and settings. A foreign, truncated or
        corrupt file raises ValueError and changes nothing."""
        self._core.load(os.fspath(path))

    def interrupt(self) -> None:
        """For shutdown: wake every thread the rate limiter holds in
        ``add``/``sample`` and make later calls that would wait give up at
        once (``add`` returns False, ``sample`` None)."""
        self._core.interrupt()

    def add(self, priorities: Any = None, timeout: float | None = None, env: Any = None, **items: Any) -> bool:
        """Add a batch: one array per field with a leading batch dimension.

        Arrays are cast to the field's dtype when numpy's "same_kind" rule
        allows it (float64 -> float32 yes, float -> int no). With a rate
        limiter, waits up to ``timeout`` seconds (None: as long as it takes;
        0: not at all) and returns False if the batch was not let in.
        ``env``: the index of the env (of this thread's) each item came
        from; a frame-stacked buffer shares frames within each env's
        stream (correct without it, but it stores more), others ignore it.
        """
        if priorities is not None:
            if not self._prioritized:
                raise TypeError("add: priorities= needs a PrioritizedReplayBuffer")
            priorities = np.ascontiguousarray(_as_numpy(priorities), dtype=np.float64)
        timeout = _timeout(timeout)
        writer = lanes = None
        if self.frame_stack:
            writer = self._writer()
            if env is not None:
                lanes = np.asarray(env)
                if lanes.dtype.kind not in "iu":
                    raise TypeError(f"env: expected integer env indices, got dtype {lanes.dtype.name}")
                lanes = np.ascontiguousarray(lanes, dtype=np.int64)
        added = self._core.add_if_exact(items, priorities, timeout, lanes, writer)  # None: needs converting first
        if added is not None:
            return added
        if items.keys() != self._names:
            names = [n for n, _, _ in self._fields]
            missing = [n for n in names if n not in items]
            unknown = sorted(set(items) - set(names))
            raise ValueError(f"add: expected the fields {names}, got {sorted(items)} (missing {missing}, unknown {unknown})")
        arrays, batch = [], None
        for name, shape, dtype in self._fields:
            a = _convert(name, items[name], shape, dtype)
            if batch is None:
                batch = a.shape[0]
            elif a.shape[0] != batch:
                raise ValueError(f"{name}: expected the batch size of {self._fields[0][0]} ({batch}), got {a.shape[0]}")
            arrays.append(a)
        return self._core.add(arrays, batch, priorities, timeout, lanes, writer)

    def _writer(self) -> Any:
        """This thread's FrameWriter (what it remembers of its envs' frames)."""
        writer = getattr(self._writers, "writer", None)
        if writer is None:
            writer = self._writers.writer = self._core.new_writer()
        return writer

    def sample(
        self, batch_size: int, timeout: float | None = None, device: Any = None
    ) -> dict[str, Any] | None:
        """``batch_size`` items drawn uniformly with replacement: one array per
        field plus ``handles`` naming the items. With a rate limiter, waits up
        to ``timeout`` seconds and returns None if not allowed by then.
        ``device`` (e.g. "cpu", "cuda"): return torch tensors there instead."""
        return batch_to_device(self._sample(batch_size, 0.0, timeout), device)

    def _sample(self, batch_size: int, beta: float, timeout: float | None,
                with_masses: bool = False) -> dict[str, np.ndarray] | None:
        result = self._core.sample(
            _check_index(batch_size, "batch_size"), _number(beta, "beta"), _timeout(timeout), with_masses
        )
        if result is None:
            return None
        arrays, handles, weights, masses = result
        out = {n: a for (n, _, _), a in zip(self._fields, arrays)}
        out["handles"] = handles
        if weights is not None:
            out["weights"] = weights
        if masses is not None:
            out["masses"] = masses
        return out


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016).

    ``P(i) = p_i^alpha / sum_k p_k^alpha`` with ``p_i = priority_i + eps``.
    New items get the largest ``p`` seen so far (initially 1) unless
    ``add(priorities=...)`` gives theirs (as Ape-X actors do). ``sample``
    draws one item in each of ``batch_size`` equal segments of the total
    priority (stratified) and returns importance weights
    ``w_i = (N P(i))^-beta / max_j (N P(j))^-beta``, the maximum taken over
    the whole buffer, which equals ``(p_min^alpha / p_i^alpha)^beta``.

    ``update_priorities(handles, priorities)`` skips (and counts in
    ``stats["stale_updates"]``) items overwritten since they were sampled.
    """

    _prioritized = True

    def __init__(
        self,
        capacity: int,
        fields: Mapping[str, Any],
        alpha: float = 0.6,
        eps: float = 1e-6,
        *,
        seed: int | None = None,
        rate_limiter: SampleToInsertRatio | None = None,
        frame_stack: Sequence[str] = (),
        frame_capacity: int | None = None,
    ) -> None:
        self._build(capacity, fields, seed, rate_limiter, alpha=alpha, eps=eps, frame_stack=frame_stack,
                    frame_capacity=frame_capacity)

    @property
    def max_priority(self) -> float:
        """The priority (with eps) new items get when none is given."""
        return self._core.max_priority

    @property
    def mass(self) -> tuple[float, float]:
        """``(sum, min)`` of ``p_i^alpha`` over the items held (min: inf
        when empty). A sampler over several buffers draws from each in
        proportion to its sum and normalises weights by the smallest min."""
        return self._core.mass()

    def sample(
        self, batch_size: int, beta: float = 0.4, timeout: float | None = None, device: Any = None,
        with_masses: bool = False,
    ) -> dict[str, Any] | None:
        """``batch_size`` items, stratified by priority: one array per field,
        ``handles`` and float64 importance ``weights`` for ``beta``. With a
        rate limiter, waits up to ``timeout`` seconds (None if not allowed).
        ``device`` (e.g. "cpu", "cuda"): return torch tensors there instead.
        ``with_masses``: also ``masses``, each item's ``p_i^alpha``."""
        return batch_to_device(self._sample(batch_size, beta, timeout, with_masses), device)

    def update_priorities(self, handles: Any, priorities: Any) -> int:
        """Set new priorities (e.g. ``|td_error|``, before eps and alpha) for
        sampled items; returns how many were stale and skipped."""
        handles = np.ascontiguousarray(_as_numpy(handles))
        if handles.dtype.kind not in "iu":
            raise TypeError(f"handles: expected the int64 handles from sample(), got dtype {handles.dtype.name}")
        priorities = np.ascontiguousarray(_as_numpy(priorities), dtype=np.float64)
        return self._core.update_priorities(handles.astype(np.int64, copy=False), priorities)


def _frame_options(frame_stack: Any, frame_capacity: Any, capacity: Any) -> tuple[tuple[str, ...], int]:
    """(stacked field names, frame capacity), checked, with the default capacity."""
    if isinstance(frame_stack, str) or not isinstance(frame_stack, Sequence) or not all(
            isinstance(name, str) for name in frame_stack):
        raise TypeError(f"frame_stack: expected a sequence of field names, e.g. ('obs', 'next_obs'), got "
                        f"{frame_stack!r}")
    if not frame_stack:
        if frame_capacity is not None:
            raise ValueError("frame_capacity: only a buffer with frame_stack has frames")
        return (), 0
    if frame_capacity is None:
        capacity = _check_index(capacity, "capacity")
        frame_capacity = capacity + capacity // 32 + 1024
    return tuple(frame_stack), _check_index(frame_capacity, "frame_capacity")


def available_memory() -> int | None:
    """Bytes of memory the kernel says are available for new allocations
    (MemAvailable), or None where it does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits_in_memory(nbytes: int, what: str) -> None:
    """A ValueError, before anything is allocated, when `what` needs more
    memory than the machine has available: replay memory is touched as it
    fills, so an oversized buffer would otherwise end hours later in the
    out-of-memory killer."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise ValueError(f"{what} needs {nbytes / 1e9:.2f} GB, and this machine has {available / 1e9:.2f} GB "
                         "available; lower the capacity (buffer_size)")


def _convert(name: str, a: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``a`` as a C-contiguous (batch, *shape) array of ``dtype``, or a clear error."""
    a = np.asarray(a)
    if a.ndim != len(shape) + 1 or a.shape[1:] != shape:
        raise ValueError(f"{name}: expected shape {('batch', *shape)}, got {a.shape}")
    if a.dtype != dtype and not np.can_cast(a.dtype, dtype, "same_kind"):
        raise TypeError(f"{name}: expected dtype {dtype.name} (or one that casts to it), got {a.dtype.name}")
    if a.dtype.kind in "iu" and dtype.kind in "iu" and a.size and not np.can_cast(a.dtype, dtype, "safe"):
        info = np.iinfo(dtype)  # a narrowing integer cast must not wrap around
        if a.min() < info.min or a.max() > info.max:
            raise ValueError(f"{name}: values outside {dtype.name}'s range [{info.min}, {info.max}]")
    return np.ascontiguousarray(a, dtype=dtype)


def _index(value: Any) -> int:
    """An int (or numpy integer), never a float or bool silently truncated."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    return operator.index(value)


def _check_index(value: Any, what: str) -> int:
    try:
        return _index(value)
    except TypeError:
        raise TypeError(f"{what}: expected an int, got {type(value).__name__}") from None


def _number(value: Any, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: expected a number, got {type(value).__name__}")
    return float(value)


def _timeout(timeout: float | None) -> float:
    """The core's form: seconds, negative for no limit."""
    if timeout is None:
        return -1.0
    timeout = float(timeout)
    if not timeout >= 0:
        raise ValueError(f"timeout: expected None or a number >= 0, got {timeout}")
    return timeout


def batch_to_device(batch: dict[str, np.ndarray] | None, device: Any) -> dict[str, Any] | None:
    """The batch as torch tensors on ``device``: zero-copy views on the CPU;
    for an accelerator, staged through pinned memory and copied without
    blocking (torch's pinned-memory cache keeps each staging buffer alive
    until its copy is done)."""
    if batch is None or device is None:
        return batch
    try:
        import torch
    except ImportError:
        raise ImportError("sample(device=...) needs torch: pip install torch") from None
    device = torch.device(device)
    out = {}
    for key, array in batch.items():
        tensor = torch.from_numpy(array)
        if device.type != "cpu":
            tensor = tensor.pin_memory(device).to(device, non_blocking=True) if _pinnable(device) else tensor.to(device)
        out[key] = tensor
    return out


def _pinnable(device: Any) -> bool:
    import torch

    return device.type == "cuda" and torch.cuda.is_available()


def _as_numpy(x: Any) -> np.ndarray:
    """numpy view of a numpy array, list or torch tensor (on any device)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)
