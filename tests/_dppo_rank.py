"""One rank of test_dppo.py's two-learner group (run as a subprocess with
torchrun's variables set): trains one PPO update on its half of a fixed
rollout and saves the resulting weights and the gradient it applied."""

import sys

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.ppo import PPOConfig, PPOLearner
from flockrl.runtime.learner_group import LearnerGroup


def fixed_rollout(net, T=8, N=8):
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(T, N, 4, generator=g) * 3 + 1
    with torch.no_grad():
        params, values = net(obs.reshape(-1, 4))
        actions, log_probs = net.dist.sample(params, g)
    return {"obs": obs.numpy(), "action": actions.reshape(T, N).numpy(),
            "log_prob": (log_probs + 0.2 * torch.randn(log_probs.shape, generator=g)).reshape(T, N).numpy(),
            "value": values.reshape(T, N).numpy(), "reward": torch.randn(T, N, generator=g).numpy(),
            "done": (torch.rand(T, N, generator=g) < 0.1).numpy(), "last_value": torch.randn(N, generator=g).numpy()}


def learner(config, group=None):
    torch.manual_seed(0)
    space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    return PPOLearner(config, space, gym.spaces.Discrete(2), torch.device("cpu"), group)


def half(rollout, rank, world):
    n = rollout["reward"].shape[1] // world
    return {k: (v[rank * n:(rank + 1) * n] if k == "last_value" else v[:, rank * n:(rank + 1) * n])
            for k, v in rollout.items()}


def config(minibatch_size):
    # One minibatch per learner per epoch; advantages not normalised per
    # minibatch (a statistic of the minibatch, which data parallelism splits).
    return PPOConfig(epochs=1, minibatch_size=minibatch_size, normalize_advantages=False, normalize_obs=True,
                     max_grad_norm=0.0, total_steps=1000)


def gradients(net):
    """What the optimizer stepped with (left in .grad after the update)."""
    return {name: p.grad.clone() for name, p in net.named_parameters()}


if __name__ == "__main__":
    group = LearnerGroup(torch.device("cpu"))
    ppo = learner(config(32), group)
    ppo.update([half(fixed_rollout(ppo.net), group.rank, group.world_size)], 0)
    torch.save({"weights": ppo.net.state_dict(), "grads": gradients(ppo.net)}, f"{sys.argv[1]}.{group.rank}")
    group.close()
