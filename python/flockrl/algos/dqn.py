"""DQN (Mnih et al. 2015) and its common extensions: Double DQN, a dueling
head, n-step returns, prioritized replay, Huber loss, gradient clipping,
hard or Polyak target updates. The update rule lives here; acting and the
actor/learner plumbing live in flockrl.runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from flockrl.algos.offpolicy_config import OffPolicyConfig
from flockrl.algos.optim import adam, gradient_step
from flockrl.algos.precision import learner_autocast
from flockrl.flat_params import FlatParameters
from flockrl.nets import make_cnn, resolve_network
from flockrl.runtime.run_config import ATARI_RUN


@dataclass
class DQNConfig(OffPolicyConfig):
    """DQN. The defaults solve CartPole-v1: rl-zoo's tuned values (as
    samples per insert instead of train_freq/gradient_steps) with 3-step
    Double DQN."""

    env: str = "CartPole-v1"
    """Environment id: a native id (flockrl.NATIVE_ENV_IDS), an Atari game (ALE/Breakout-v5, ...) or any gymnasium id with discrete actions."""
    n_step: int = 3
    """Steps summed into each transition's return (1: one-step TD). 3 cut the env steps DQN needs to solve CartPole-v1 (median of 5 seeds 30k -> 10k-15k) and Acrobot-v1 (40k -> 25k-30k), two runs each."""
    dueling: bool = False
    """Split the head into state value and advantages (Wang et al. 2016)."""
    double_dqn: bool = True
    """Pick the next action with the online net, value it with the target net (van Hasselt et al. 2016)."""
    target_update_interval: int = 128
    """Learner updates between target-network updates."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip (0: no clipping)."""
    exploration_fraction: float = 0.16
    """Fraction of total_steps over which epsilon decays linearly."""
    epsilon_start: float = 1.0
    """Epsilon at step 0."""
    epsilon_final: float = 0.04
    """Epsilon after the decay."""

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        # rl-zoo's dqn.yml (SB3's DQN: one-step targets, no Double DQN, target
        # copies, gradient clip 10, one env). train_freq/gradient_steps become
        # samples per insert (batch_size x gradient_steps / train_freq, -1: one
        # step per env step) and target_update_interval, counted in env steps
        # there, counts learner updates here. learning_starts 0 there: one
        # batch here. CartPole-v1 is the defaults.
        sb3 = {"n_step": 1, "double_dqn": False, "dueling": False, "tau": 1.0, "max_grad_norm": 10.0,
               "envs_per_actor": 1, "hidden_sizes": (256, 256)}
        acrobot = {**sb3, "total_steps": 100_000, "lr": 6.3e-4, "batch_size": 128, "buffer_size": 50_000,
                   "learning_starts": 128, "gamma": 0.99, "samples_per_insert": 128.0, "target_update_interval": 250,
                   "exploration_fraction": 0.12, "epsilon_final": 0.1}
        return {
            "MountainCar-v0": {**sb3, "total_steps": 120_000, "lr": 4e-3, "batch_size": 128, "buffer_size": 10_000,
                               "learning_starts": 1000, "gamma": 0.98, "samples_per_insert": 64.0,
                               "target_update_interval": 300, "exploration_fraction": 0.2, "epsilon_final": 0.07},
            "Acrobot-v1": acrobot,
            "LunarLander-v3": acrobot,
            # CleanRL's dqn_atari.py (Mnih et al. 2015's DQN): a 1M buffer, learning
            # from 80k steps, one batch of 32 every 4 env steps (8 samples per
            # insert), the target copied every 1000 env steps (250 updates), epsilon
            # 1 -> 0.01 over the first 10%; with rl-zoo's gradient clip of 10.
            "ALE/*": {**ATARI_RUN, "buffer_size": 1_000_000, "learning_starts": 80_000, "batch_size": 32,
                      "samples_per_insert": 8.0, "lr": 1e-4, "gamma": 0.99, "n_step": 1, "double_dqn": False,
                      "dueling": False, "target_update_interval": 250, "tau": 1.0, "exploration_fraction": 0.1,
                      "epsilon_final": 0.01, "max_grad_norm": 10.0},
        }

    def validate(self) -> None:
        super().validate()
        self.check_range("exploration_fraction", 0, 1)
        self.check_range("epsilon_start", 0, 1)
        self.check_range("epsilon_final", 0, 1)
        self.check_range("max_grad_norm", 0, None)
        self.check_range("target_update_interval", 1, None)

    def epsilon(self, step: int) -> float:
        """The linear exploration schedule at env step `step`."""
        decay_steps = self.exploration_fraction * self.total_steps
        if decay_steps <= 0:
            return self.epsilon_final
        frac = min(1.0, step / decay_steps)
        return self.epsilon_start + frac * (self.epsilon_final - self.epsilon_start)


