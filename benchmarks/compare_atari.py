"""Whole Atari training loops, env frames per second including learning:
flockrl's PPO against Stable-Baselines3's PPO (CnnPolicy, make_atari_env, 8
envs) and against a reference loop that does what CleanRL's
ppo_atari_envpool.py does (ppo_atari_reference.py), all with CleanRL's
hyperparameters; then flockrl's IMPALA and Ape-X with their presets, and
the actor-thread scaling of PPO and IMPALA. One run, same machine, runs
interleaved, median of --repeats.

    pip install "flockrl[atari]" stable-baselines3 envpool
    python benchmarks/compare_atari.py --steps 16384 --repeats 3

Frames are agent steps x 4 (frameskip). Seconds are training time: env
stepping, acting and learning, without evaluations. Every loop runs the
Nature CNN on the CPU with torch's threads at their default (flockrl
sets its own); flockrl's PPO once in float32 like the others, once with
its bfloat16 learner (learner_precision, the default "auto" on a CPU with
AVX-512 BF16). The value loss weight is CleanRL's: 0.5 x (0.5 MSE), i.e.
0.25 x MSE, in all three.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import torch

from flockrl.algos.registry import config_class, trainer_class
from flockrl.bench_envs import machine_description

GAME = "ALE/Breakout-v5"


def flockrl_frames_per_second(algo: str, steps: int, seed: int, **overrides) -> float:
    config = config_class(algo).for_env(GAME).replace({
        "total_steps": steps, "seed": seed, "eval_interval": 0, "eval_episodes": 1, "checkpoint_interval": 0,
        "env_kwargs": "max_num_frames_per_episode=2000", **overrides})
    result = trainer_class(algo)(config, log=io.StringIO()).train()
    return 4 * result.env_steps / result.evaluations[-1]["train_seconds"]


def sb3_frames_per_second(steps: int, seed: int) -> float:
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=8, seed=seed), n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, batch_size=256, n_epochs=4, learning_rate=lambda p: 2.5e-4 * p,
                clip_range=0.1, clip_range_vf=0.1, ent_coef=0.01, vf_coef=0.25, max_grad_norm=0.5, gae_lambda=0.95,
                gamma=0.99, seed=seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - start
    env.close()
    return 4 * model.num_timesteps / seconds


def reference_frames_per_second(steps: int, seed: int) -> float:
    from ppo_atari_reference import train

    result = train(total_steps=steps, seed=seed)
    return result["frames"] / result["seconds"]


def median_of(runs: Callable[[int], float], repeats: int) -> tuple[float, list[float]]:
    values = [runs(seed) for seed in range(repeats)]
    return statistics.median(values), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16384, help="agent steps per run (default 16384)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per loop, interleaved (default 3)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the actor-thread scaling table")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    loops = {
        "flockrl PPO": lambda seed: flockrl_frames_per_second("ppo", args.steps, seed, learner_precision="float32"),
        "flockrl PPO, bf16 learner": lambda seed: flockrl_frames_per_second("ppo", args.steps, seed,
                                                                            learner_precision="bfloat16"),
        "CleanRL-style reference PPO": lambda seed: reference_frames_per_second(args.steps, seed),
        "SB3 PPO": lambda seed: sb3_frames_per_second(args.steps, seed),
        "flockrl IMPALA (2 actors), bf16 learner": lambda seed: flockrl_frames_per_second(
            "impala", args.steps, seed, learner_precision="bfloat16"),
        "flockrl Ape-X (2 actors), bf16 learner": lambda seed: flockrl_frames_per_second(
            "apex", args.steps, seed, buffer_size=100_000, learning_starts=2_000, learner_precision="bfloat16"),
    }
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for seed in range(args.repeats):  # interleaved: load changes hit every loop alike
        for name, run in loops.items():
            samples[name].append(run(seed))
            torch.set_num_threads(threads)  # as every loop found it
    print(f"Machine: {machine_description()}, torch {torch.__version__}")
    print(f"{GAME}, {args.steps} agent steps per run, median of {args.repeats}; frames/s including learning\n")
    print("| training loop | frames/s | runs | flockrl PPO / this |")
    print("|---|---:|---|---:|")
    ppo = statistics.median(samples["flockrl PPO"])
    for name, values in samples.items():
        m = statistics.median(values)
        print(f"| {name} | {m:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} | {ppo / m:.2f}x |")
    if args.no_scaling:
        return
    print("\nActor threads (8 envs each), frames/s including learning:\n")
    print("| algo | 1 actor | 2 actors | speed-up |")
    print("|---|---:|---:|---:|")
    for algo, sync in (("ppo", "async"), ("impala", "async")):
        def run(seed: int, actors: int) -> float:
            return flockrl_frames_per_second(algo, args.steps, seed, num_actors=actors, sync=sync,
                                             learner_precision="bfloat16")

        one = median_of(lambda s: run(s, 1), args.repeats)[0]
        two = median_of(lambda s: run(s, 2), args.repeats)[0]
        print(f"| {algo} ({sync}) | {one:,.0f} | {two:,.0f} | {two / one:.2f}x |")


if __name__ == "__main__":
    main()
