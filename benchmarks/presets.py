"""What the presets reach: each (algorithm, env) trained with nothing but
its preset (`Config.for_env`, what `flockrl train ALGO --env ENV` uses), on
this machine, against rl-zoo's published result for the same preset
(benchmark.md: one run each, mean return of its trained agent). Prints the
best greedy evaluation (the model best.pt keeps; mean of the preset's
eval_episodes, 20 by default), the last one, and training seconds.

    pip install "flockrl[box2d]"
    python benchmarks/presets.py                       # every measured row (an hour or more on 2 cores)
    python benchmarks/presets.py --only ppo:LunarLander-v3 --only dqn:LunarLander-v3 --seeds 0,1
"""

from __future__ import annotations

import argparse
import io
import tempfile

from flockrl.algos.registry import config_class, trainer_class
from flockrl.bench_envs import machine_description

RL_ZOO = {
    # (algo, env): (rl-zoo's mean return, its budget), from rl-baselines3-zoo's benchmark.md
    # (its LunarLander rows were measured on v2).
    ("ppo", "CartPole-v1"): (500.0, "100k"),
    ("ppo", "MountainCar-v0"): (-110.4, "1M"),
    ("ppo", "Acrobot-v1"): (-73.5, "1M"),
    ("ppo", "Pendulum-v1"): (-172.2, "100k"),
    ("ppo", "MountainCarContinuous-v0"): (88.3, "20k"),
    ("ppo", "LunarLander-v3"): (242.1, "1M"),
    ("ppo", "LunarLanderContinuous-v3"): (270.9, "1M"),
    ("dqn", "CartPole-v1"): (500.0, "50k"),
    ("dqn", "MountainCar-v0"): (-100.8, "120k"),
    ("dqn", "Acrobot-v1"): (-76.6, "100k"),
    ("dqn", "LunarLander-v3"): (154.4, "100k"),
    ("sac", "Pendulum-v1"): (-157.0, "20k"),
    ("sac", "MountainCarContinuous-v0"): (94.7, "50k"),
    ("td3", "Pendulum-v1"): (-151.9, "20k"),
}
"""The rows measured by default; the other presets (BipedalWalker, MuJoCo,
SAC/TD3 on LunarLanderContinuous) need hours on 2 cores."""


def run(algo: str, env: str, seed: int) -> dict[str, float]:
    config = config_class(algo).for_env(env).replace({"seed": seed})
    with tempfile.TemporaryDirectory() as run_dir:
        result = trainer_class(algo)(config, run_dir=run_dir, log=io.StringIO()).train()
    best = max(result.evaluations, key=lambda e: e["mean"])
    final = result.final_eval
    return {"steps": result.env_steps, "best": best["mean"], "best_std": best["std"], "best_at": best["env_steps"],
            "final": final["mean"], "seconds": final["train_seconds"], "episodes": config.eval_episodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="ALGO:ENV", help="run only these rows (repeatable)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    args = parser.parse_args()
    rows = [tuple(item.split(":", 1)) for item in args.only] if args.only else list(RL_ZOO)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"Machine: {machine_description()}\n")
    print("| algo | env | preset steps | best greedy eval (at steps) | last eval | train s | rl-zoo | seed |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for algo, env in rows:
        for seed in seeds:
            r = run(algo, env, seed)
            zoo, budget = RL_ZOO.get((algo, env), (float("nan"), "-"))
            print(f"| {algo} | {env} | {r['steps']:,.0f} | {r['best']:.1f} ± {r['best_std']:.1f} "
                  f"({r['best_at']:,.0f}) | {r['final']:.1f} | {r['seconds']:.0f} | {zoo:.1f} ({budget}) | {seed} |",
                  flush=True)


if __name__ == "__main__":
    main()
