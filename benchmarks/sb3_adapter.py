"""Stable-Baselines3 on flockrl's native envs: SB3's PPO (its defaults,
MlpPolicy, CPU) training on `flockrl.sb3_vec_env` against SB3's own
DummyVecEnv and SubprocVecEnv of gymnasium envs (Monitor-wrapped, as
make_vec_env builds them), interleaved rounds, median kept. Also the VecEnv
alone (random actions through step(), no learner), which is where the
adapter's gain is: in PPO's loop the learner is most of the time.

    pip install "flockrl[sb3]"
    python benchmarks/sb3_adapter.py --env CartPole-v1 --num-envs 8 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

import flockrl
from flockrl.bench_envs import machine_description


def vec_envs(env_id: str, num_envs: int) -> dict[str, Callable[[], VecEnv]]:
    return {
        "flockrl.sb3_vec_env": lambda: flockrl.sb3_vec_env(env_id, num_envs, seed=0, num_threads=1),
        "SB3 DummyVecEnv": lambda: make_vec_env(env_id, num_envs, seed=0, vec_env_cls=DummyVecEnv),
        "SB3 SubprocVecEnv": lambda: make_vec_env(env_id, num_envs, seed=0, vec_env_cls=SubprocVecEnv),
    }


def stepping_rate(env: VecEnv, steps: int) -> float:
    """Env steps/s of random actions through the VecEnv interface."""
    space = env.action_space
    actions = [np.array([space.sample() for _ in range(env.num_envs)]) for _ in range(64)]
    env.reset()
    start = time.perf_counter()
    for t in range(steps // env.num_envs):
        env.step(actions[t % 64])
    return steps / (time.perf_counter() - start)


def ppo_rate(env: VecEnv, steps: int) -> float:
    """Env steps/s of SB3 PPO's whole loop (collection and learning)."""
    model = PPO("MlpPolicy", env, seed=0, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    return model.num_timesteps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step-steps", type=int, default=200_000, help="env steps per stepping measurement")
    parser.add_argument("--ppo-steps", type=int, default=32_768, help="env steps per PPO measurement")
    args = parser.parse_args()
    makers = vec_envs(args.env, args.num_envs)
    stepping: dict[str, list[float]] = {name: [] for name in makers}
    training: dict[str, list[float]] = {name: [] for name in makers}
    for _ in range(args.rounds):
        for name, make in makers.items():
            env = make()
            try:
                stepping[name].append(stepping_rate(env, args.step_steps))
                training[name].append(ppo_rate(env, args.ppo_steps))
            finally:
                env.close()
    print(f"Machine: {machine_description()}")
    print(f"SB3 VecEnvs of {args.env}, {args.num_envs} envs, median of {args.rounds} interleaved rounds\n")
    print("| VecEnv | env steps/s, random actions | × DummyVecEnv | SB3 PPO env steps/s | × DummyVecEnv |")
    print("|---|---:|---:|---:|---:|")
    base_step = statistics.median(stepping["SB3 DummyVecEnv"])
    base_ppo = statistics.median(training["SB3 DummyVecEnv"])
    for name in makers:
        step, ppo = statistics.median(stepping[name]), statistics.median(training[name])
        print(f"| {name} | {step:,.0f} | {step / base_step:.2f}x | {ppo:,.0f} | {ppo / base_ppo:.2f}x |")


if __name__ == "__main__":
    main()
