"""Whole-loop speed of SAC on HalfCheetah-v5 (MuJoCo through gymnasium):
flockrl against Stable-Baselines3 with the same hyperparameters (rl-zoo's
MuJoCo entry: SB3's defaults, lr 3e-4, batch 256, one gradient step per
env step), one env each, interleaved runs of --steps env steps after
--learning-starts random ones. Prints env steps/s and learner updates/s
of the whole loop (acting, physics and learning; no evaluations) and the
ratios.

    pip install "flockrl[mujoco]" stable-baselines3
    python benchmarks/halfcheetah_sac.py --steps 6000 --repeats 2
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from flockrl.algos.sac import SACConfig
from flockrl.algos.sac_trainer import SACTrainer
from flockrl.bench_envs import machine_description

ENV = "HalfCheetah-v5"


def flockrl_rates(steps: int, learning_starts: int, seed: int, **overrides) -> tuple[float, float]:
    config = SACConfig.for_env(ENV).replace({"total_steps": steps, "learning_starts": learning_starts,
                                            "eval_interval": 0, "eval_episodes": 1, "seed": seed, **overrides})
    result = SACTrainer(config, log=io.StringIO()).train()
    seconds = result.final_eval["train_seconds"]
    return result.env_steps / seconds, result.updates / seconds


def sb3_rates(steps: int, learning_starts: int, seed: int) -> tuple[float, float]:
    import gymnasium as gym
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", gym.make(ENV), learning_rate=3e-4, learning_starts=learning_starts, seed=seed,
                device="cpu", verbose=0)
    start = time.monotonic()
    model.learn(total_timesteps=steps)
    seconds = time.monotonic() - start
    return steps / seconds, model._n_updates / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--learning-starts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    loops = {"flockrl SAC": lambda s: flockrl_rates(args.steps, args.learning_starts, s),
             "flockrl SAC, bf16 hidden layers": lambda s: flockrl_rates(args.steps, args.learning_starts, s,
                                                                         learner_precision="bfloat16"),
             "SB3 SAC": lambda s: sb3_rates(args.steps, args.learning_starts, s)}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in loops}
    for seed in range(args.repeats):
        for name, run in loops.items():
            samples[name].append(run(seed))
    print(f"Machine: {machine_description()}")
    print(f"SAC on {ENV}: {args.steps} env steps ({args.learning_starts} random first), one env, "
          f"median of {args.repeats}\n")
    print("| loop | env steps/s | learner updates/s | × SB3 (steps/s) |")
    print("|---|---:|---:|---:|")
    sb3 = statistics.median(s for s, _ in samples["SB3 SAC"])
    for name, values in samples.items():
        sps, ups = statistics.median(s for s, _ in values), statistics.median(u for _, u in values)
        print(f"| {name} | {sps:,.0f} | {ups:,.0f} | {sps / sb3:.2f}x |")


if __name__ == "__main__":
    main()
