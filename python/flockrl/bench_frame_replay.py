"""Replay of Atari frames: memory per transition, add rate and prioritized
sample+update rate of flockrl's frame-stacked buffer against cpprb's
``next_of`` + ``stack_compress`` on the same stream, and whether every
sampled stack is the one the env produced.

The stream is real: Breakout with random actions, 4 x 84 x 84 stacks,
life losses ending training episodes (the stack goes on, as ALE's does) and
games ending in resets. Both buffers get it step by step from one env, in
the layout each takes (cpprb stacks along the last axis), and cpprb is
told where the stream restarts (``on_episode_end`` at each new game).
Memory is what the process's resident set grew by while the buffer filled
(pages are touched as they fill, for both; the stream is recorded before),
over the transitions held.
Each transition's obs and next_obs are fingerprinted as they go in, and
every sampled stack is checked against its fingerprint.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import flockrl
from flockrl.bench_envs import machine_description

FLOCKRL = "flockrl"
CPPRB = "cpprb next_of + stack_compress"
GAME = "ALE/Breakout-v5"


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def fingerprint(stack: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(stack).tobytes(), digest_size=8).digest()


def stream(steps: int, seed: int = 0):
    """(obs, action, reward, next_obs, terminated, new_game) per step of one env."""
    env = flockrl.make_vec(GAME, 1, seed=seed, num_threads=1, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset()
    for _ in range(steps):
        action = rng.integers(0, 4, 1)
        next_obs, reward, terminated, truncated, infos = env.step(action)
        game_over = bool(infos.get("_episode", [False])[0])
        true_next = infos["final_obs"] if game_over else next_obs
        yield obs[0], int(action[0]), float(reward[0]), true_next[0], bool(terminated[0] or truncated[0]), game_over
        obs = next_obs
    env.close()


class FlockrlFrames:
    def __init__(self, capacity: int):
        fields = {"obs": ((4, 84, 84), np.uint8), "next_obs": ((4, 84, 84), np.uint8), "action": ((), np.int64),
                  "reward": ((), np.float32), "done": ((), bool), "id": ((), np.int64)}
        self.buffer = flockrl.PrioritizedReplayBuffer(capacity, fields, frame_stack=("obs", "next_obs"), seed=0)
        self._env = np.zeros(1, np.int64)

    def add(self, obs, action, reward, next_obs, done, new_game, ident) -> None:
        self.buffer.add(obs=obs[None], next_obs=next_obs[None], action=[action], reward=[reward], done=[done],
                        id=[ident], env=self._env)

    def sample_update(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = self.buffer.sample(batch, beta=0.4)
        self.buffer.update_priorities(b["handles"], rng.random(batch))
        return b["id"], b["obs"], b["next_obs"]


class CpprbFrames:
    def __init__(self, capacity: int):
        import cpprb

        env_dict = {"obs": {"shape": (84, 84, 4), "dtype": np.uint8}, "act": {"dtype": np.int64}, "rew": {},
                    "done": {}, "id": {"dtype": np.int64}}
        self.buffer = cpprb.PrioritizedReplayBuffer(capacity, env_dict, next_of="obs", stack_compress="obs")

    def add(self, obs, action, reward, next_obs, done, new_game, ident) -> None:
        # cpprb stacks along the last axis; the transposes are the caller's layout, not timed apart.
        self.buffer.add(obs=obs.transpose(1, 2, 0), next_obs=next_obs.transpose(1, 2, 0), act=action, rew=reward,
                        done=done, id=ident)
        if new_game:  # the stack restarts with the next add
            self.buffer.on_episode_end()

    def sample_update(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = self.buffer.sample(batch, beta=0.4)
        self.buffer.update_priorities(b["indexes"], rng.random(batch) + 1e-6)
        return (b["id"].reshape(-1), b["obs"].transpose(0, 3, 1, 2), b["next_obs"].transpose(0, 3, 1, 2))


def measure(make: Callable[[int], Any], steps: list[tuple], batch: int, seconds: float) -> dict[str, Any]:
    fingerprints = {i: (fingerprint(step[0]), fingerprint(step[3])) for i, step in enumerate(steps)}
    before = resident_bytes()
    buffer = make(len(steps))
    add_seconds = 0.0
    for ident, (obs, action, reward, next_obs, done, new_game) in enumerate(steps):
        t0 = time.perf_counter()
        buffer.add(obs, action, reward, next_obs, done, new_game, ident)
        add_seconds += time.perf_counter() - t0
    grown = resident_bytes() - before
    steps = len(steps)
    rng = np.random.default_rng(0)
    calls, wrong, checked, start = 0, 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ids, obs, next_obs = buffer.sample_update(batch, rng)
        calls += 1
    elapsed = time.perf_counter() - start
    for _ in range(20):  # correctness, outside the timing
        ids, obs, next_obs = buffer.sample_update(batch, rng)
        for i, ident in enumerate(ids):
            checked += 1
            wrong += (fingerprint(obs[i]), fingerprint(next_obs[i])) != fingerprints[int(ident)]
    return {"bytes_per_transition": grown / steps, "adds_per_sec": steps / add_seconds,
            "sample_updates_per_sec": calls / elapsed, "wrong": wrong, "checked": checked}


def run(steps: int = 20_000, batch: int = 32, seconds: float = 3.0, peers: bool = True) -> dict[str, dict[str, Any]]:
    libraries: dict[str, Callable[[int], Any]] = {FLOCKRL: FlockrlFrames}
    if peers:
        try:
            import cpprb  # noqa: F401

            libraries[CPPRB] = CpprbFrames
        except ImportError:
            pass
    recorded = list(stream(steps))  # one stream for both, in memory before any buffer is measured
    return {name: measure(make, recorded, batch, seconds) for name, make in libraries.items()}


def format_table(results: dict[str, dict[str, Any]], steps: int, batch: int) -> str:
    naive = 2 * 4 * 84 * 84
    lines = [f"Machine: {machine_description()}",
             f"{GAME}, one stream of {steps} transitions (random actions, life losses, new games), prioritized, "
             f"sample {batch} + update {batch}; naive storage is {naive:,} bytes a transition", "",
             "| replay | bytes / transition | x naive | adds/s | sample+update/s | wrong stacks sampled |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['bytes_per_transition']:,.0f} | {r['bytes_per_transition'] / naive:.3f} | "
                     f"{r['adds_per_sec']:,.0f} | {r['sample_updates_per_sec']:,.0f} | {r['wrong']} of {r['checked']} |")
    if FLOCKRL in results and CPPRB in results:
        f, c = results[FLOCKRL], results[CPPRB]
        lines.append(f"\nflockrl / cpprb: memory {f['bytes_per_transition'] / c['bytes_per_transition']:.2f}x, "
                     f"adds {f['adds_per_sec'] / c['adds_per_sec']:.2f}x, "
                     f"sample+update {f['sample_updates_per_sec'] / c['sample_updates_per_sec']:.2f}x")
    return "\n".join(lines)
