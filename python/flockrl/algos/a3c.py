"""A3C (Mnih et al. 2016): worker threads, each with its own envs and copy
of the actor-critic, compute n-step advantage actor-critic gradients and
push them to shared weights with shared optimizer statistics. The update
rule lives here; the threads and the sync modes in a3c_trainer.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.actor_critic import ActorCritic, make_actor_critic
from flockrl.algos.actor_critic_config import ActorCriticConfig
from flockrl.algos.advantages import gae
from flockrl.algos.optim import adam
from flockrl.gradients import Adam, RMSprop, SharedOptimizer
from flockrl.runtime.run_config import ATARI_RUN

@dataclass
class A3CConfig(ActorCriticConfig):
    """A3C. The defaults solve CartPole-v1."""

    ALGORITHM: ClassVar[str] = "A3C"
    SYNC_MODES: ClassVar[tuple[str, ...]] = ("async", "coordinator", "sync", "bounded", "fedavg")

    num_actors: int = 2
    """Worker threads, each with its own envs and copy of the network, pushing gradients."""
    sync: str = "async"
    """async (Hogwild: workers apply their gradients to the shared weights, no lock), coordinator (one thread applies them in arrival order), sync (A2C: one gradient per worker from the same version, averaged), bounded (gradients at most max_lag versions stale, averaged) or fedavg (workers train local copies, then the weights are averaged)."""
    max_lag: int = 1
    """bounded: the most versions a gradient's weights may lag the weights it is applied to."""
    rollout_steps: int = 8
    """Steps per env before each gradient (n of the n-step returns)."""
    fedavg_interval: int = 8
    """fedavg: local updates each worker makes between averagings."""
    optimizer: str = "adam"
    """Shared optimizer: adam or rmsprop (A3C's shared RMSProp; statistics shared by all workers either way)."""
    gae_lambda: float = 1.0
    """GAE lambda (1: A3C's n-step returns)."""

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        return {
            # rl-zoo's A2C on Atari (16 envs x 5 steps, RMSProp at 7e-4, entropy
            # 0.01, value 0.25, gradient clip 0.5) over 2 workers of 8 envs.
            "ALE/*": {**ATARI_RUN, "num_actors": 2, "envs_per_actor": 8, "rollout_steps": 5, "optimizer": "rmsprop",
                      "lr": 7e-4, "gamma": 0.99, "ent_coef": 0.01, "vf_coef": 0.25, "max_grad_norm": 0.5},
        }

    def validate(self) -> None:
        super().validate()
        if self.backend != "threads":
            # Hogwild and the parameter-server thread share one set of weights in memory.
            raise ValueError(f"config backend: A3C's workers share the weights in memory, so it runs on 'threads' "
                             f"(for Ray, train impala or ppo), got {self.backend!r}")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"config optimizer: expected adam or rmsprop, got {self.optimizer!r}")
        self.check_range("gae_lambda", 0, 1)
        self.check_range("fedavg_interval", 1, None)


def actor_critic_loss(net: ActorCritic, rollout: dict[str, Any], config: A3CConfig) -> tuple[torch.Tensor, dict]:
    """-(log pi(a|s) * A) + vf_coef * (R - V(s))^2 - ent_coef * H, averaged
    over the rollout, with R = A + V from GAE(lambda) (lambda 1: the n-step
    bootstrapped return) and A held constant in the policy term."""
    advantages, returns = gae(rollout["reward"], rollout["value"], rollout["done"], rollout["last_value"],
                              config.gamma, config.gae_lambda)
    obs = torch.from_numpy(rollout["obs"]).flatten(0, 1)
    params, values = net(obs)
    log_prob = net.dist.log_prob(params, torch.from_numpy(rollout["action"]).flatten(0, 1))
    policy_loss = -(log_prob * torch.from_numpy(advantages.reshape(-1))).mean()
    value_loss = (torch.from_numpy(returns.reshape(-1)) - values).square().mean()
    entropy = net.dist.entropy(params).mean()
    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    return loss, {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item()}


def gradients(net: ActorCritic, loss: torch.Tensor, max_grad_norm: float) -> list[torch.Tensor]:
    """The (clipped) gradient of loss, one tensor per parameter."""
    net.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
    return [p.grad if p.grad is not None else torch.zeros_like(p) for p in net.parameters()]


class A3CLearner:
    """The shared network and its shared optimizer; what checkpoints hold."""

    def __init__(self, config: A3CConfig, obs_space: gym.Space, action_space: gym.Space):
        self.config = config
        self.net = make_actor_critic(config, obs_space, action_space)
        self.rule = Adam(lr=config.lr) if config.optimizer == "adam" else RMSprop(lr=config.lr, alpha=0.99, eps=0.1)
        self.optimizer: SharedOptimizer | None = None
        self._saved_optimizer: dict | None = None
        self.averagings = 0  # fedavg rounds

    def start(self, store: Any) -> SharedOptimizer:
        """The shared optimizer for a run, publishing to store (coordinator
        mode starts its applying thread)."""
        mode = "coordinator" if self.config.sync == "coordinator" else "hogwild"
        self.optimizer = SharedOptimizer(self.net, self.rule, mode=mode, store=store)
        if self._saved_optimizer is not None:
            self.optimizer.load_state_dict(self._saved_optimizer)
        return self.optimizer

    @property
    def updates(self) -> int:
        """Updates of the shared weights: gradients applied, or fedavg averagings."""
        return (self.optimizer.updates if self.optimizer is not None else 0) + self.averagings

    def local_optimizer(self, net: ActorCritic) -> torch.optim.Optimizer:
        """fedavg: a worker's own optimizer for its local copy."""
        if self.config.optimizer == "adam":
            return adam(net.parameters(), self.config.lr)
        return torch.optim.RMSprop(net.parameters(), lr=self.config.lr, alpha=0.99, eps=0.1)

    @torch.no_grad()
    def federated_average(self, states: list[dict[str, torch.Tensor]], samples: list[int]) -> None:
        """The shared weights become the mean of the workers', weighted by
        the samples each trained on (McMahan et al. 2017)."""
        self.net.load_state_dict({name: weighted_mean([s[name] for s in states], samples) for name in states[0]})
        self.averagings += 1

    def state_dict(self) -> dict[str, Any]:
        optimizer = self.optimizer.state_dict() if self.optimizer is not None else self._saved_optimizer
        return {"net": self.net.state_dict(), "optimizer": optimizer, "averagings": self.averagings}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self._saved_optimizer = state["optimizer"]
        self.averagings = int(state["averagings"])


def weighted_mean(tensors: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    total = float(np.sum(weights))
    return sum(w / total * t for w, t in zip(weights, tensors))  # type: ignore[return-value]


def average(grad_lists: list[list[torch.Tensor]], weights: list[float]) -> list[torch.Tensor]:
    """The weighted mean of several gradients, tensor by tensor."""
    return [weighted_mean(list(tensors), weights) for tensors in zip(*grad_lists)]
