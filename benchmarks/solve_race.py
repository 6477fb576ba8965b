"""Shared by the compare_*_sb3.py scripts: train flockrl and
Stable-Baselines3 on one env, seeds interleaved so drift in machine load
hits both, until a greedy evaluation (20 episodes, the same envs and seeds
for both) reaches the threshold; print the median time to solve and the
ratio; optionally write the evaluations (JSON) and learning curves (PNG).
The clock counts training only: evaluations are timed and subtracted."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable

import numpy as np

from flockrl.bench_envs import machine_description
from flockrl.runtime.evaluate import evaluate

SOLVED = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0}
Runner = Callable[[str, int, int, int, float], list[dict]]
"""(env, seed, max_steps, eval_every, threshold) -> evaluations"""


def sb3_evaluate_and_stop(env: str, seed: int, eval_every: int, threshold: float,
                          act_of: Callable[[object], Callable], evaluations: list[dict]):
    """An SB3 callback: every eval_every env steps, evaluates act_of(model)
    like flockrl's trainers do and stops training once threshold is reached."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EvaluateAndStop(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.monotonic()
            self.eval_seconds = 0.0
            self.next_eval = eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += eval_every
            t0 = time.monotonic()
            returns = evaluate(act_of(self.model), env, 20, seed=10_000 + seed)
            evaluations.append({"env_steps": self.num_timesteps, "mean": float(returns.mean()),
                                "std": float(returns.std()), "train_seconds": t0 - self.start - self.eval_seconds})
            self.eval_seconds += time.monotonic() - t0
            return returns.mean() < threshold

    return EvaluateAndStop()


def time_to_solve(evaluations: list[dict], threshold: float) -> tuple[float, float]:
    """(train seconds, env steps) at the first evaluation reaching threshold; inf if none did."""
    for e in evaluations:
        if e["mean"] >= threshold:
            return e["train_seconds"], e["env_steps"]
    return math.inf, math.inf


def main(algo: str, runners: dict[str, Runner], description: str, envs: tuple[str, ...] = ("CartPole-v1",),
         max_steps: int = 100_000) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--env", default=envs[0], choices=envs)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=max_steps)
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument("--libraries", default="flockrl,sb3")
    parser.add_argument("--json", help="write every evaluation here")
    parser.add_argument("--plot", help="write a learning-curve PNG here")
    args = parser.parse_args()
    threshold = SOLVED[args.env]
    libraries = args.libraries.split(",")
    results: dict[str, list[list[dict]]] = {lib: [] for lib in libraries}
    print(f"Machine: {machine_description()}")
    print(f"{algo} on {args.env}: solved = mean of 20 greedy episodes >= {threshold}; max {args.max_steps} env steps")
    for seed in range(args.seeds):
        for lib in libraries:
            evaluations = runners[lib](args.env, seed, args.max_steps, args.eval_every, threshold)
            results[lib].append(evaluations)
            seconds, steps = time_to_solve(evaluations, threshold)
            print(f"  {lib:13s} seed {seed}: " + (f"solved at {steps} steps, {seconds:.1f} s of training"
                                                  if math.isfinite(seconds) else "not solved"), flush=True)
    print()
    print("| library | solved | median env steps to solve | median training seconds to solve |")
    print("|---|---:|---:|---:|")
    medians = {}
    for lib in libraries:
        solves = [time_to_solve(e, threshold) for e in results[lib]]
        medians[lib] = float(np.median([s for s, _ in solves]))
        steps = float(np.median([n for _, n in solves]))
        print(f"| {lib} | {sum(math.isfinite(s) for s, _ in solves)}/{len(solves)} | {steps:.0f} | "
              f"{medians[lib]:.1f} |")
    if "sb3" in medians:
        print()
        for lib in libraries:
            if lib != "sb3":
                print(f"{lib} / SB3 median time to solve: {medians[lib] / medians['sb3']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"algo": algo, "env": args.env, "threshold": threshold, "results": results}, f)
    if args.plot:
        plot(results, f"{algo} on {args.env}", threshold, args.plot)


def plot(results: dict[str, list[list[dict]]], title: str, threshold: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"flockrl": "tab:blue", "sb3": "tab:orange", "flockrl-bf16": "tab:green", "flockrl-1step": "tab:purple"}
    for lib, runs in results.items():
        for i, evaluations in enumerate(runs):
            steps = [e["env_steps"] for e in evaluations]
            seconds = [e["train_seconds"] for e in evaluations]
            means = [e["mean"] for e in evaluations]
            label = lib if i == 0 else None
            axes[0].plot(steps, means, color=colors.get(lib), alpha=0.7, label=label)
            axes[1].plot(seconds, means, color=colors.get(lib), alpha=0.7, label=label)
    for ax, xlabel in zip(axes, ("env steps", "training seconds")):
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("greedy return (20 episodes)")
        ax.legend()
    fig.suptitle(f"{title}: flockrl vs Stable-Baselines3 (one line per seed)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
