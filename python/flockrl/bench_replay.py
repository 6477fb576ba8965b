"""Replay-buffer throughput: flockrl's lock-free buffers against their peers.

A transition is ``obs`` f32[D], ``act`` int64, ``rew`` f32, ``next_obs``
f32[D] and ``done`` bool, the same fields and dtypes in every library. Every
buffer is filled to capacity before it is timed, so adds overwrite the oldest
items (the steady state) and sampling descends a full tree. What is timed:

* ``add``: one call adding a batch of 64 transitions, cycling through 16
  pre-drawn batches; throughput in transitions per second.
* ``sample+update`` (prioritized): one call sampling 256 transitions
  (``beta=0.4``) and one call setting the priorities of those 256 items to
  pre-drawn ``|N(0, 1)|`` values; rate in batches per second.
* ``sample`` (uniform buffers): one call sampling 256 transitions.
* concurrency (``measure_concurrency``): writer threads adding continuously
  while one learner thread does sample+update. The learner's rate is compared
  with its rate alone, and the writers' total add throughput with one
  writer alone.

Libraries:

* ``flockrl``: ``PrioritizedReplayBuffer(alpha=0.6, eps=1e-6)`` and
  ``ReplayBuffer``.
* ``cpprb``: ``PrioritizedReplayBuffer(alpha=0.6, eps=1e-6)`` and
  ``ReplayBuffer``, when cpprb imports. These are not thread-safe, so the
  concurrency scenario uses cpprb's Ape-X buffer ``MPPrioritizedReplayBuffer``
  instead (library ``cpprb MP``): built for many explorer processes and one
  learner, it is also correct with threads of one process.
* ``torchrl``: ``TensorDictPrioritizedReplayBuffer`` and
  ``TensorDictReplayBuffer`` over a ``LazyTensorStorage``, fed TensorDicts of
  CPU tensors, when TorchRL imports; the prioritized one only where TorchRL's
  C++ extension (its segment trees) loads.

Each rate is the best of ``repeats`` timed windows, to filter out other work
on a small machine. ``format_table(run())`` prints everything with the ratios
flockrl / peer, all measured in the same run.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

import flockrl
from flockrl.bench_envs import machine_description, si, time_steps

FLOCKRL = "flockrl"
CPPRB = "cpprb"
CPPRB_MP = "cpprb MP"
TORCHRL = "torchrl"
LIBRARIES = (FLOCKRL, CPPRB, TORCHRL)
PEERS = (CPPRB, TORCHRL)
CONCURRENT_LIBRARIES = (FLOCKRL, CPPRB_MP)

PRIORITIZED = "prioritized"
UNIFORM = "uniform"
ADD = "add"
SAMPLE = "sample"  # sample+update for prioritized buffers, sample alone for uniform ones

ADD_BATCH = 64
SAMPLE_BATCH = 256
BETA = 0.4
ALPHA = 0.6
EPS = 1e-6
_POOL = 16  # distinct pre-drawn add batches / priority arrays, cycled through
_FILL_BYTES = 8 << 20  # rows per fill call: about this many bytes of obs + next_obs

# Sizes and times of ``run(quick=True)``: a smoke test in a few seconds.
QUICK = {"capacity": 20_000, "wide_capacity": 4_000, "min_seconds": 0.06, "concurrent_seconds": 0.2}

CPPRB_THREADS_NOTE = (
    "cpprb PrioritizedReplayBuffer/ReplayBuffer are not thread-safe (no locking; cpprb documents "
    "MPPrioritizedReplayBuffer for concurrent use), so they are not run concurrently"
)


def fields(dim: int) -> dict[str, tuple[tuple[int, ...], Any]]:
    """flockrl's field spec of the benchmark transition with ``obs`` of size ``dim``."""
    return {
        "obs": ((dim,), np.float32),
        "act": ((), np.int64),
        "rew": ((), np.float32),
        "next_obs": ((dim,), np.float32),
        "done": ((), bool),
    }


