"""Learning Breakout on this machine's CPUs: flockrl's PPO (its Atari preset,
CleanRL's hyperparameters) and Stable-Baselines3's PPO (CnnPolicy,
make_atari_env, 8 envs, the same hyperparameters) for the same number of
frames, one after the other; the game scores of their training games
against frames in one PNG, and a random policy's score for reference.

    pip install "flockrl[atari]" stable-baselines3 matplotlib
    python benchmarks/atari_learning.py --frames 1000000 --plot docs/ppo_breakout.png

Game score: the unclipped return of a whole game (all lives); each curve
is the mean of the last 100 finished games, as flockrl's progress.csv
reports it (SB3: its Monitor's games, the same window). Wall seconds
include everything but flockrl's final evaluation.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np

from flockrl.algos.ppo import PPOConfig
from flockrl.algos.ppo_trainer import PPOTrainer
from flockrl.bench_envs import machine_description
from flockrl.runtime.evaluate import evaluate

GAME = "ALE/Breakout-v5"


def random_policy_score(games: int = 30) -> float:
    rng = np.random.default_rng(0)
    return float(evaluate(lambda obs: rng.integers(0, 4, len(obs)), GAME, games, seed=123).mean())


def run_flockrl(steps: int, seed: int) -> dict:
    run_dir = Path(tempfile.mkdtemp(prefix="flockrl-breakout-"))
    config = PPOConfig.for_env(GAME).replace({"total_steps": steps, "seed": seed, "eval_interval": 0,
                                              "eval_episodes": 8, "checkpoint_interval": 0})
    start = time.perf_counter()
    result = PPOTrainer(config, run_dir=run_dir, log=io.StringIO()).train()
    seconds = result.evaluations[-1]["train_seconds"]
    with open(run_dir / "progress.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["return_mean"] not in ("", "nan")]
    curve = [(4 * int(r["env_steps"]), float(r["return_mean"])) for r in rows]
    return {"curve": curve, "seconds": seconds, "wall": time.perf_counter() - start,
            "final_eval": result.evaluations[-1]["mean"], "run_dir": str(run_dir)}


def run_sb3(steps: int, seed: int) -> dict:
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    window: deque[float] = deque(maxlen=100)
    curve: list[tuple[int, float]] = []

    class GameScores(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:  # Monitor, inside the Atari wrappers: a whole game, unclipped
                    window.append(info["episode"]["r"])
                    curve.append((4 * self.num_timesteps, float(np.mean(window))))
            return True

    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=8, seed=seed), n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, batch_size=256, n_epochs=4, learning_rate=lambda p: 2.5e-4 * p,
                clip_range=0.1, clip_range_vf=0.1, ent_coef=0.01, vf_coef=0.25, max_grad_norm=0.5, gae_lambda=0.95,
                gamma=0.99, seed=seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=GameScores())
    seconds = time.perf_counter() - start
    env.close()
    return {"curve": curve, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1_000_000, help="frames per library (default 1M)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", help="write the learning curves to this PNG (needs matplotlib)")
    args = parser.parse_args()
    steps = args.frames // 4
    random_score = random_policy_score()
    ours = run_flockrl(steps, args.seed)
    sb3 = run_sb3(steps, args.seed)
    print(f"Machine: {machine_description()}")
    print(f"{GAME}, {args.frames:,} frames each, seed {args.seed}; random policy: {random_score:.2f} per game\n")
    print("| library | training seconds | frames/s | mean game score, last 100 games at the end |")
    print("|---|---:|---:|---:|")
    for name, r in (("flockrl PPO", ours), ("SB3 PPO", sb3)):
        end = r["curve"][-1][1] if r["curve"] else float("nan")
        print(f"| {name} | {r['seconds']:.0f} | {args.frames / r['seconds']:,.0f} | {end:.2f} |")
    print(f"\nflockrl's final evaluation (8 games, 5% random actions): {ours['final_eval']:.2f}; "
          f"run directory {ours['run_dir']}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, r in (("flockrl PPO", ours), ("SB3 PPO", sb3)):
            frames, scores = zip(*r["curve"])
            ax.plot(np.array(frames) / 1e6, scores, label=f"{name} ({r['seconds'] / 60:.0f} min)")
        ax.axhline(random_score, color="gray", linestyle=":", label="random policy")
        ax.set_xlabel("frames (millions)")
        ax.set_ylabel("game score, mean of last 100 games")
        ax.set_title(f"PPO on {GAME}, CleanRL's hyperparameters, 2 CPU cores")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
