"""PPO from your own training loop, with flockrl's pieces: a RolloutWorker
collecting time-major rollouts from native envs (C++), PPOLearner doing the
update, and your loop deciding everything else. Single-threaded: acting
and learning alternate, as in the sync mode.

    python examples/ppo_own_loop.py [ENV_STEPS]

`flockrl train ppo` does the same with actor threads, the ParamStore,
logging, evaluation and checkpoints; this file shows the parts.
"""

import sys

import gymnasium as gym
import numpy as np
import torch

import flockrl
from flockrl.algos.ppo import PPOConfig, PPOLearner
from flockrl.runtime import Metrics, RolloutWorker
from flockrl.runtime.evaluate import evaluate

config = PPOConfig(total_steps=int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
torch.manual_seed(0)
torch.set_num_threads(1)  # small nets: intra-op threads cost more than they save
env = flockrl.make_vec("CartPole-v1", 8, seed=1, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
learner = PPOLearner(config, env.single_observation_space, env.single_action_space, torch.device("cpu"))
metrics = Metrics()
# Acting with the learner's own network: nothing to publish or pull here.
worker = RolloutWorker(env, learner.net, metrics, gamma=config.gamma, seed=1)

while metrics.env_steps < config.total_steps:
    rollout = worker.collect(config.rollout_steps, version=learner.iterations)
    stats = learner.update([rollout], metrics.env_steps)
    if learner.iterations % 50 == 0:
        snap = metrics.snapshot()
        print(f"{snap['env_steps']} steps, recent return {snap['return_mean']:.1f}, "
              f"approx KL {stats['approx_kl']:.4f}")
env.close()

returns = evaluate(lambda obs: learner.net.greedy(torch.as_tensor(obs)).numpy(), "CartPole-v1", 10, seed=100)
print(f"{metrics.env_steps} env steps, {learner.updates} gradient steps; "
      f"greedy return {np.mean(returns):.1f} over 10 episodes")