def random_batch(dim: int, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` random transitions as numpy arrays with a leading batch dimension."""
    return {
        "obs": rng.standard_normal((n, dim), dtype=np.float32),
        "act": rng.integers(0, 8, size=n, dtype=np.int64),
        "rew": rng.standard_normal(n, dtype=np.float32),
        "next_obs": rng.standard_normal((n, dim), dtype=np.float32),
        "done": rng.random(n) < 0.01,
    }


def fill_rows(dim: int, capacity: int) -> int:
    """Rows per call when filling a buffer: ~8 MB of observations, at most ``capacity``."""
    return max(1, min(capacity, _FILL_BYTES // (8 * dim)))


# --- peers -------------------------------------------------------------------


def _cpprb() -> Any:
    """The cpprb module, or None where it is not installed or fails to load."""
    try:
        import cpprb
    except Exception:  # a binary built against another numpy raises ImportError or worse
        return None
    return cpprb


def _torchrl() -> Any:
    """The torchrl module (with torch and tensordict), or None where it does not import."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tensordict  # noqa: F401
            import torch  # noqa: F401
            import torchrl
            import torchrl.data  # noqa: F401
    except Exception:
        return None
    return torchrl


def torchrl_prioritized_problem() -> str | None:
    """Why TorchRL's prioritized buffer cannot run here, or None if it can.

    Its sampler needs TorchRL's C++ extension, a binary tied to one torch
    release: against another torch it fails to load and TorchRL falls back
    to nothing for prioritized sampling.
    """
    torchrl = _torchrl()
    if torchrl is None:
        return "torchrl does not import"
    try:
        import torchrl._torchrl  # noqa: F401
    except Exception as e:
        import torch

        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "undefined symbol" in text:
            text = "undefined symbol, i.e. the binary was built for another torch release"
        elif len(text) > 100:
            text = text[:100] + "..."
        return (
            f"torchrl {torchrl.__version__}'s C++ extension (segment trees for prioritized sampling) "
            f"does not load against torch {torch.__version__} ({text})"
        )
    return None


@contextlib.contextmanager
def _quiet_torchrl() -> Iterator[None]:
    """TorchRL logs at INFO when a lazy storage allocates: keep that out of the table."""
    logger = logging.getLogger("torchrl")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _versions() -> str:
    """The peer versions, for the line under the machine description."""
    parts = []
    if _cpprb() is not None:
        parts.append(f"cpprb {importlib.metadata.version('cpprb')}")
    torchrl = _torchrl()
    if torchrl is not None:
        import torch

        parts.append(f"torchrl {torchrl.__version__} (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    return ", ".join(parts) or "none importable"


# --- one buffer behind one interface ----------------------------------------


class Subject:
    """One library's buffer with the operations the benchmark times.

    ``add(batch)`` adds one converted batch, ``sample(priorities)`` samples
    ``SAMPLE_BATCH`` items and, for a prioritized buffer, updates their
    priorities with one converted priority array. ``convert`` and
    ``convert_priorities`` turn numpy inputs into what the library takes;
    they run before timing.
    """

    def __init__(self, library: str, kind: str, dim: int, capacity: int, *, seed: int = 0) -> None:
        if kind not in (PRIORITIZED, UNIFORM):
            raise ValueError(f"kind: expected {PRIORITIZED!r} or {UNIFORM!r}, got {kind!r}")
        self.library, self.kind, self.dim, self.capacity = library, kind, dim, capacity
        prioritized = kind == PRIORITIZED
        if library == FLOCKRL:
            if prioritized:
                self.buffer = flockrl.PrioritizedReplayBuffer(capacity, fields(dim), alpha=ALPHA, eps=EPS, seed=seed)
            else:
                self.buffer = flockrl.ReplayBuffer(capacity, fields(dim), seed=seed)
            add, sample = self.buffer.add, self.buffer.sample
            self.add = lambda batch: add(**batch)
            if prioritized:
                update = self.buffer.update_priorities

                def sample_update(priorities: Any) -> None:
                    update(sample(SAMPLE_BATCH, BETA)["handles"], priorities)

                self.sample = sample_update
            else:
                self.sample = lambda priorities: sample(SAMPLE_BATCH)
        elif library in (CPPRB, CPPRB_MP):
            cpprb = _cpprb()
            if cpprb is None:
                raise ValueError("cpprb is not installed (or does not import)")
            env_dict = {
                "obs": {"shape": (dim,), "dtype": np.float32},
                "act": {"dtype": np.int64},
                "rew": {"dtype": np.float32},
                "next_obs": {"shape": (dim,), "dtype": np.float32},
                "done": {"dtype": np.bool_},
            }
            if library == CPPRB_MP:
                if not prioritized:
                    raise ValueError("cpprb MP: only the prioritized buffer is benchmarked")
                self.buffer = cpprb.MPPrioritizedReplayBuffer(capacity, env_dict, alpha=ALPHA, eps=EPS)
            elif prioritized:
                self.buffer = cpprb.PrioritizedReplayBuffer(capacity, env_dict, alpha=ALPHA, eps=EPS)
            else:
                self.buffer = cpprb.ReplayBuffer(capacity, env_dict)
            add, sample = self.buffer.add, self.buffer.sample
            self.add = lambda batch: add(**batch)
            if prioritized:
                update = self.buffer.update_priorities

                def sample_update(priorities: Any) -> None:
                    update(sample(SAMPLE_BATCH, beta=BETA)["indexes"], priorities)

                self.sample = sample_update
            else:
                self.sample = lambda priorities: sample(SAMPLE_BATCH)
        elif library == TORCHRL:
            if _torchrl() is None:
                raise ValueError("torchrl is not installed (or does not import)")
            from torchrl.data import LazyTensorStorage, TensorDictPrioritizedReplayBuffer, TensorDictReplayBuffer

            if prioritized:
                problem = torchrl_prioritized_problem()
                if problem is not None:
                    raise ValueError(problem)
                self.buffer = TensorDictPrioritizedReplayBuffer(
                    alpha=ALPHA, beta=BETA, eps=EPS, storage=LazyTensorStorage(capacity), batch_size=SAMPLE_BATCH
                )
            else:
                self.buffer = TensorDictReplayBuffer(storage=LazyTensorStorage(capacity), batch_size=SAMPLE_BATCH)
            extend, sample = self.buffer.extend, self.buffer.sample
            self.add = extend
            if prioritized:
                update = self.buffer.update_priority

                def sample_update(priorities: Any) -> None:
                    update(sample()["index"], priorities)

                self.sample = sample_update
            else:
                self.sample = lambda priorities: sample()
        else:
            raise ValueError(f"library: expected one of {', '.join((*LIBRARIES, CPPRB_MP))}, got {library!r}")

    def convert(self, batch: dict[str, np.ndarray]) -> Any:
        """A numpy batch in the form ``add`` takes (a TensorDict for TorchRL)."""
        if self.library != TORCHRL:
            return batch
        import torch
        from tensordict import TensorDict

        n = len(batch["act"])
        return TensorDict({k: torch.from_numpy(v) for k, v in batch.items()}, batch_size=[n])

    def convert_priorities(self, priorities: np.ndarray) -> Any:
        """float64 priorities in the form the update takes (a tensor for TorchRL)."""
        if self.library != TORCHRL:
            return priorities
        import torch

        return torch.from_numpy(priorities)

    def fill(self, batch: dict[str, np.ndarray]) -> None:
        """Adds ``batch`` (and a part of it at the end) until the buffer is full."""
        rows = len(batch["act"])
        with _quiet_torchrl() if self.library == TORCHRL else contextlib.nullcontext():
            for start in range(0, self.capacity, rows):
                n = min(rows, self.capacity - start)
                part = batch if n == rows else {k: v[:n] for k, v in batch.items()}
                self.add(self.convert(part))


def make_subject(library: str, kind: str, dim: int, capacity: int, *, seed: int = 0, fill: bool = True) -> Subject:
    """A ``Subject`` for ``library``'s ``kind`` buffer, filled to capacity with random transitions."""
    subject = Subject(library, kind, dim, capacity, seed=seed)
    if fill:
        rng = np.random.default_rng(seed + 1)
        subject.fill(random_batch(dim, fill_rows(dim, capacity), rng))
    return subject


def add_pool(dim: int, count: int = _POOL, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``count`` distinct random batches of ``ADD_BATCH`` transitions."""
    rng = np.random.default_rng(seed)
    return [random_batch(dim, ADD_BATCH, rng) for _ in range(count)]


def priority_pool(count: int = _POOL, seed: int = 0) -> list[np.ndarray]:
    """``count`` float64 arrays of ``SAMPLE_BATCH`` priorities ``|N(0, 1)|``."""
    rng = np.random.default_rng(seed + 2)
    return [np.abs(rng.standard_normal(SAMPLE_BATCH)) for _ in range(count)]


def available(library: str, kind: str) -> str | None:
    """None if ``library`` can run its ``kind`` buffer here, else why not."""
    if library == FLOCKRL:
        return None
    if library in (CPPRB, CPPRB_MP):
        return None if _cpprb() is not None else "cpprb is not installed (or does not import)"
    if library == TORCHRL:
        if _torchrl() is None:
            return "torchrl is not installed (or does not import)"
        return torchrl_prioritized_problem() if kind == PRIORITIZED else None
    raise ValueError(f"library: expected one of {', '.join((*LIBRARIES, CPPRB_MP))}, got {library!r}")


# --- measurements -------------------------------------------------------------


def _best_rate(
    op: Callable[[Any], Any], inputs: Sequence[Any], min_seconds: float, repeats: int
) -> tuple[float, int, float]:
    """Calls per second of ``op`` over ``inputs``: the best of ``repeats`` windows of
    ``min_seconds / repeats`` each. Returns ``(rate, calls, seconds)`` over all windows."""
    timings = [time_steps(op, inputs, min_seconds / repeats) for _ in range(repeats)]
    calls = sum(c for c, _ in timings)
    seconds = sum(s for _, s in timings)
    return max(c / s for c, s in timings), calls, seconds


def measure(
    library: str,
    kind: str,
    dim: int,
    capacity: int,
    *,
    ops: Iterable[str] = (ADD, SAMPLE),
    min_seconds: float = 1.0,
    repeats: int = 3,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows of ``run`` for one library, buffer kind and ``dim``: one per op.

    The buffer is built and filled once; ``sample`` is timed before ``add``,
    and a library that cannot run here gives rows with ``rate`` None and the
    reason in ``note``.
    """
    ops = [op for op in (SAMPLE, ADD) if op in tuple(ops)]
    base = {"library": library, "kind": kind, "dim": dim, "capacity": capacity, "repeats": repeats}
    problem = available(library, kind)
    if problem is not None:
        return [{**base, "op": op, "rate": None, "calls": 0, "seconds": 0.0, "note": problem} for op in ops]
    subject = make_subject(library, kind, dim, capacity, seed=seed)
    rows = []
    try:
        for op in ops:
            if op == SAMPLE:
                inputs = [subject.convert_priorities(p) for p in priority_pool(seed=seed)]
                rate, calls, seconds = _best_rate(subject.sample, inputs, min_seconds, repeats)
            else:
                inputs = [subject.convert(b) for b in add_pool(dim, seed=seed)]
                calls_per_sec, calls, seconds = _best_rate(subject.add, inputs, min_seconds, repeats)
                rate = ADD_BATCH * calls_per_sec
            rows.append({**base, "op": op, "rate": rate, "calls": calls, "seconds": seconds, "note": None})
    finally:
        del subject
        gc.collect()
    return rows


def _run_threads(ops: Sequence[Callable[[int], Any]], seconds: float, warmup: float) -> list[float]:
    """Runs each op in a loop on its own thread (``op(call_number)``), waits
    ``warmup``, then returns each thread's calls per second over ``seconds``."""
    stop = threading.Event()
    counts = [0] * len(ops)
    errors: list[BaseException] = []

    def loop(k: int, op: Callable[[int], Any]) -> None:
        try:
            n = 0
            while not stop.is_set():
                op(n)
                n += 1
                counts[k] = n
        except BaseException as e:  # reported by the main thread
            errors.append(e)
            stop.set()

    threads = [threading.Thread(target=loop, args=(k, op), daemon=True) for k, op in enumerate(ops)]
    for t in threads:
        t.start()
    try:
        time.sleep(warmup)
        # Counters only change under the GIL, which this thread holds here.
        before, start = list(counts), time.perf_counter()
        time.sleep(seconds)
        after, end = list(counts), time.perf_counter()
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return [(a - b) / (end - start) for a, b in zip(after, before)]


def measure_concurrency(
    library: str = FLOCKRL,
    dim: int = 4,
    capacity: int = 1_000_000,
    *,
    writers: int = 2,
    seconds: float = 2.0,
    rounds: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """``writers`` threads adding batches of 64 while one learner thread does
    sample+update, on one filled prioritized buffer of ``library``
    (``flockrl`` or ``cpprb MP``).

    Phases of ``seconds`` each (after a warmup of a quarter of it), in
    ``rounds`` rounds of: one writer alone, the writers alone, the learner
    alone, then the writers and the learner together. Rates are averaged
    over the rounds, so slow drift (other work on the machine, the priority
    distribution the learner reshapes) affects both sides of each ratio
    alike. Returns one row with the rate of each phase, ``learner_kept``
    (learner together / alone) and ``adds_vs_one_writer`` (the writers'
    total add rate together / one writer alone).
    """
    base = {"library": library, "kind": PRIORITIZED, "dim": dim, "capacity": capacity, "writers": writers}
    problem = available(library, PRIORITIZED)
    if problem is not None:
        return {**base, "note": problem}
    subject = make_subject(library, PRIORITIZED, dim, capacity, seed=seed)
    try:
        pools = [[subject.convert(b) for b in add_pool(dim, seed=seed + 10 * w)] for w in range(writers)]
        prios = [subject.convert_priorities(p) for p in priority_pool(seed=seed)]
        add, sample = subject.add, subject.sample

        def writer(w: int) -> Callable[[int], Any]:
            pool = pools[w]
            return lambda n: add(pool[n % len(pool)])

        def learner(n: int) -> Any:
            return sample(prios[n % len(prios)])

        warmup = seconds / 4
        load = os.getloadavg()[0]
        one_writer = learner_alone = writers_alone = adds_together = learner_together = 0.0
        for _ in range(rounds):
            one_writer += _run_threads([writer(0)], seconds, warmup)[0] / rounds
            writers_alone += sum(_run_threads([writer(w) for w in range(writers)], seconds, warmup)) / rounds
            learner_alone += _run_threads([learner], seconds, warmup)[0] / rounds
            *both, learner_with = _run_threads([*(writer(w) for w in range(writers)), learner], seconds, warmup)
            adds_together += sum(both) / rounds
            learner_together += learner_with / rounds
        stats = dict(subject.buffer.stats) if library == FLOCKRL else None
    finally:
        del subject
        gc.collect()
    return {
        **base,
        "seconds": seconds,
        "rounds": rounds,
        "load": load,
        "learner_alone": learner_alone,  # batches/s
        "learner_together": learner_together,
        "learner_kept": learner_together / learner_alone,
        "one_writer": ADD_BATCH * one_writer,  # transitions/s
        "writers_alone": ADD_BATCH * writers_alone,
        "writers_together": ADD_BATCH * adds_together,
        "adds_vs_one_writer": adds_together / one_writer,
        "stats": stats,
        "note": None,
    }


def run(
    dims: Iterable[int] = (4, 1024),
    capacity: int = 1_000_000,
    wide_capacity: int = 200_000,
    min_seconds: float = 1.0,
    peers: bool = True,
    *,
    concurrency: bool = True,
    concurrent_seconds: float = 1.5,
    repeats: int = 3,
    quick: bool = False,
) -> list[dict[str, Any]]:
    """Measure every library, buffer kind and ``dim``, then the concurrency scenario.

    Args:
        dims: observation sizes D.
        capacity: buffer capacity for D < 256 (the spec's 1,000,000).
        wide_capacity: capacity for D >= 256. At D=1024 a transition takes
            8 KiB, so 200,000 of them are 1.6 GB per buffer (1,000,000 would
            be 8 GB); buffers are built one at a time and freed after use.
        min_seconds: total timed time per (library, kind, op), split into
            ``repeats`` windows of which the fastest counts; each window has
            a warmup of a fifth of it. The whole default run takes about 70 s
            on 2 cores, most of it filling buffers and the threaded phases.
        repeats: the windows per measurement.
        peers: also measure cpprb and TorchRL where they import; False
            measures flockrl only.
        concurrency: also run ``measure_concurrency`` (D = the first of
            ``dims``, with its capacity) for flockrl and, with peers,
            ``cpprb MP``.
        concurrent_seconds: the length of each of its phases (4 phases in
            each of 2 rounds).
        quick: small sizes and short windows (``QUICK``) for a smoke test.

    Returns:
        One dict per measurement. Single-thread rows have ``library``,
        ``kind`` (prioritized/uniform), ``op`` (add/sample), ``dim``,
        ``capacity``, ``rate`` (transitions/s for add, batches of 256/s for
        sample; None when the library cannot run here), ``calls``,
        ``seconds`` and ``note``. Concurrency rows have ``op`` "concurrent"
        and the keys of ``measure_concurrency``.
    """
    if quick:
        capacity, wide_capacity = QUICK["capacity"], QUICK["wide_capacity"]
        min_seconds, concurrent_seconds = QUICK["min_seconds"], QUICK["concurrent_seconds"]
    dims = tuple(dims)
    libraries = LIBRARIES if peers else (FLOCKRL,)
    rows: list[dict[str, Any]] = []
    for dim in dims:
        cap = capacity if dim < 256 else wide_capacity
        for kind in (PRIORITIZED, UNIFORM):
            for library in libraries:
                rows += measure(library, kind, dim, cap, min_seconds=min_seconds, repeats=repeats)
    if concurrency and dims:
        cap = capacity if dims[0] < 256 else wide_capacity
        for library in CONCURRENT_LIBRARIES if peers else (FLOCKRL,):
            rows.append({"op": "concurrent", **measure_concurrency(library, dims[0], cap, seconds=concurrent_seconds)})
    return rows


# --- report -----------------------------------------------------------------


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown report of ``run``'s rows.

    A machine description and the peer versions first; then one table of the
    single-thread rates, one line per (D, buffer kind, op), with flockrl /
    each peer from the same run; then the concurrency table, and notes on
    whatever could not run. Libraries absent from every row get no column; a
    missing cell is "-".
    """
    single = [r for r in rows if r.get("op") in (ADD, SAMPLE)]
    concurrent = [r for r in rows if r.get("op") == "concurrent"]
    present = [lib for lib in LIBRARIES if any(r["library"] == lib and r["rate"] is not None for r in single)]
    peers = [lib for lib in PEERS if lib in present]
    measured_peers = {r["library"] for r in rows} & {CPPRB, CPPRB_MP, TORCHRL}
    lines = [f"Machine: {machine_description()}"]
    lines += [f"Peers: {_versions()}", ""] if measured_peers else [""]
    notes: dict[str, None] = {}

    if single:
        repeats = "/".join(str(n) for n in sorted({r.get("repeats", 1) for r in single if r["rate"] is not None}))
        lines += [
            "Single thread. Transition: obs f32[D], act i64, rew f32, next_obs f32[D], done bool; buffers "
            f"filled to capacity first; add = batches of {ADD_BATCH} (transitions/s), sample+update = sample "
            f"{SAMPLE_BATCH} (beta {BETA}) then update their {SAMPLE_BATCH} priorities (batches/s), uniform "
            f"buffers sample only. Best of {repeats or '-'} windows. x peer = flockrl / peer.",
            "",
        ]
        header = ["D", "capacity", "buffer", "op", *present, *(f"x {p}" for p in peers)]
        numeric = {"D", "capacity", *present, *(f"x {p}" for p in peers)}
        lines += [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---:" if h in numeric else "---" for h in header) + "|",
        ]
        groups: dict[tuple[int, int, str, str], dict[str, float | None]] = {}
        for r in single:
            groups.setdefault((r["dim"], r["capacity"], r["kind"], r["op"]), {})[r["library"]] = r["rate"]
            if r["rate"] is None and r["note"]:
                notes[f"{r['library']} {r['kind']}: not measured, {r['note']}"] = None
        for (dim, cap, kind, op), rates in groups.items():
            if op == ADD:
                op_name = f"add {ADD_BATCH}"
            else:
                op_name = f"sample+update {SAMPLE_BATCH}" if kind == PRIORITIZED else f"sample {SAMPLE_BATCH}"
            cells = [str(dim), si(cap), kind, op_name]
            cells += [si(rates[lib]) if rates.get(lib) is not None else "-" for lib in present]
            for peer in peers:
                ok = rates.get(FLOCKRL) is not None and rates.get(peer) is not None
                cells.append(f"{rates[FLOCKRL] / rates[peer]:.2f}x" if ok else "-")
            lines.append("| " + " | ".join(cells) + " |")

    if concurrent:
        measured = [r for r in concurrent if r.get("note") is None]
        if measured:
            r0 = measured[0]
            lines += [
                "",
                f"Concurrency: {r0['writers']} writer threads adding batches of {ADD_BATCH} + 1 learner thread doing "
                f"sample+update {SAMPLE_BATCH}, prioritized, D={r0['dim']}, capacity {si(r0['capacity'])} (filled); "
                f"{r0['seconds']:g} s per phase, mean of {r0['rounds']} rounds; load average before: "
                + ", ".join(f"{r['library']} {r['load']:.2f}" for r in measured)
                + ".",
                "",
                "| library | learner alone | learner + writers | learner kept | 1 writer alone | writers alone "
                "| writers + learner | adds vs 1 writer |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in measured:
                lines.append(
                    f"| {r['library']} | {si(r['learner_alone'])}/s | {si(r['learner_together'])}/s | "
                    f"{100 * r['learner_kept']:.0f}% | {si(r['one_writer'])}/s | {si(r['writers_alone'])}/s | "
                    f"{si(r['writers_together'])}/s | {r['adds_vs_one_writer']:.2f}x |"
                )
            lines.append("(learner: batches/s; writers: transitions/s, all writers together)")
            for r in measured:
                if r.get("stats"):
                    s = r["stats"]
                    lines.append(
                        f"{r['library']} stats after the run: torn_redraws {s['torn_redraws']}, "
                        f"stale_updates {s['stale_updates']}, dropped {s['dropped']}"
                    )
        for r in concurrent:
            if r.get("note"):
                notes[f"{r['library']} concurrency: not measured, {r['note']}"] = None
        if any(r["library"] == CPPRB_MP for r in concurrent):
            notes[CPPRB_THREADS_NOTE + "; cpprb MP is its MPPrioritizedReplayBuffer, run in threads"] = None

    if notes:
        lines.append("")
        lines += [f"Note: {n.rstrip('.')}." for n in notes]
    return "\n".join(lines)

