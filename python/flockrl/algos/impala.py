"""IMPALA (Espeholt et al. 2018): actors act with whatever weights they
last pulled, and the learner corrects for the lag with V-trace: value
targets and policy-gradient advantages weighted by truncated importance
ratios between the learner's policy and the actors'. One gradient step per
batch of rollouts; the threads and sync modes are the rollout runtime's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.actor_critic import make_actor_critic
from flockrl.algos.actor_critic_config import ActorCriticConfig
from flockrl.algos.advantages import vtrace
from flockrl.algos.optim import adam, gradient_step
from flockrl.algos.precision import floats, learner_autocast
from flockrl.flat_params import FlatParameters
from flockrl.runtime.run_config import ATARI_RUN
from flockrl.runtime.sync import SYNC_MODES

STAT_NAMES = ("policy_loss", "value_loss", "entropy", "mean_rho", "clipped_rho_fraction")


@dataclass
class ImpalaConfig(ActorCriticConfig):
    """IMPALA. The defaults solve CartPole-v1."""

    ALGORITHM: ClassVar[str] = "IMPALA"
    SYNC_MODES: ClassVar[tuple[str, ...]] = SYNC_MODES

    num_actors: int = 2
    sync: str = "async"
    """async (actors never wait; V-trace corrects the lag), bounded (lag at most max_lag) or sync (no lag: V-trace reduces to n-step returns)."""
    max_lag: int = 2
    rollout_steps: int = 16
    rollouts_per_update: int = 1
    """The fewest rollouts a learner step trains on (async/bounded; sync uses one per actor)."""
    rho_bar: float = 1.0
    """V-trace's truncation of the importance ratio in the value target and the policy gradient."""
    c_bar: float = 1.0
    """V-trace's truncation of the traces (how far back a correction reaches)."""

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        return {
            # Espeholt et al. 2018's Atari values (unrolls of 20, entropy 0.01,
            # baseline 0.5, gradient clip 40, gamma 0.99), with Adam at CleanRL's
            # PPO learning rate instead of their RMSProp at 6e-4.
            "ALE/*": {**ATARI_RUN, "num_actors": 2, "envs_per_actor": 8, "rollout_steps": 20,
                      "rollouts_per_update": 1, "lr": 2.5e-4, "gamma": 0.99, "ent_coef": 0.01, "vf_coef": 0.5,
                      "max_grad_norm": 40.0},
        }

    def validate(self) -> None:
        super().validate()
        for name in ("rho_bar", "c_bar"):
            self.check_range(name, 0, None, low_inclusive=False)
        self.check_range("rollouts_per_update", 0, None)


def stack_rollouts(rollouts: list[dict[str, Any]], key: str, device: torch.device) -> torch.Tensor:
    """Rollouts side by side along the env axis: [T, sum N, ...] (or [sum N, ...] for last_*)."""
    axis = 0 if key.startswith("last_") else 1
    arrays = [r[key] for r in rollouts]
    return torch.from_numpy(np.concatenate(arrays, axis=axis) if len(arrays) > 1 else arrays[0]).to(device)


class ImpalaLearner:
    passes = 1  # one gradient step per batch

    def __init__(self, config: ImpalaConfig, obs_space: gym.Space, action_space: gym.Space, device: torch.device):
        self.config, self.device = config, device
        self.net = make_actor_critic(config, obs_space, action_space).to(device)
        self.flat = FlatParameters(self.net)  # one tensor to zero, clip and step
        self.optimizer = adam([self.flat.param], config.lr)
        self.updates = 0
        self.autocast = learner_autocast(config.learner_precision, device, self.net)

    def update(self, rollouts: list[dict[str, Any]], env_steps: int, fresh: bool = False) -> dict[str, float]:
        """One gradient step on the rollouts (fresh or not: V-trace needs the learner's log-probabilities anyway)."""
        c, net = self.config, self.net
        data = {k: stack_rollouts(rollouts, k, self.device)
                for k in ("obs", "action", "log_prob", "reward", "done", "last_obs")}
        T, N = data["reward"].shape
        with self.autocast():
            params, values = net(data["obs"].flatten(0, 1))
        params, values = floats(params), values.float()
        target_log_prob = net.dist.log_prob(params, data["action"].flatten(0, 1)).view(T, N)
        values = values.view(T, N)
        with torch.no_grad():
            with self.autocast():
                last_values = net.values(data["last_obs"]).float()
            vs, advantages = vtrace(data["log_prob"], target_log_prob, data["reward"], values, data["done"],
                                    last_values, c.gamma, c.rho_bar, c.c_bar)
            rho = torch.exp(target_log_prob - data["log_prob"])
        policy_loss = -(advantages * target_log_prob).mean()
        value_loss = 0.5 * (vs - values).square().mean()
        entropy = net.dist.entropy(params).mean()
        loss = policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy
        gradient_step(self.flat, self.optimizer, loss, c.max_grad_norm)
        self.updates += 1
        return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item(),
                "mean_rho": rho.mean().item(), "clipped_rho_fraction": (rho > c.rho_bar).float().mean().item()}

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