@dataclass
class ApexConfig(DQNConfig):
    """Ape-X (Horgan et al. 2018): many actors with fixed, graded exploration
    rates, initial priorities computed by the actors, prioritized replay with
    FIFO eviction, n-step Double DQN with a dueling head. Fields documented
    in DQNConfig keep their meaning; only the defaults differ."""

    num_actors: int = 4
    envs_per_actor: int = 4
    n_step: int = 3
    dueling: bool = True
    prioritized: bool = True
    samples_per_insert: float = 8.0
    target_update_interval: int = 500
    lr: float = 1e-3
    actor_epsilon: float = 0.4
    """Ape-X's base epsilon: actor i explores with actor_epsilon ** (1 + i * epsilon_alpha / (num_actors - 1))."""
    epsilon_alpha: float = 7.0
    """Ape-X's epsilon exponent spread."""

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        return {
            # Horgan et al. 2018's Atari settings (3-step Double DQN, dueling, alpha
            # 0.6, beta 0.4, target every 2500 updates), with Adam at 1e-4 and
            # batches of 64 for a CPU learner, and DQN's samples per insert.
            "ALE/*": {**ATARI_RUN, "num_actors": 2, "envs_per_actor": 8, "buffer_size": 1_000_000,
                      "learning_starts": 50_000, "batch_size": 64, "samples_per_insert": 8.0, "lr": 1e-4,
                      "gamma": 0.99, "n_step": 3, "target_update_interval": 2500, "max_grad_norm": 40.0},
        }

    def validate(self) -> None:
        super().validate()
        self.check_range("actor_epsilon", 0, 1)
        self.check_range("epsilon_alpha", 0, None)
        if not self.prioritized:
            raise ValueError("config prioritized: Ape-X needs prioritized replay (true), got false")

    def actor_epsilons(self) -> list[float]:
        return apex_epsilons(self.num_actors, self.actor_epsilon, self.epsilon_alpha)


class QNetwork(nn.Module):
    """Observations to one Q-value per action, optionally dueling: an MLP
    (ReLU), or for images a CNN (flockrl.nets: the Nature DQN's by default)
    with the heads on its features."""

    def __init__(self, obs_space: gym.spaces.Box | int, num_actions: int, hidden_sizes: tuple[int, ...],
                 dueling: bool = False, network: str = "auto"):
        """obs_space: the observation space, or the width of vector observations."""
        super().__init__()
        obs_space = as_observation_space(obs_space)
        self.network = resolve_network(network, obs_space)
        if self.network == "mlp":
            layers: list[nn.Module] = []
            width = int(np.prod(obs_space.shape))
            for h in hidden_sizes:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            self.body: nn.Module = nn.Sequential(*layers)
        else:
            self.body = make_cnn(self.network, obs_space)
            width = self.body.features
        self.dueling = dueling
        self.head = nn.Linear(width, num_actions)
        self.value = nn.Linear(width, 1) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.body(obs.flatten(1).float() if self.network == "mlp" else obs)
        q = self.head(x)
        if self.value is not None:
            q = self.value(x) + q - q.mean(dim=1, keepdim=True)
        return q


