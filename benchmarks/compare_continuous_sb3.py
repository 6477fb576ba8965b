"""Time to solve Pendulum-v1: flockrl SAC or TD3 against
Stable-Baselines3's with rl-zoo's tuned hyperparameters, on the same
machine in one run.

    python benchmarks/compare_continuous_sb3.py sac --seeds 5 --eval-every 1000 --libraries flockrl,flockrl-1step,sb3
    python benchmarks/compare_continuous_sb3.py td3 --seeds 5 --eval-every 1000 --libraries flockrl,flockrl-1step,sb3

SB3 runs rl-zoo's Pendulum-v1 entries. SAC: lr 1e-3 and SB3's defaults
(buffer 1M, batch 256, learning_starts 100, tau 0.005, gamma 0.99,
train_freq 1, gradient_steps 1, net [256, 256], entropy coefficient tuned
from 1). TD3: gamma 0.98, buffer 200k, learning_starts 10k, lr 1e-3, net
[400, 300], action noise N(0, 0.1), and SB3's defaults (batch 256, policy
delay 2, target noise 0.2 clipped at 0.5). flockrl runs its default
SACConfig / TD3Config: the same values, one gradient step per env step
expressed as 256 samples per insert, but 3-step returns; `flockrl-1step`
is flockrl with SB3's one-step targets (the same hyperparameters
throughout), `flockrl-bf16` flockrl with learner_precision=bfloat16
(worth it where the CPU has AVX-512 BF16 or AMX); `--libraries` picks
them (default flockrl,sb3). See solve_race.py for how they are timed.
Needs ``pip install stable-baselines3``.
"""

from __future__ import annotations

import io
import sys

import numpy as np

from flockrl.algos.registry import config_class, trainer_class
from solve_race import main, sb3_evaluate_and_stop


def flockrl_runner(algo: str, **overrides):
    def run(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
        config = config_class(algo).for_env(env).replace({
            "seed": seed, "total_steps": max_steps, "eval_interval": eval_every, "eval_episodes": 20,
            "stop_at_return": threshold, **overrides})
        return trainer_class(algo)(config, log=io.StringIO()).train().evaluations

    return run


def sb3_model(algo: str, env: str, seed: int):
    import gymnasium as gym
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise

    if algo == "sac":
        return SAC("MlpPolicy", gym.make(env), learning_rate=1e-3, seed=seed, device="cpu", verbose=0)
    return TD3("MlpPolicy", gym.make(env), gamma=0.98, buffer_size=200_000, learning_starts=10_000,
               learning_rate=1e-3, action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)),
               policy_kwargs={"net_arch": [400, 300]}, seed=seed, device="cpu", verbose=0)


def sb3_runner(algo: str):
    def run(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
        def act_of(model):
            return lambda obs: model.predict(obs, deterministic=True)[0]

        evaluations: list[dict] = []
        model = sb3_model(algo, env, seed)
        model.learn(total_timesteps=max_steps,
                    callback=sb3_evaluate_and_stop(env, seed, eval_every, threshold, act_of, evaluations))
        return evaluations

    return run


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("sac", "td3"):
        sys.exit(f"usage: {sys.argv[0]} sac|td3 [--seeds N] [--eval-every STEPS] ...")
    algo = sys.argv.pop(1)
    runners = {"flockrl": flockrl_runner(algo), "flockrl-1step": flockrl_runner(algo, n_step=1),
               "flockrl-bf16": flockrl_runner(algo, learner_precision="bfloat16"), "sb3": sb3_runner(algo)}
    main(algo.upper(), runners, __doc__.split("\n\n")[0],
         envs=("Pendulum-v1",), max_steps=30_000)
