"""DQN from your own training loop, with flockrl's pieces: one actor thread
stepping native CartPole envs into a lock-free replay buffer, and your loop
as the learner, publishing weights through the shared-memory ParamStore.

    python examples/dqn_own_loop.py [ENV_STEPS]

`flockrl train dqn` does the same with logging, evaluation, checkpoints and
a samples-per-insert rate limiter; this file shows the parts.
"""

import sys
import threading

import gymnasium as gym
import numpy as np
import torch

import flockrl
from flockrl.algos.dqn import DQNConfig, DQNLearner, QNetwork
from flockrl.runtime import Actor, EpsilonGreedy, Metrics
from flockrl.runtime.evaluate import evaluate

config = DQNConfig(total_steps=int(sys.argv[1]) if len(sys.argv) > 1 else 30_000, exploration_fraction=0.3)
torch.manual_seed(0)
learner = DQNLearner(config, obs_space=4, num_actions=2, device=torch.device("cpu"))

fields = {"obs": ((4,), np.float32), "action": ((), np.int64), "reward": ((), np.float32),
          "next_obs": ((4,), np.float32), "discount": ((), np.float32), "version": ((), np.int64)}
# The rate limiter keeps ~8 sampled transitions per added one, whatever the
# relative speed of actor and learner.
limiter = flockrl.SampleToInsertRatio(samples_per_insert=8, min_size_to_sample=1000, error_buffer=4096)
replay = flockrl.ReplayBuffer(100_000, fields, seed=0, rate_limiter=limiter)
store = flockrl.ParamStore.create("example-dqn", learner.online)
metrics = Metrics()
stop = threading.Event()


def act() -> None:
    # The actor's own copy of the network, refreshed from the store when newer.
    net = QNetwork(4, 2, config.hidden_sizes)
    weights = flockrl.ParamStore.attach("example-dqn", net)
    env = flockrl.make_vec("CartPole-v1", 4, seed=1, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    policy = EpsilonGreedy(net, 2, config.epsilon, np.random.default_rng(1))
    actor = Actor(env, policy, weights, lambda tr: replay.add(**tr), metrics, n_step=3, gamma=config.gamma)
    actor.run(lambda: stop.is_set() or metrics.env_steps >= config.total_steps)
    weights.close()


thread = threading.Thread(target=act)
thread.start()
try:
    while metrics.env_steps < config.total_steps:
        batch = replay.sample(config.batch_size, timeout=0.1, device="cpu")  # None: the limiter wants data
        if batch is not None:
            learner.update(batch)
            if learner.updates % 16 == 0:
                store.publish(learner.online)
finally:
    stop.set()
    replay.interrupt()  # releases an actor the limiter holds
    thread.join()
    store.close()

with torch.no_grad():
    returns = evaluate(lambda obs: learner.online(torch.as_tensor(obs)).argmax(1).numpy(), "CartPole-v1", 20, seed=99)
print(f"{metrics.env_steps} env steps, {learner.updates} updates; greedy return {returns.mean():.1f} +- {returns.std():.1f}")
