"""Whole-loop speed of SAC on HalfCheetah-v5 (MuJoCo through gymnasium):
flockrl against Stable-Baselines3 with the same hyperparameters (rl-zoo's
MuJoCo entry: SB3's defaults, lr 3e-4, batch 256, one gradient step per
env step), one env each, interleaved runs of --steps env steps after
--learning-starts random ones. Prints env steps/s and learner updates/s
of the whole loop (acting, physics and learning; no evaluations) and the
ratios, and the mean return of --eval-episodes greedy episodes at the end
(the same envs and seeds for both).

    pip install "flockrl[mujoco]" stable-baselines3
    python benchmarks/halfcheetah_sac.py --steps 6000 --repeats 2
    python benchmarks/halfcheetah_sac.py --steps 100000 --learning-starts 10000 --repeats 1 --no-bf16
    python benchmarks/halfcheetah_sac.py --actors 1,2 --no-bf16 --no-sb3   # actor scaling

--actors N,M,...: flockrl with N actor threads (each one env, its own
exploration scale), same samples per insert (one update per env step), so
the learner paces them all.
"""

from __future__ import annotations

import argparse
import functools
import io
import statistics
import time

from flockrl.algos.sac import SACConfig
from flockrl.algos.sac_trainer import SACTrainer
from flockrl.bench_envs import machine_description
from flockrl.runtime.evaluate import evaluate

ENV = "HalfCheetah-v5"


def flockrl_run(steps: int, learning_starts: int, episodes: int, seed: int, **overrides
                ) -> tuple[float, float, float]:
    """(env steps/s, updates/s, final greedy return)."""
    config = SACConfig.for_env(ENV).replace({"total_steps": steps, "learning_starts": learning_starts,
                                            "eval_interval": 0, "eval_episodes": episodes, "seed": seed,
                                            **overrides})
    result = SACTrainer(config, log=io.StringIO()).train()
    seconds = result.final_eval["train_seconds"]
    return result.env_steps / seconds, result.updates / seconds, result.final_eval["mean"]


def sb3_run(steps: int, learning_starts: int, episodes: int, seed: int) -> tuple[float, float, float]:
    import gymnasium as gym
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", gym.make(ENV), learning_rate=3e-4, learning_starts=learning_starts, seed=seed,
                device="cpu", verbose=0)
    start = time.monotonic()
    model.learn(total_timesteps=steps)
    seconds = time.monotonic() - start
    returns = evaluate(lambda obs: model.predict(obs, deterministic=True)[0], ENV, episodes, seed=10_000 + seed)
    return steps / seconds, model._n_updates / seconds, float(returns.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--learning-starts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed+repeats-1")
    parser.add_argument("--eval-episodes", type=int, default=1)
    parser.add_argument("--no-bf16", action="store_true", help="skip flockrl's bfloat16 run")
    parser.add_argument("--no-sb3", action="store_true", help="skip SB3's run (ratios then against the first loop)")
    parser.add_argument("--actors", default="1", help="comma-separated actor counts for flockrl (default 1)")
    args = parser.parse_args()
    common = (args.steps, args.learning_starts, args.eval_episodes)
    loops = {}
    for actors in (int(a) for a in args.actors.split(",")):
        name = "flockrl SAC" + (f", {actors} actors" if actors > 1 else "")
        loops[name] = functools.partial(flockrl_run, *common, num_actors=actors)
    if not args.no_bf16:
        loops["flockrl SAC, bf16 hidden layers"] = functools.partial(flockrl_run, *common,
                                                                      learner_precision="bfloat16")
    if not args.no_sb3:
        loops["SB3 SAC"] = functools.partial(sb3_run, *common)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in loops}
    seeds = range(args.first_seed, args.first_seed + args.repeats)
    for seed in seeds:
        for name, run in loops.items():
            samples[name].append(run(seed))
    print(f"Machine: {machine_description()}")
    print(f"SAC on {ENV}: {args.steps} env steps ({args.learning_starts} random first), one env, "
          f"median of {args.repeats} (seeds {seeds.start}..{seeds.stop - 1})\n")
    baseline = "SB3 SAC" if "SB3 SAC" in samples else next(iter(samples))
    print(f"| loop | env steps/s | learner updates/s | × {baseline} (steps/s) | return ({args.eval_episodes} episodes) "
          f"| return per seed |")
    print("|---|---:|---:|---:|---:|---|")
    sb3 = statistics.median(s for s, _, _ in samples[baseline])
    for name, values in samples.items():
        sps, ups, ret = (statistics.median(v[k] for v in values) for k in range(3))
        per_seed = ", ".join(f"{v[2]:,.0f}" for v in values)
        print(f"| {name} | {sps:,.0f} | {ups:,.0f} | {sps / sb3:.2f}x | {ret:,.0f} | {per_seed} |")


if __name__ == "__main__":
    main()
