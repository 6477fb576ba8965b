"""Environment-stepping throughput: flockrl's native envs against their peers.

Every library steps the same env id with the same number of copies and the
same pre-drawn random actions, so only ``step()`` is timed. Libraries:

* ``flockrl``: ``make_vec(id, n, copy=False)``, the headline: step results
  are views into preallocated buffers, which is how a training loop that
  consumes each step before the next uses it.
* ``flockrl copy=True``: the default, a fresh copy of every result per step.
* ``gymnasium sync``: ``gym.make_vec(id, n, vectorization_mode="sync")``
  with ``copy=False`` too, so both sides return reused buffers.
* ``gymnasium vector``: gymnasium's numpy-vectorised env
  (``vectorization_mode="vector_entry_point"``), for the ids that have one.
* ``envpool``: ``envpool.make_gymnasium(id, num_envs=n, batch_size=n)`` in
  synchronous mode on as many threads as flockrl, when EnvPool imports.

Throughput is env steps per second: ``num_envs`` times the ``step()`` calls
made in the timed window. ``flockrl bench envs`` prints ``format_table(run())``.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import flockrl
from flockrl.cpuinfo import cpu_flags, cpu_info
from flockrl.envs import default_num_threads

FLOCKRL = "flockrl"
FLOCKRL_COPY = "flockrl copy=True"
GYM_SYNC = "gymnasium sync"
GYM_VECTOR = "gymnasium vector"
ENVPOOL = "envpool"
LIBRARIES = (FLOCKRL, FLOCKRL_COPY, GYM_SYNC, GYM_VECTOR, ENVPOOL)
PEERS = (GYM_SYNC, GYM_VECTOR, ENVPOOL)

_ACTION_POOL = 16  # distinct action arrays cycled through, drawn before timing
_CHUNK_SECONDS = 0.01  # the clock is read about this often while timing


def _envpool() -> Any:
    """The envpool module, or None where it is not installed or fails to load."""
    try:
        import envpool
    except Exception:  # a broken binary install raises ImportError or worse
        return None
    return envpool


def available_libraries(env_id: str) -> list[str]:
    """The libraries ``run`` measures for ``env_id`` on this machine."""
    libraries = [FLOCKRL, FLOCKRL_COPY, GYM_SYNC]
    if gym.spec(env_id).vector_entry_point is not None:
        libraries.append(GYM_VECTOR)
    envpool = _envpool()
    if envpool is not None and env_id in envpool.list_all_envs():
        libraries.append(ENVPOOL)
    return libraries


def make_env(
    library: str, env_id: str, num_envs: int, *, num_threads: int | None = None, seed: int = 0
) -> Any:
    """A reset vector env of ``num_envs`` copies of ``env_id`` built by ``library``.

    ``num_threads`` applies to flockrl and EnvPool (default: the CPUs this
    process may use, capped at ``num_envs`` for EnvPool, which needs no more).
    """
    if library in (FLOCKRL, FLOCKRL_COPY):
        copy = library == FLOCKRL_COPY
        env = flockrl.make_vec(env_id, num_envs, seed=seed, num_threads=num_threads, copy=copy)
        env.reset()
    elif library == GYM_SYNC:
        env = gym.make_vec(env_id, num_envs, vectorization_mode="sync", vector_kwargs={"copy": False})
        env.reset(seed=seed)
    elif library == GYM_VECTOR:
        env = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point")
        env.reset(seed=seed)
    elif library == ENVPOOL:
        threads = min(num_envs, num_threads or default_num_threads())
        with warnings.catch_warnings():
            # EnvPool declares float64 bounds for float32 Boxes, and gymnasium
            # warns on each when EnvPool first builds its (cached) spaces.
            warnings.filterwarnings("ignore", r".*Box (low|high)'s precision lowered", UserWarning)
            env = _envpool().make_gymnasium(
                env_id, num_envs=num_envs, batch_size=num_envs, num_threads=threads, seed=seed
            )
            _ = env.observation_space, env.action_space  # built now, under the filter
            env.reset()
    else:
        raise ValueError(f"library: expected one of {', '.join(LIBRARIES)}, got {library!r}")
    return env


def random_actions(env_id: str, num_envs: int, count: int = _ACTION_POOL, seed: int = 0) -> list[np.ndarray]:
    """``count`` batches of uniformly random actions in the layout flockrl takes:
    int64 ``(num_envs,)`` for discrete envs, float32 ``(num_envs, 1)`` for continuous."""
    probe = flockrl.make_vec(env_id, 1, seed=0)
    space = probe.single_action_space
    probe.close()
    rng = np.random.default_rng(seed)
    if isinstance(space, gym.spaces.Discrete):
        return [rng.integers(0, space.n, size=num_envs, dtype=np.int64) for _ in range(count)]
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    return [rng.uniform(low, high, size=(num_envs, *space.shape)).astype(np.float32) for _ in range(count)]


def time_steps(
    step: Callable[[np.ndarray], Any], actions: Sequence[np.ndarray], min_seconds: float
) -> tuple[int, float]:
    """Call ``step`` over ``actions`` (cycled) for at least ``min_seconds``.

    A warmup of ``min_seconds / 5`` (and at least one call) comes first and
    sizes the timed chunks. Returns ``(calls, seconds)`` of the timed part.
    """
    warmup_calls, start = 0, time.perf_counter()
    while True:
        step(actions[warmup_calls % len(actions)])
        warmup_calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds / 5:
            break
    # Chunks of ~10 ms keep the clock and loop bookkeeping out of the timing
    # even at ~1 us per call; a slow peer gets one call per chunk.
    chunk = max(1, round(_CHUNK_SECONDS * warmup_calls / elapsed))
    schedule = [actions[i % len(actions)] for i in range(chunk)]
    calls, start = 0, time.perf_counter()
    while True:
        for action in schedule:
            step(action)
        calls += chunk
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls, elapsed


def measure(
    library: str, env_id: str, num_envs: int, *, min_seconds: float = 0.5, num_threads: int | None = None
) -> dict[str, Any]:
    """One row of ``run``: the step throughput of one library, env and size."""
    env = make_env(library, env_id, num_envs, num_threads=num_threads)
    try:
        calls, seconds = time_steps(env.step, random_actions(env_id, num_envs), min_seconds)
        if library in (FLOCKRL, FLOCKRL_COPY):
            threads = env.num_threads
        elif library == ENVPOOL:
            threads = env.config["num_threads"]
        else:
            threads = None
    finally:
        env.close()
    return {
        "env_id": env_id,
        "num_envs": num_envs,
        "library": library,
        "num_threads": threads,
        "calls": calls,
        "seconds": seconds,
        "steps_per_sec": num_envs * calls / seconds,
    }


def run(
    env_ids: Iterable[str] = ("CartPole-v1", "Pendulum-v1", "Acrobot-v1"),
    num_envs: Iterable[int] = (1, 8, 64, 512, 4096),
    min_seconds: float = 0.5,
    peers: bool = True,
    *,
    num_threads: int | None = None,
) -> list[dict[str, Any]]:
    """Measure env steps per second for every env id and batch size.

    Args:
        env_ids: native env ids (see ``flockrl.NATIVE_ENV_IDS``).
        num_envs: batch sizes; each (id, size) pair is one group of rows.
        min_seconds: the timed window of each measurement, after a warmup of
            a fifth of it. Slow peers (gymnasium sync at 4096 envs) make as
            few calls as fit in it, at least one. 0.05 is enough for a smoke test.
        peers: also measure gymnasium (sync, and numpy-vectorised where the
            id has it) and EnvPool (when installed); False measures flockrl only.
        num_threads: flockrl's ``num_threads`` (and EnvPool's thread count);
            None uses every CPU this process may run on.

    Returns:
        One dict per measurement with keys ``env_id``, ``num_envs``,
        ``library`` (one of ``LIBRARIES``), ``num_threads`` (None for
        single-threaded gymnasium), ``calls``, ``seconds`` and ``steps_per_sec``.
    """
    rows = []
    for env_id in env_ids:
        if env_id not in flockrl.NATIVE_ENV_IDS:
            valid = ", ".join(flockrl.NATIVE_ENV_IDS)
            raise ValueError(f"env_ids: expected ids from {valid}, got {env_id!r}")
        libraries = available_libraries(env_id) if peers else [FLOCKRL, FLOCKRL_COPY]
        for n in num_envs:
            for library in libraries:
                rows.append(measure(library, env_id, n, min_seconds=min_seconds, num_threads=num_threads))
    return rows


def per_call_overhead(
    env_id: str = "CartPole-v1", min_seconds: float = 0.5, repeats: int = 5, peers: bool = True
) -> dict[str, float]:
    """Microseconds per ``step()`` call with a single env, per library.

    With one env the cost is almost all call overhead (argument checks,
    result wrapping). Each library is timed ``repeats`` times for
    ``min_seconds / repeats`` and the fastest is kept, to filter out
    scheduler noise. ``peers=False`` times flockrl alone.
    """
    libraries = available_libraries(env_id) if peers else [FLOCKRL, FLOCKRL_COPY]
    overhead = {}
    for library in libraries:
        env = make_env(library, env_id, 1)
        try:
            actions = random_actions(env_id, 1)
            timings = [time_steps(env.step, actions, min_seconds / repeats) for _ in range(repeats)]
            best = min(seconds / calls for calls, seconds in timings)
        finally:
            env.close()
        overhead[library] = best * 1e6
    return overhead


def cpu_description() -> str:
    """The CPU's model name, its family and model numbers (a VM often shows
    only "AMD EPYC") and its widest vector arithmetic: "AMD EPYC (family 25
    model 1, AVX2)". Matrix products, and so learners, run at very
    different speeds on AVX2, AVX-512 and AVX-512 BF16 or AMX."""
    info, flags = cpu_info(), cpu_flags()
    widest = next((name for name, flag in (("AMX", "amx_bf16"), ("AVX-512 BF16", "avx512_bf16"),
                                           ("AVX-512", "avx512f"), ("AVX2", "avx2")) if flag in flags), None)
    details = [f"family {info['cpu family']} model {info['model']}"] if "cpu family" in info and "model" in info else []
    details += [widest] if widest else []
    name = info.get("model name", platform.processor() or platform.machine())
    return f"{name} ({', '.join(details)})" if details else name


def machine_description() -> str:
    """One line naming the CPU, core count, load and the versions that matter.

    The 1-minute load average (this process included) is there because other
    work on a small machine shows up as slow multi-threaded rows.
    """
    cpu = cpu_description()
    versions = [
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"gymnasium {gym.__version__}",
    ]
    if "torch" in sys.modules:  # learners' speed is torch's (not imported here for env benchmarks)
        versions.append(f"torch {sys.modules['torch'].__version__}")
    if _envpool() is not None:
        versions.append(f"envpool {importlib.metadata.version('envpool')}")
    versions.append(f"flockrl {flockrl.__version__}")
    cores = f"{os.cpu_count()} cores ({default_num_threads()} usable, load {os.getloadavg()[0]:.2f})"
    return f"{cpu}, {cores}; " + ", ".join(versions)


def si(value: float) -> str:
    """3 significant digits with a k/M/G suffix: 12.3M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of ``run``'s rows: steps/s per library, one line per
    (env id, num_envs), then flockrl (copy=False) / each peer from the same run.

    Libraries absent from every row get no column; a missing cell is "-".
    A machine description comes first, and the time per ``step()`` call at
    ``num_envs=1`` last.
    """
    present = [lib for lib in LIBRARIES if any(r["library"] == lib for r in rows)]
    peers = [lib for lib in PEERS if lib in present]
    groups: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        groups.setdefault((r["env_id"], r["num_envs"]), {})[r["library"]] = r["steps_per_sec"]
    threads = sorted({r["num_threads"] for r in rows if r["library"] == FLOCKRL and r["num_envs"] > 1})

    header = ["env", "num_envs", *present, *(f"x {p}" for p in peers)]
    lines = [
        f"Machine: {machine_description()}",
        f"env steps/s (flockrl num_threads={'/'.join(map(str, threads)) or '-'}); x peer = flockrl / peer",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i > 0 else "---" for i in range(len(header))) + "|",
    ]
    for (env_id, n), speeds in groups.items():
        cells = [env_id, str(n), *(si(speeds[lib]) if lib in speeds else "-" for lib in present)]
        for peer in peers:
            ok = FLOCKRL in speeds and peer in speeds
            cells.append(f"{speeds[FLOCKRL] / speeds[peer]:.1f}x" if ok else "-")
        lines.append("| " + " | ".join(cells) + " |")

    singles = [r for r in rows if r["num_envs"] == 1]
    if singles:
        lines.append("")
    for env_id in dict.fromkeys(r["env_id"] for r in singles):
        per_call = ", ".join(
            f"{r['library']} {1e6 / r['steps_per_sec']:.2f}" for r in singles if r["env_id"] == env_id
        )
        lines.append(f"{env_id}, num_envs=1, us per step() call: {per_call}")
    return "\n".join(lines)
