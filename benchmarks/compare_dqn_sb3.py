"""Time to solve CartPole-v1 (or another env): flockrl DQN against
Stable-Baselines3 DQN with rl-zoo's tuned hyperparameters, on the same
machine in one run.

    python benchmarks/compare_dqn_sb3.py --seeds 5 --plot dqn_cartpole.png

Both train until a greedy evaluation (20 episodes, the same envs and seeds
for both) reaches the threshold, or max-steps. The clock counts training
only: evaluations are timed and subtracted for both libraries. SB3 uses
lr 2.3e-3, batch 64, buffer 100k, learning_starts 1000, gamma 0.99, target
update every 10 steps, train_freq 256, gradient_steps 128, exploration over
16% of the steps to 0.04, net [256, 256] (rl-zoo's CartPole-v1 entry);
flockrl its default DQNConfig, which expresses the same ratios as samples
per insert. Needs ``pip install stable-baselines3`` (and matplotlib for
--plot).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time

import numpy as np
import torch

from flockrl.algos.dqn import DQNConfig
from flockrl.algos.dqn_trainer import DQNTrainer
from flockrl.bench_envs import machine_description
from flockrl.runtime.evaluate import evaluate

SOLVED = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}


def run_flockrl(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    config = DQNConfig(env=env, seed=seed, total_steps=max_steps, eval_interval=eval_every, eval_episodes=20,
                       stop_at_return=threshold)
    return DQNTrainer(config, log=io.StringIO()).train().evaluations


def run_sb3(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    evaluations: list[dict] = []

    class EvaluateAndStop(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.monotonic()
            self.eval_seconds = 0.0

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            t0 = time.monotonic()
            q_net = self.model.q_net

            def act(obs: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    return q_net(torch.as_tensor(obs)).argmax(dim=1).numpy()

            returns = evaluate(act, env, 20, seed=10_000 + seed)
            evaluations.append({"env_steps": self.num_timesteps, "mean": float(returns.mean()),
                                "std": float(returns.std()), "train_seconds": t0 - self.start - self.eval_seconds})
            self.eval_seconds += time.monotonic() - t0
            return returns.mean() < threshold

    model = DQN(
        "MlpPolicy", gym.make(env), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
        learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
        exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs={"net_arch": [256, 256]},
        seed=seed, device="cpu", verbose=0,
    )
    model.learn(total_timesteps=max_steps, callback=EvaluateAndStop())
    return evaluations


def time_to_solve(evaluations: list[dict], threshold: float) -> tuple[float, float]:
    """(train seconds, env steps) at the first evaluation reaching threshold; inf if none did."""
    for e in evaluations:
        if e["mean"] >= threshold:
            return e["train_seconds"], e["env_steps"]
    return math.inf, math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="CartPole-v1", choices=sorted(SOLVED))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument("--libraries", default="flockrl,sb3")
    parser.add_argument("--json", help="write every evaluation here")
    parser.add_argument("--plot", help="write a learning-curve PNG here")
    args = parser.parse_args()
    threshold = SOLVED[args.env]
    runners = {"flockrl": run_flockrl, "sb3": run_sb3}
    libraries = args.libraries.split(",")
    results: dict[str, list[list[dict]]] = {lib: [] for lib in libraries}
    print(f"Machine: {machine_description()}")
    print(f"{args.env}: solved = mean of 20 greedy episodes >= {threshold}; max {args.max_steps} env steps")
    for seed in range(args.seeds):
        for lib in libraries:  # interleaved, so drift in machine load hits both
            evaluations = runners[lib](args.env, seed, args.max_steps, args.eval_every, threshold)
            results[lib].append(evaluations)
            seconds, steps = time_to_solve(evaluations, threshold)
            print(f"  {lib:8s} seed {seed}: " + (f"solved at {steps} steps, {seconds:.1f} s of training"
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
    if "flockrl" in medians and "sb3" in medians:
        print(f"\nflockrl / SB3 median time to solve: {medians['flockrl'] / medians['sb3']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": args.env, "threshold": threshold, "results": results}, f)
    if args.plot:
        plot(results, args.env, threshold, args.plot)


def plot(results: dict[str, list[list[dict]]], env: str, threshold: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"flockrl": "tab:blue", "sb3": "tab:orange"}
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
    fig.suptitle(f"DQN on {env}: flockrl vs Stable-Baselines3 (one line per seed)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
