"""Parameter-store bandwidth: flockrl's ParamStore against the ways people
share weights today, and against memcpy of the same bytes (the limit).

For each size, a model of four ``Linear(w, w)`` layers holding about that many
float32 parameters. Copies measured (median seconds per copy, as GB/s of the
float32 bytes):

* ``memcpy``: ``np.copyto`` between two flat float32 arrays of that size;
* ``flockrl publish`` / ``flockrl pull``: ``store.publish(model)`` and
  ``reader.pull(model, newer_than=0)`` (Python wrapper included);
* ``... bf16``: the same with ``broadcast_dtype=torch.bfloat16``;
* ``load_state_dict``: ``model.load_state_dict(sd)`` from a state dict whose
  tensors were ``share_memory_()``-ed (the torch.multiprocessing way);
* ``shared_memory publish/pull``: a ``multiprocessing.shared_memory`` block
  and ``np.copyto`` per tensor in and out (no consistency at all).

Also: ``pull`` when nothing changed (microseconds), and the publisher's
median publish time while 4 reader processes pull every new version
(checking every 0.5 ms; the publisher paced like a learner, see
``publish_with_readers``), against its time alone. ``flockrl bench params`` prints
``format_table(run())``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Sequence
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from flockrl.bench_envs import machine_description
from flockrl.params import ParamStore

SIZES = (100_000, 1_000_000, 10_000_000, 100_000_000)
QUICK_SIZES = (100_000, 1_000_000, 10_000_000)
READERS = 4


def make_model(num_params: int, seed: int = 0) -> Any:
    """Four Linear(w, w) layers, w chosen so the model has about num_params."""
    import torch

    width = max(2, round((-1 + math.sqrt(1 + num_params)) / 2))  # 4 * (w*w + w) ~= num_params
    torch.manual_seed(seed)
    with torch.no_grad():
        return torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(4)))


def num_params(model: Any) -> int:
    return sum(t.numel() for t in model.state_dict().values())


def median_seconds(fn: Callable[[], Any], min_seconds: float, min_calls: int = 5) -> float:
    """Median duration of fn() over at least min_calls calls and min_seconds."""
    fn()  # warm-up: first-touch page faults, lazy allocations
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _unique_name() -> str:
    return f"bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"


# A reader (an actor: one copy thread) copies every new version and checks
# for one every 0.5 ms: on a small machine, readers spinning flat out would
# measure the OS scheduler.
_READER = """
import sys, time
from flockrl.bench_params import make_model
from flockrl.params import ParamStore
model = make_model(int(sys.argv[2]), seed=1)
store = ParamStore.attach(sys.argv[1], model, copy_threads=1)
print("ready", flush=True)
idle = 0
while idle % 256 or store.owner_alive:
    if store.pull(model) is None:
        idle += 1
        time.sleep(0.0005)
