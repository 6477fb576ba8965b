"""Where one SAC update's time goes, flockrl against Stable-Baselines3,
with the same shapes (an env's observation and action sizes, nets of
256 x 256, batch 256): the whole update, and how much of it is matrix
products (torch's profiler: mm, addmm, bmm, baddbmm, linear's kernels).
The products are arithmetic both libraries must do; so SB3's update time
over flockrl's product time bounds how much faster than SB3 any flockrl
loop at one update per env step can be on this machine.

    python benchmarks/sac_update_profile.py                  # HalfCheetah-v5's sizes: obs 17, action 6
    python benchmarks/sac_update_profile.py --obs 3 --act 1  # Pendulum-v1's

Both learners run on the CPU with torch's default threads, after warm-up
updates on a replay of random transitions; rounds alternate between the
two and the medians are printed. Needs ``pip install stable-baselines3``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from flockrl.algos.sac import SACConfig, SACLearner
from flockrl.bench_envs import machine_description
from flockrl.runtime.heap import retain_freed_memory

PRODUCTS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
BATCH = 256


def flockrl_update(obs_dim: int, act_dim: int) -> Callable[[], None]:
    obs_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    act_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
    learner = SACLearner(SACConfig(), obs_space, act_space, torch.device("cpu"))
    rng = np.random.default_rng(0)
    batches = [{"obs": torch.as_tensor(rng.standard_normal((BATCH, obs_dim), np.float32)),
                "next_obs": torch.as_tensor(rng.standard_normal((BATCH, obs_dim), np.float32)),
                "action": torch.as_tensor(rng.uniform(-1, 1, (BATCH, act_dim)).astype(np.float32)),
                "reward": torch.as_tensor(rng.standard_normal(BATCH, np.float32)),
                "discount": torch.full((BATCH,), 0.99)} for _ in range(8)]
    count = iter(range(1 << 62))
    return lambda: learner.update(batches[next(count) % len(batches)])


def sb3_update(obs_dim: int, act_dim: int) -> Callable[[], None]:
    from stable_baselines3 import SAC
    from stable_baselines3.common.logger import configure

    env = gym.make("Pendulum-v1")  # only for SB3's constructor; spaces replaced below
    env.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    env.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
    model = SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=10_000, device="cpu", seed=0, verbose=0)
    model.set_logger(configure(None, []))  # what learn() would set up; train() records its losses there
    rng = np.random.default_rng(0)
    for _ in range(2000):
        model.replay_buffer.add(rng.standard_normal((1, obs_dim), np.float32),
                                rng.standard_normal((1, obs_dim), np.float32),
                                rng.uniform(-1, 1, (1, act_dim)).astype(np.float32),
                                rng.standard_normal(1).astype(np.float32), np.zeros(1), [{}])
    return lambda: model.train(gradient_steps=1, batch_size=BATCH)


def seconds_per_update(update: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        update()
    return (time.perf_counter() - start) / count


def product_seconds_per_update(update: Callable[[], None], count: int) -> float:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(count):
            update()
    return sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in PRODUCTS) / 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--obs", type=int, default=17)
    parser.add_argument("--act", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=100, help="updates per round")
    args = parser.parse_args()
    retain_freed_memory()  # as flockrl's trainers do; SB3 runs in the same process, so it gets it too
    torch.set_flush_denormal(True)  # likewise
    learners = {"flockrl SAC": flockrl_update(args.obs, args.act), "SB3 SAC": sb3_update(args.obs, args.act)}
    totals: dict[str, list[float]] = {name: [] for name in learners}
    for update in learners.values():
        seconds_per_update(update, args.updates)  # warm-up
    for _ in range(args.rounds):
        for name, update in learners.items():
            totals[name].append(seconds_per_update(update, args.updates))
    products = {name: product_seconds_per_update(update, args.updates) for name, update in learners.items()}
    print(f"Machine: {machine_description()}")
    print(f"One SAC update: obs {args.obs}, action {args.act}, nets 256 x 256, batch {BATCH}, "
          f"{torch.get_num_threads()} torch threads; median of {args.rounds} rounds of {args.updates}\n")
    print("| learner | ms per update | of which matrix products (ms) | rest (ms) |")
    print("|---|---:|---:|---:|")
    for name in learners:
        total = statistics.median(totals[name])
        print(f"| {name} | {total * 1e3:.2f} | {products[name] * 1e3:.2f} | {(total - products[name]) * 1e3:.2f} |")
    sb3, ours = statistics.median(totals["SB3 SAC"]), statistics.median(totals["flockrl SAC"])
    print(f"\nflockrl's update: {sb3 / ours:.2f}x SB3's speed. Bound at one update per env step, "
          f"from the products alone: {sb3 / products['flockrl SAC']:.2f}x SB3 "
          f"(SB3's update over flockrl's products; acting, physics and the rest of the update at zero)")


if __name__ == "__main__":
    main()
