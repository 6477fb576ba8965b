"""Time to solve Pendulum-v1: flockrl SAC against Stable-Baselines3 SAC
with rl-zoo's tuned hyperparameters, on the same machine in one run.

    python benchmarks/compare_sac_sb3.py --seeds 5 --eval-every 1000

SB3 uses rl-zoo's Pendulum-v1 entry: lr 1e-3 and SB3's defaults otherwise
(buffer 1M, batch 256, learning_starts 100, tau 0.005, gamma 0.99,
train_freq 1, gradient_steps 1, net [256, 256], entropy coefficient
tuned from 1); flockrl its default SACConfig, which is the same with one
gradient step per env step expressed as 256 samples per insert. See
solve_race.py for how both are timed. Needs ``pip install
stable-baselines3``.
"""

from __future__ import annotations

import io

import numpy as np

from flockrl.algos.sac import SACConfig
from flockrl.algos.sac_trainer import SACTrainer
from solve_race import main, sb3_evaluate_and_stop


def run_flockrl(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    config = SACConfig.for_env(env).replace({"seed": seed, "total_steps": max_steps, "eval_interval": eval_every,
                                             "eval_episodes": 20, "stop_at_return": threshold})
    return SACTrainer(config, log=io.StringIO()).train().evaluations


def run_sb3(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    import gymnasium as gym
    from stable_baselines3 import SAC

    def act_of(model):
        def act(obs: np.ndarray) -> np.ndarray:
            return model.predict(obs, deterministic=True)[0]

        return act

    evaluations: list[dict] = []
    model = SAC("MlpPolicy", gym.make(env), learning_rate=1e-3, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=max_steps,
                callback=sb3_evaluate_and_stop(env, seed, eval_every, threshold, act_of, evaluations))
    return evaluations


if __name__ == "__main__":
    main("SAC", {"flockrl": run_flockrl, "sb3": run_sb3}, __doc__.split("\n\n")[0], envs=("Pendulum-v1",),
         max_steps=30_000)
