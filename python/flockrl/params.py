"""Weights shared through named shared memory: one learner publishes, actors
in threads or other processes pull the newest version without blocking it.

    store = ParamStore.create("run42", learner_net)      # owner; publishes version 1
    ...
    store.publish(learner_net)                           # every K updates -> new version

    actor = ParamStore.attach("run42", actor_net)        # any thread or process
    if actor.pull(actor_net) is not None: ...            # copied only when newer

The store's layout (tensor names, shapes, dtypes; parameters and buffers such
as BatchNorm statistics, i.e. everything in ``state_dict()``) comes from the
module; attaching with a different module raises a ``ValueError`` naming the
first differing tensor. A reader never sees a half-written snapshot and never
makes the publisher wait (see cpp/params/param_store.h).

Segments are private to the user (mode 0600) and named ``/dev/shm/flockrl.<name>``.
The owner removes its segment on ``close()``, when garbage collected, and at
interpreter exit (Ctrl-C included); a segment left by a killed owner is
reclaimed by the next ``create`` of that name.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flockrl import _core

__all__ = ["ParamStore"]

_FORMAT = 1
_RAW, _BFLOAT16, _FLOAT16 = 0, 1, 2


@dataclass(frozen=True)
class _Entry:
    name: str
    shape: tuple[int, ...]
    dtype: str  # as the module holds it, e.g. "float32"
    stored: str  # as the store holds it: the dtype, or "bfloat16"/"float16" for a narrowed float32
    nbytes: int

    @property
    def encoding(self) -> int:
        if self.stored == self.dtype:
            return _RAW
        return _BFLOAT16 if self.stored == "bfloat16" else _FLOAT16

    def describe(self) -> str:
        return f"shape {self.shape} {self.dtype}"


def _torch():
    import torch

    return torch


def _dtype_name(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return x.dtype.name
    return str(x.dtype).removeprefix("torch.")


def _named_tensors(module: Any) -> list[tuple[str, Any]]:
    """The tensors a store holds for `module`, in a fixed order."""
    try:
        torch = _torch()
    except ImportError:  # numpy mappings work without torch
        torch = None
    if torch is not None and isinstance(module, torch.nn.Module):
        return list(module.state_dict().items())
    if isinstance(module, Mapping):
        items = list(module.items())
        for name, t in items:
            if not isinstance(name, str):
                raise TypeError(f"module: mapping keys must be str, got {type(name).__name__}")
            if not (isinstance(t, np.ndarray) or (torch is not None and isinstance(t, torch.Tensor))):
                raise TypeError(
                    f"module[{name!r}]: expected a torch.Tensor or numpy.ndarray, got {type(t).__name__}"
                )
        return items
    raise TypeError(
        "module: expected a torch.nn.Module or a mapping of names to tensors/arrays, "
        f"got {type(module).__name__}"
    )


def _entries_for(tensors: list[tuple[str, Any]], broadcast_dtype: Any) -> list[_Entry]:
    narrow = None
    if broadcast_dtype is not None:
        narrow = _dtype_name(_torch().empty(0, dtype=broadcast_dtype))
        if narrow not in ("bfloat16", "float16"):
            raise ValueError(f"broadcast_dtype: expected torch.bfloat16, torch.float16 or None, got {broadcast_dtype}")
    entries = []
    for name, t in tensors:
        dtype = _dtype_name(t)
        stored = narrow if (narrow and dtype == "float32") else dtype
        nbytes = t.nbytes if isinstance(t, np.ndarray) else t.numel() * t.element_size()
        entries.append(_Entry(name, tuple(t.shape), dtype, stored, int(nbytes)))
    return entries


def _describe(entries: list[_Entry]) -> str:
    return json.dumps(
        {"format": _FORMAT, "tensors": [[e.name, list(e.shape), e.dtype, e.stored] for e in entries]},
        separators=(",", ":"),
    )


def _parse_description(text: str, segment: str) -> list[_Entry]:
    try:
        doc = json.loads(text)
        if doc["format"] != _FORMAT:
            raise ValueError(f"layout format {doc['format']}, expected {_FORMAT}")
        return [
            _Entry(name, tuple(shape), dtype, stored, 0) for name, shape, dtype, stored in doc["tensors"]
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"shared memory {segment}: unreadable layout description ({e})") from None


def _first_difference(expected: list[_Entry], given: list[tuple[str, Any]], what: str) -> str | None:
    """A message naming the first tensor of `given` that does not fit `expected`."""
    for i, entry in enumerate(expected):
        if i >= len(given):
            return f"{what} lacks tensor {entry.name!r} ({entry.describe()})"
        name, t = given[i]
        shape, dtype = tuple(t.shape), _dtype_name(t)
        if name != entry.name:
            return f"tensor #{i}: the store has {entry.name!r}, {what} has {name!r}"
        if shape != entry.shape or dtype != entry.dtype:
            return f"tensor {name!r}: the store has {entry.describe()}, {what} has shape {shape} {dtype}"
    if len(given) > len(expected):
        return f"{what} has tensor {given[len(expected)][0]!r} that the store lacks"
    return None


_SHM_DIR, _SHM_PREFIX = "/dev/shm", "flockrl."  # where the segments are, and their names' prefix (shm_segment.h)


class ParamStore:
    """A versioned snapshot of a model's tensors in named shared memory.

    Create it with :meth:`create` (the owner, who publishes) or :meth:`attach`
    (a reader, in any thread or process of the same user). Thread safety:
    ``pull`` and ``version`` may be called from any number of threads at
    once; ``publish`` calls are serialised; ``close`` may race with either.
    """

    def __init__(self, core: Any, entries: list[_Entry], name: str, copy_threads: int | None):
        if copy_threads is None:
            copy_threads = min(4, len(os.sched_getaffinity(0)))
        elif not isinstance(copy_threads, int) or isinstance(copy_threads, bool):
            core.close()
            raise TypeError(f"copy_threads: expected an int, got {type(copy_threads).__name__}")
        try:
            core.copy_threads = copy_threads
        except ValueError:
            core.close()
            raise
        self._core = core
        self._entries = entries
        self._name = name
        # Version last pulled into each module: weakly keyed for modules, by
        # id with a strong reference (so the id is never reused) for dicts.
        self._pulled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._pulled_mappings: dict[int, tuple[Any, int]] = {}
        self._staging: Any = None
        self._offsets = np.cumsum([0] + [e.nbytes for e in entries]).tolist()  # into the staging buffer
        # Close (unlink, for the owner) when garbage collected or at exit.
        self._finalizer = weakref.finalize(self, core.close)

    @classmethod
    def create(
        cls, name: str, module: Any, *, broadcast_dtype: Any = None, num_buffers: int = 3,
        copy_threads: int | None = None,
    ) -> ParamStore:
        """Create store `name` laid out like `module` and publish its weights as version 1.

        broadcast_dtype: ``torch.bfloat16`` or ``torch.float16`` stores float32
        tensors at half the bytes (rounded to nearest even); readers get them
        back as float32. num_buffers: snapshot buffers (2-8); more lets slow
        readers finish before the writer needs their buffer again.
        copy_threads: threads a publish or pull may split its copy over once
        the snapshot exceeds 1 MiB per thread (default: up to 4, the CPUs
        this process may use). Raises FileExistsError if a live owner holds
        `name`.
        """
        _check_name(name)
        if not isinstance(num_buffers, int) or isinstance(num_buffers, bool):
            raise TypeError(f"num_buffers: expected an int, got {type(num_buffers).__name__}")
        tensors = _named_tensors(module)
        entries = _entries_for(tensors, broadcast_dtype)
        core = _core.ParamStoreCore.create(
            name, _describe(entries), [(e.nbytes, e.encoding) for e in entries], num_buffers
        )
        store = cls(core, entries, name, copy_threads)
        store.publish(module)
        return store

    @classmethod
    def attach(cls, name: str, module: Any, *, copy_threads: int | None = None) -> ParamStore:
        """Attach to store `name` as a reader; `module` must match its layout.

        copy_threads: as for :meth:`create`; a pull that another thread of the
        same handle is already splitting copies on its own thread.
        Raises FileNotFoundError if there is no such store and ValueError
        naming the first differing tensor if `module` does not match.
        """
        _check_name(name)
        description = _core.ParamStoreCore.read_description(name)
        stored = _parse_description(description, f"'/flockrl.{name}'")
        tensors = _named_tensors(module)
        problem = _first_difference(stored, tensors, "the module")
        if problem is not None:
            raise ValueError(f"cannot attach to parameter store {name!r}: {problem}")
        entries = [
            _Entry(e.name, e.shape, e.dtype, e.stored, _nbytes(t)) for e, (_, t) in zip(stored, tensors)
        ]
        core = _core.ParamStoreCore.attach(name, description, [(e.nbytes, e.encoding) for e in entries])
        return cls(core, entries, name, copy_threads)

    @staticmethod
    def reclaim(name: str) -> bool:
        """Remove store `name` if its owner is dead; True if one was removed.

        A live owner's store is left alone (False).
        """
        _check_name(name)
        try:
            return _core.ParamStoreCore.reclaim_if_stale(name)
        except FileExistsError:
            return False

    @staticmethod
    def reclaim_stale() -> list[str]:
        """Remove every store whose owner is dead (killed before it could
        clean up); returns their names. Live owners' stores, and segments
        that are not readable flockrl stores, are left alone."""
        removed = []
        try:
            entries = os.listdir(_SHM_DIR)
        except OSError:
            return removed
        for entry in sorted(entries):
            name = entry[len(_SHM_PREFIX):]
            if not entry.startswith(_SHM_PREFIX) or not name:
                continue
            try:
                if ParamStore.reclaim(name):
                    removed.append(name)
            except (ValueError, OSError):  # not a store of ours, or not ours to remove
                continue
        return removed

    # -- publishing and pulling --------------------------------------------

    def publish(self, module: Any) -> int:
        """Copy `module`'s tensors (CPU or CUDA) into the store as a new version; returns it.

        Owner only. Never waits for readers.
        """
        core = self._live_core()
        if not core.is_owner:
            raise RuntimeError(f"parameter store {self._name!r}: only its owner (pid {core.owner_pid}) publishes")
        tensors = self._check(module)
        addresses = []
        for i, (_, t) in enumerate(tensors):
            if _is_direct(t):
                addresses.append(_address(t))
            else:  # CUDA or non-contiguous: through the (pinned) staging buffer
                view = self._staging_view(i)
                view.copy_(t, non_blocking=True)
                addresses.append(view.data_ptr())
        _synchronize_cuda(tensors)
        return core.publish(addresses)

    def pull(self, module: Any, newer_than: int | None = None) -> int | None:
        """Copy the newest version into `module` if it is newer; return it, else None.

        newer_than defaults to the version this handle last pulled into this
        module, so ``pull`` in a loop copies each version at most once. When
        nothing is newer this costs a few atomic loads and copies nothing.
        """
        if newer_than is None:
            newer_than = self._last_pulled(module)
        core = self._live_core()
        if core.version <= newer_than:
            return None
        tensors = self._check(module)
        addresses, staged = [], []
        for i, (_, t) in enumerate(tensors):
            if _is_direct(t):
                if isinstance(t, np.ndarray) and not t.flags.writeable:
                    raise ValueError(f"module[{tensors[i][0]!r}]: the array is read-only")
                addresses.append(_address(t))
            else:
                view = self._staging_view(i)
                addresses.append(view.data_ptr())
                staged.append((t, view))
        version = core.pull(addresses, newer_than)
        if version == 0:
            return None
        for t, view in staged:
            t.copy_(view, non_blocking=True)
        _synchronize_cuda(tensors)
        self._remember_pulled(module, version)
        return version

    # -- state ----------------------------------------------------------------

    @property
    def version(self) -> int:
        """The newest published version (0 before any)."""
        return self._live_core().version

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_owner(self) -> bool:
        return self._live_core().is_owner

    @property
    def owner_alive(self) -> bool:
        """False once the owner closed the store or died (readers keep the last snapshot)."""
        return self._live_core().owner_alive

    @property
    def nbytes(self) -> int:
        """Bytes of one snapshot as stored (half for narrowed float32 tensors)."""
        return sum(e.nbytes // 2 if e.encoding != _RAW else e.nbytes for e in self._entries)

    @property
    def tensor_names(self) -> list[str]:
        return [e.name for e in self._entries]

    @property
    def stats(self) -> dict[str, int]:
        """retries: copies this handle discarded because the writer overtook them."""
        core = self._live_core()
        return {"version": core.version, "retries": core.retries, "segment_bytes": core.segment_bytes}

    def close(self) -> None:
        """Owner: remove the segment (readers keep their mapping). Reader: unmap. Idempotent."""
        self._finalizer()

    def __enter__(self) -> ParamStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if not self._finalizer.alive else f"version={self._core.version}"
        role = "owner" if self._finalizer.alive and self._core.is_owner else "reader"
        return f"ParamStore({self._name!r}, {role}, {len(self._entries)} tensors, {state})"

    # -- internals --------------------------------------------------------------

    def _live_core(self) -> Any:
        if not self._finalizer.alive:
            raise ValueError(f"parameter store {self._name!r} is closed")
        return self._core

    def _last_pulled(self, module: Any) -> int:
        try:
            return self._pulled.get(module, 0)
        except TypeError:
            entry = self._pulled_mappings.get(id(module))
            return entry[1] if entry is not None else 0

    def _remember_pulled(self, module: Any, version: int) -> None:
        try:
            self._pulled[module] = version
        except TypeError:
            self._pulled_mappings[id(module)] = (module, version)

    def _check(self, module: Any) -> list[tuple[str, Any]]:
        tensors = _named_tensors(module)
        problem = _first_difference(self._entries, tensors, "the module")
        if problem is not None:
            raise ValueError(f"parameter store {self._name!r}: {problem}")
        return tensors

    def _staging_view(self, i: int) -> Any:
        torch = _torch()
        if self._staging is None:
            pin = torch.cuda.is_available()  # pinned memory makes the CUDA copies asynchronous
            self._staging = torch.empty(self._offsets[-1], dtype=torch.uint8, pin_memory=pin)
        entry = self._entries[i]
        flat = self._staging[self._offsets[i] : self._offsets[i + 1]]
        return flat.view(getattr(torch, entry.dtype)).view(entry.shape)


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")


def _nbytes(t: Any) -> int:
    return int(t.nbytes) if isinstance(t, np.ndarray) else int(t.numel() * t.element_size())


def _is_direct(t: Any) -> bool:
    """Whether the store can copy straight to/from t's memory."""
    if isinstance(t, np.ndarray):
        if not t.flags.c_contiguous:
            raise ValueError("numpy arrays in a parameter store must be C-contiguous")
        return True
    return t.device.type == "cpu" and t.is_contiguous()


def _address(t: Any) -> int:
    if isinstance(t, np.ndarray):
        return int(t.ctypes.data) if t.nbytes else 1
    return int(t.data_ptr()) if t.numel() else 1


def _synchronize_cuda(tensors: list[tuple[str, Any]]) -> None:
    if any(not isinstance(t, np.ndarray) and t.device.type == "cuda" for _, t in tensors):
        _torch().cuda.synchronize()