def as_observation_space(obs_space: gym.spaces.Box | int) -> gym.spaces.Box:
    """A Box space as given, or a float32 vector space of that width."""
    if isinstance(obs_space, gym.spaces.Box):
        return obs_space
    if isinstance(obs_space, (int, np.integer)) and not isinstance(obs_space, bool) and obs_space >= 1:
        return gym.spaces.Box(-np.inf, np.inf, (int(obs_space),), np.float32)
    raise TypeError(f"obs_space: expected a gymnasium Box or an int >= 1 (the observation width), got {obs_space!r}")


def make_q_network(config: DQNConfig, obs_space: gym.spaces.Box, num_actions: int) -> QNetwork:
    """The Q-network a config describes."""
    return QNetwork(obs_space, num_actions, config.hidden_sizes, config.dueling, config.network)


def td_targets(
    reward: torch.Tensor, discount: torch.Tensor, next_q_target: torch.Tensor,
    next_q_online: torch.Tensor | None,
) -> torch.Tensor:
    """reward + discount * Q_target(s', a*), a* = argmax Q_online(s') (Double
    DQN, when next_q_online is given) or argmax Q_target(s') (DQN). The
    discount is gamma^n, or 0 past a terminal state (see NStepAccumulator)."""
    if next_q_online is None:
        next_value = next_q_target.max(dim=1).values
    else:
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_value = next_q_target.gather(1, best).squeeze(1)
    return reward + discount * next_value


class DQNLearner:
    """The online and target Q-networks, the optimizer and one update step."""

    def __init__(self, config: DQNConfig, obs_space: gym.spaces.Box | int, num_actions: int, device: torch.device):
        """obs_space: the observation space, or the width of vector observations."""
        self.config, self.device = config, device
        obs_space = as_observation_space(obs_space)
        self.online = make_q_network(config, obs_space, num_actions).to(device)
        self.target = make_q_network(config, obs_space, num_actions).to(device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        self.flat = FlatParameters(self.online)  # one tensor to zero, clip and step
        self.optimizer = adam([self.flat.param], config.lr)
        self.updates = 0
        self.autocast = learner_autocast(config.learner_precision, device, self.online)

    @property
    def acting_net(self) -> QNetwork:
        """The network actors act with (and the ParamStore carries)."""
        return self.online

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One gradient step on `batch` (tensors on self.device); returns the
        loss (a 0-dim tensor: reading it would wait for an accelerator) and,
        with prioritized replay, the new priorities (|TD error|) as a numpy
        array."""
        c = self.config
        with self.autocast():
            q = self.online(batch["obs"]).float().gather(1, batch["action"].long()[:, None]).squeeze(1)
        with torch.no_grad(), self.autocast():
            next_q_target = self.target(batch["next_obs"]).float()
            next_q_online = self.online(batch["next_obs"]).float() if c.double_dqn else None
            target = td_targets(batch["reward"].float(), batch["discount"].float(), next_q_target, next_q_online)
        losses = nn.functional.smooth_l1_loss(q, target, reduction="none")
        if "weights" in batch:
            losses = losses * batch["weights"].float()
        loss = losses.mean()
        gradient_step(self.flat, self.optimizer, loss, c.max_grad_norm)
        self.updates += 1
        if self.updates % c.target_update_interval == 0:
            self.update_target()
        out: dict[str, Any] = {"loss": loss.detach()}
        if c.prioritized:
            out["priorities"] = (q - target).detach().abs().cpu().numpy().astype(np.float64)
        return out

    @torch.no_grad()
    def update_target(self) -> None:
        tau = self.config.tau
        if tau >= 1.0:
            self.target.load_state_dict(self.online.state_dict())
            return
        for t, o in zip(self.target.parameters(), self.online.parameters()):
            t.lerp_(o, tau)

    def state_dict(self) -> dict[str, Any]:
        return {"online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])


def apex_epsilons(num_actors: int, epsilon: float = 0.4, alpha: float = 7.0) -> list[float]:
    """Ape-X's fixed per-actor exploration: eps_i = eps^(1 + i*alpha/(N-1))
    (Horgan et al. 2018); a single actor gets eps."""
    if num_actors == 1:
        return [epsilon]
    return [epsilon ** (1 + i * alpha / (num_actors - 1)) for i in range(num_actors)]
