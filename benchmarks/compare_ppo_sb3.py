"""Time to solve CartPole-v1 (or Pendulum-v1): flockrl PPO against
Stable-Baselines3 PPO with rl-zoo's tuned hyperparameters, on the same
machine in one run.

    python benchmarks/compare_ppo_sb3.py --seeds 5 --plot ppo_cartpole.png
    python benchmarks/compare_ppo_sb3.py --env Pendulum-v1 --max-steps 200000

SB3 uses rl-zoo's entries. CartPole-v1: 8 envs, n_steps 32, batch 256, GAE
lambda 0.8, gamma 0.98, 20 epochs, entropy 0, learning rate and clip range
decaying linearly from 1e-3 and 0.2; flockrl's default PPOConfig has the
same values but for lr 2.5e-3 and GAE lambda 0.95 (one actor thread with 8
native envs, sync mode). Pendulum-v1:
4 envs, n_steps 1024, GAE lambda 0.95, gamma 0.9, 10 epochs, lr 1e-3,
clip 0.2, gSDE; flockrl its Pendulum-v1 preset (PPOConfig.for_env). See
solve_race.py for how both are timed. Needs ``pip install
stable-baselines3`` (and matplotlib for --plot).
"""

from __future__ import annotations

import io

import numpy as np

from flockrl.algos.ppo import PPOConfig
from flockrl.algos.ppo_trainer import PPOTrainer
from solve_race import main, sb3_evaluate_and_stop


def run_flockrl(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    config = PPOConfig.for_env(env).replace({"seed": seed, "total_steps": max_steps, "eval_interval": eval_every,
                                             "eval_episodes": 20, "stop_at_return": threshold})
    return PPOTrainer(config, log=io.StringIO()).train().evaluations


def run_sb3(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float):
        return lambda progress_remaining: progress_remaining * start

    def act_of(model):
        return lambda obs: np.asarray(model.predict(obs, deterministic=True)[0])

    evaluations: list[dict] = []
    if env == "Pendulum-v1":
        model = PPO("MlpPolicy", make_vec_env(env, n_envs=4, seed=seed), n_steps=1024, gae_lambda=0.95, gamma=0.9,
                    n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4,
                    seed=seed, device="cpu", verbose=0)
    else:
        model = PPO("MlpPolicy", make_vec_env(env, n_envs=8, seed=seed), n_steps=32, batch_size=256,
                    gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=linear(1e-3),
                    clip_range=linear(0.2), seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=max_steps,
                callback=sb3_evaluate_and_stop(env, seed, eval_every, threshold, act_of, evaluations))
    return evaluations


if __name__ == "__main__":
    main("PPO", {"flockrl": run_flockrl, "sb3": run_sb3}, __doc__.split("\n\n")[0],
         envs=("CartPole-v1", "Pendulum-v1"))