"""


def publish_with_readers(model: Any, seconds: float) -> tuple[float, float]:
    """The median publish time alone, and while READERS processes pull every version.

    The publisher publishes at a learner's pace, not back to back: one
    publish per 10x its solo publish time (a learner spends most of its time
    computing updates), so the readers' copies of one version can run on
    the other cores before the next.
    """
    store = ParamStore.create(_unique_name(), model)
    try:
        pause = 9 * median_seconds(lambda: store.publish(model), seconds / 2)
        durations: list[float] = []

        def paced_publish() -> None:
            time.sleep(pause)
            t0 = time.perf_counter()
            store.publish(model)
            durations.append(time.perf_counter() - t0)

        median_seconds(paced_publish, 5 * seconds)
        alone = float(np.median(durations))
        code = textwrap.dedent(_READER)
        readers = [
            subprocess.Popen([sys.executable, "-c", code, store.name, str(num_params(model))],
                             stdout=subprocess.PIPE, text=True)
            for _ in range(READERS)
        ]
        try:
            for r in readers:
                if r.stdout.readline().strip() != "ready":
                    raise RuntimeError("a reader process failed to start")
            durations.clear()
            median_seconds(paced_publish, 5 * seconds)
            contended = float(np.median(durations))
        finally:
            store.close()  # readers stop when the owner is gone
            for r in readers:
                r.wait(timeout=60)
    finally:
        store.close()
    return alone, contended


def measure_size(size: int, seconds: float) -> dict[str, Any]:
    import torch

    model, target = make_model(size, seed=0), make_model(size, seed=1)
    n = num_params(model)
    row: dict[str, Any] = {"params": n, "bytes": 4 * n}

    src, dst = np.ones(n, np.float32), np.zeros(n, np.float32)
    row["memcpy"] = median_seconds(lambda: np.copyto(dst, src), seconds)

    for label, dtype in (("flockrl", None), ("flockrl bf16", torch.bfloat16)):
        store = ParamStore.create(_unique_name(), model, broadcast_dtype=dtype)
        reader = ParamStore.attach(store.name, target)
        try:
            row[f"{label} publish"] = median_seconds(lambda: store.publish(model), seconds)
            row[f"{label} pull"] = median_seconds(lambda: reader.pull(target, newer_than=0), seconds)
            if dtype is None:
                reader.pull(target)
                calls = 200_000
                t0 = time.perf_counter()
                for _ in range(calls):
                    reader.pull(target)
                row["pull unchanged us"] = (time.perf_counter() - t0) / calls * 1e6
        finally:
            reader.close()
            store.close()

    shared = {k: v.clone().share_memory_() for k, v in model.state_dict().items()}
    row["load_state_dict"] = median_seconds(lambda: target.load_state_dict(shared), seconds)

    tensors = [t.numpy() for t in model.state_dict().values()]
    targets = [t.numpy() for t in target.state_dict().values()]
    block = shared_memory.SharedMemory(create=True, size=4 * n)
    try:
        views, offset = [], 0
        for t in tensors:
            views.append(np.ndarray(t.shape, np.float32, buffer=block.buf, offset=offset))
            offset += t.nbytes

        def shm_publish() -> None:
            for v, t in zip(views, tensors):
                np.copyto(v, t)

        def shm_pull() -> None:
            for t, v in zip(targets, views):
                np.copyto(t, v)

        row["shared_memory publish"] = median_seconds(shm_publish, seconds)
        row["shared_memory pull"] = median_seconds(shm_pull, seconds)
    finally:
        block.close()
        block.unlink()
    return row


COLUMNS = (
    "flockrl publish", "flockrl pull", "flockrl bf16 publish", "flockrl bf16 pull",
    "load_state_dict", "shared_memory publish", "shared_memory pull",
)


def run(sizes: Sequence[int] = SIZES, seconds: float = 0.5, contention_size: int = 10_000_000) -> dict[str, Any]:
    rows = [measure_size(s, seconds) for s in sizes]
    alone, contended = publish_with_readers(make_model(contention_size), 2 * seconds)
    return {
        "rows": rows,
        "contention": {"params": num_params(make_model(contention_size)), "alone": alone, "with_readers": contended},
    }


def format_table(result: dict[str, Any]) -> str:
    """GB/s per method and size (float32 bytes / median seconds), each as a
    fraction of memcpy's, then the unchanged-pull cost and the contention line."""
    lines = [
        f"Machine: {machine_description()}",
        "GB/s of float32 weights moved (median); (x memcpy) = that / memcpy of the same bytes",
        "",
        "| params | MB | memcpy | " + " | ".join(COLUMNS) + " |",
        "|---:|---:|---:|" + "---:|" * len(COLUMNS),
    ]
    for r in result["rows"]:
        bw = {k: r["bytes"] / r[k] / 1e9 for k in ("memcpy", *COLUMNS)}
        cells = [f"{r['params'] / 1e6:.3g}M", f"{r['bytes'] / 1e6:.0f}", f"{bw['memcpy']:.1f}"]
        cells += [f"{bw[c]:.1f} ({bw[c] / bw['memcpy']:.2f}x)" for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    unchanged = ", ".join(f"{r['params'] / 1e6:.3g}M {r['pull unchanged us']:.2f}" for r in result["rows"])
    lines.append(f"pull when nothing changed, us per call: {unchanged}")
    c = result["contention"]
    lines.append(
        f"publish of {c['params'] / 1e6:.3g}M params: {c['alone'] * 1e3:.2f} ms alone, "
        f"{c['with_readers'] * 1e3:.2f} ms with {READERS} reader processes pulling every version, "
        "one publish per 10x the solo time "
        f"({c['with_readers'] / c['alone']:.2f}x; {os.cpu_count()} cores)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(run()))
