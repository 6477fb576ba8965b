"""Time to solve CartPole-v1 (or Acrobot-v1): flockrl DQN against
Stable-Baselines3 DQN with rl-zoo's tuned hyperparameters, on the same
machine in one run.

    python benchmarks/compare_dqn_sb3.py --seeds 5 --plot dqn_cartpole.png

SB3 uses lr 2.3e-3, batch 64, buffer 100k, learning_starts 1000, gamma
0.99, target update every 10 steps, train_freq 256, gradient_steps 128,
exploration over 16% of the steps to 0.04, net [256, 256] (rl-zoo's
CartPole-v1 entry); flockrl its default DQNConfig, which expresses the same
ratios as samples per insert. See solve_race.py for how both are timed.
Needs ``pip install stable-baselines3`` (and matplotlib for --plot).
"""

from __future__ import annotations

import io

import numpy as np
import torch

from flockrl.algos.dqn import DQNConfig
from flockrl.algos.dqn_trainer import DQNTrainer
from solve_race import main, sb3_evaluate_and_stop


def run_flockrl(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    config = DQNConfig.for_env(env).replace({"seed": seed, "total_steps": max_steps, "eval_interval": eval_every,
                                             "eval_episodes": 20, "stop_at_return": threshold})
    return DQNTrainer(config, log=io.StringIO()).train().evaluations


def run_sb3(env: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> list[dict]:
    import gymnasium as gym
    from stable_baselines3 import DQN

    def act_of(model):
        @torch.no_grad()
        def act(obs: np.ndarray) -> np.ndarray:
            return model.q_net(torch.as_tensor(obs)).argmax(dim=1).numpy()

        return act

    evaluations: list[dict] = []
    model = DQN(
        "MlpPolicy", gym.make(env), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
        learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
        exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs={"net_arch": [256, 256]},
        seed=seed, device="cpu", verbose=0,
    )
    model.learn(total_timesteps=max_steps,
                callback=sb3_evaluate_and_stop(env, seed, eval_every, threshold, act_of, evaluations))
    return evaluations


if __name__ == "__main__":
    main("DQN", {"flockrl": run_flockrl, "sb3": run_sb3}, __doc__.split("\n\n")[0],
         envs=("CartPole-v1", "Acrobot-v1"))
