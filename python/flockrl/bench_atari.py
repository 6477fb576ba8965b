"""Atari env throughput: flockrl's ``make_vec`` against ale-py's own vector
env called directly, EnvPool, and gymnasium's AsyncVectorEnv over
AtariPreprocessing + FrameStackObservation (the Python route).

Every library runs the same game with the training settings (84x84 gray, 4
frames stacked, frameskip 4, up to 30 noops, no sticky actions, life-loss
episodes, clipped rewards) on the same pre-drawn random actions, and only
``step()`` is timed. flockrl, ale-py and EnvPool step on ``num_threads``
C++ threads; gymnasium's route runs one process per env. Throughput is
agent steps per second (frames: 4x that). ``flockrl bench atari`` prints
``format_table(run())``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import flockrl
from flockrl.bench_envs import machine_description, si, time_steps
from flockrl.envs import atari, default_num_threads

FLOCKRL = "flockrl"
ALE = "ale-py AtariVectorEnv"
ENVPOOL = "envpool"
GYM_ASYNC = "gymnasium async"
LIBRARIES = (FLOCKRL, ALE, ENVPOOL, GYM_ASYNC)
PEERS = (ALE, ENVPOOL, GYM_ASYNC)


def available_libraries() -> list[str]:
    libraries = [FLOCKRL, ALE]
    try:
        import envpool  # noqa: F401

        libraries.append(ENVPOOL)
    except Exception:  # not installed, or a binary that fails to load
        pass
    try:
        import cv2  # noqa: F401  (AtariPreprocessing resizes with OpenCV)

        libraries.append(GYM_ASYNC)
    except ImportError:
        pass
    return libraries


def _gymnasium_atari(game: str) -> Any:
    def make() -> gym.Env:
        atari.require_ale_py()
        env = gym.make(game, frameskip=1, repeat_action_probability=0.0)
        env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84,
                                              terminal_on_life_loss=True)
        env = gym.wrappers.TransformReward(env, np.sign)
        return gym.wrappers.FrameStackObservation(env, 4)

    return make


def make_env(library: str, game: str, num_envs: int, num_threads: int, seed: int = 0) -> Any:
    """A reset vector env of ``num_envs`` copies of ``game`` built by ``library``."""
    if library == FLOCKRL:
        env = flockrl.make_vec(game, num_envs, seed=seed, num_threads=num_threads)
    elif library == ALE:
        from ale_py.vector_env import AtariVectorEnv

        # What flockrl builds underneath (it takes life losses and clipping on itself).
        env = AtariVectorEnv(atari.rom_name(game), num_envs, num_threads=num_threads, repeat_action_probability=0.0,
                             life_loss_info=False, reward_clipping=False)
    elif library == ENVPOOL:
        import envpool

        env = envpool.make_gymnasium(game.removeprefix("ALE/"), num_envs=num_envs, batch_size=num_envs,
                                     num_threads=min(num_threads, num_envs), seed=seed, episodic_life=True,
                                     reward_clip=True, repeat_action_probability=0.0)
    elif library == GYM_ASYNC:
        env = gym.vector.AsyncVectorEnv([_gymnasium_atari(game)] * num_envs)
    else:
        raise ValueError(f"library: expected one of {', '.join(LIBRARIES)}, got {library!r}")
    env.reset(seed=None if library == ENVPOOL else seed)  # EnvPool takes its seed at make
    return env


def measure(library: str, game: str, num_envs: int, *, num_threads: int, min_seconds: float) -> dict[str, Any]:
    env = make_env(library, game, num_envs, num_threads)
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, env.single_action_space.n, num_envs) for _ in range(16)]
    try:
        calls, seconds = time_steps(env.step, actions, min_seconds)
    finally:
        env.close()
    return {"game": game, "num_envs": num_envs, "library": library, "calls": calls, "seconds": seconds,
            "steps_per_sec": num_envs * calls / seconds}


def run(game: str = "ALE/Breakout-v5", num_envs: Iterable[int] = (8, 32), min_seconds: float = 3.0,
        peers: bool = True, num_threads: int | None = None, rounds: int = 3) -> list[dict[str, Any]]:
    """Agent steps per second of each library, ``rounds`` times interleaved
    (the median is reported: a 2-core machine's timings move run to run)."""
    atari.rom_name(game)  # a clear error for an unknown game, before anything runs
    threads = num_threads or default_num_threads()
    libraries = available_libraries() if peers else [FLOCKRL, ALE]
    rows = []
    for n in num_envs:
        samples: dict[str, list[float]] = {lib: [] for lib in libraries}
        for _ in range(rounds):
            for library in libraries:
                samples[library].append(measure(library, game, n, num_threads=threads,
                                                min_seconds=min_seconds)["steps_per_sec"])
        rows += [{"game": game, "num_envs": n, "library": lib, "num_threads": threads,
                  "steps_per_sec": float(np.median(v)), "runs": v} for lib, v in samples.items()]
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    present = [lib for lib in LIBRARIES if any(r["library"] == lib for r in rows)]
    peers = [p for p in PEERS if p in present]
    groups: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        groups.setdefault((r["game"], r["num_envs"]), {})[r["library"]] = r["steps_per_sec"]
    versions = [f"ale-py {importlib.metadata.version('ale-py')}"]  # (EnvPool's is in the description)
    threads = rows[0]["num_threads"] if rows else "-"
    header = ["game", "num_envs", *present, *(f"flockrl / {p}" for p in peers)]
    lines = [f"Machine: {machine_description()}, {', '.join(versions)}",
             f"agent steps/s (frames/s = 4x), median of {len(rows[0]['runs']) if rows else 0} interleaved runs; "
             f"C++ libraries on {threads} threads, gymnasium one process per env",
             "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i > 0 else "---" for i in range(len(header))) + "|"]
    for (game, n), speeds in groups.items():
        cells = [game, str(n), *(si(speeds[lib]) if lib in speeds else "-" for lib in present)]
        cells += [f"{speeds[FLOCKRL] / speeds[p]:.2f}x" if p in speeds else "-" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
