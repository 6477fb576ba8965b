"""SAC (Haarnoja et al. 2018, with the automatic entropy tuning of
"Soft Actor-Critic Algorithms and Applications"): twin critics with Polyak
targets, a squashed-Gaussian actor, the entropy coefficient tuned toward
a target entropy of -|A|. One update follows SB3's order: entropy
coefficient, critics, then the actor against the updated critics, then the
targets. The update rule lives here; acting and the actor/learner plumbing
in flockrl.algos.sac_trainer and flockrl.algos.offpolicy_trainer.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ActionScale, ContinuousConfig, check_finite
from flockrl.algos.optim import FlatAdam
from flockrl.flat_params import FlatParameters
from flockrl.nets.continuous import SquashedGaussianActor, TwinQ


@dataclass
class SACConfig(ContinuousConfig):
    """SAC. The defaults solve Pendulum-v1: SB3's SAC with rl-zoo's learning
    rate (1e-3), one gradient step of 256 per env step."""

    ent_coef: float = 1.0
    """The entropy coefficient alpha; with autotune_entropy, where its tuning starts (SB3: 1)."""
    autotune_entropy: bool = True
    """Tune alpha by gradient descent so the policy's entropy tracks target_entropy."""
    target_entropy: float = -1.0
    """Target entropy per action dimension: the target is this times |A| (-1: SAC's -|A|)."""

    def validate(self) -> None:
        super().validate()
        self.check_range("ent_coef", 0, None, low_inclusive=False)


def make_sac_actor(config: SACConfig, obs_space: gym.spaces.Box, action_space: gym.spaces.Box
                   ) -> SquashedGaussianActor:
    return SquashedGaussianActor(int(np.prod(obs_space.shape)), action_space.shape[0], config.hidden_sizes)


class SACLearner:
    """The actor, the twin critics and their targets, the entropy
    coefficient, their optimizers (Adam on flat parameters) and one update."""

    def __init__(self, config: SACConfig, obs_space: gym.spaces.Box, action_space: gym.spaces.Box,
                 device: torch.device):
        self.config, self.device = config, device
        obs_dim, act_dim = int(np.prod(obs_space.shape)), action_space.shape[0]
        self.actor = make_sac_actor(config, obs_space, action_space).to(device)
        self.critic = TwinQ(obs_dim, act_dim, config.hidden_sizes).to(device)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor_flat, self.critic_flat = FlatParameters(self.actor), FlatParameters(self.critic)
        self.target_flat = FlatParameters(self.critic_target)  # one lerp_ per Polyak update
        self.critic_target.requires_grad_(False)
        self.actor_opt = FlatAdam(self.actor_flat.param, config.lr)
        self.critic_opt = FlatAdam(self.critic_flat.param, config.lr)
        self.log_ent_coef = torch.full((1,), math.log(config.ent_coef), device=device)
        self.log_ent_coef.grad = torch.zeros_like(self.log_ent_coef)
        self.ent_opt = FlatAdam(self.log_ent_coef, config.lr)
        self.target_entropy = config.target_entropy * act_dim
        self.scale = ActionScale(action_space, device)
        self.act_dim = act_dim
        self.updates = 0

    @property
    def acting_net(self) -> SquashedGaussianActor:
        """The network actors act with (and the ParamStore carries)."""
        return self.actor

    def update(self, batch: dict[str, torch.Tensor],
               noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, Any]:
        """One update on `batch` (tensors on self.device; actions in the
        env's bounds). noise: the standard normal draws of the policy's
        actions at obs and at next_obs, [B, |A|] each (default: fresh).
        Returns the losses and alpha (0-dim tensors) and, with prioritized
        replay, the new priorities (mean |TD error| of the two critics)."""
        c = self.config
        obs, next_obs = batch["obs"].flatten(1).float(), batch["next_obs"].flatten(1).float()
        action = self.scale.from_env(batch["action"].float())
        if noise is None:
            shape = (obs.shape[0], self.act_dim)
            noise = (torch.randn(shape, device=self.device), torch.randn(shape, device=self.device))
        actions_pi, log_prob = self.actor.sample(obs, noise[0])
        ent_coef = self.log_ent_coef.exp()
        if c.autotune_entropy:
            # d/d log(alpha) of -(log(alpha) * (log_prob + target)).mean(), by hand.
            self.log_ent_coef.grad.copy_(-(log_prob.detach() + self.target_entropy).mean())
            self.ent_opt.step()

        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(next_obs, noise[1])
            next_q = self.critic_target(next_obs, next_action).min(dim=0).values - ent_coef * next_log_prob
            target = batch["reward"].float() + batch["discount"].float() * next_q
        td = self.critic(obs, action) - target  # [2, B]
        critic_losses = 0.5 * td.square().sum(dim=0)
        if "weights" in batch:
            critic_losses = critic_losses * batch["weights"].float()
        critic_loss = critic_losses.mean()
        self.critic_flat.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()

        q_pi = self.critic(obs, actions_pi, frozen=True).min(dim=0).values
        actor_loss = (ent_coef * log_prob - q_pi).mean()
        self.actor_flat.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()

        with torch.no_grad():
            self.target_flat.param.lerp_(self.critic_flat.param, c.tau)
        self.updates += 1
        if self.updates % c.publish_interval == 0:  # before the trainer publishes them
            check_finite("SAC actor", self.actor_flat.param, self.updates)
            check_finite("SAC critics", self.critic_flat.param, self.updates)
        out: dict[str, Any] = {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                               "ent_coef": ent_coef.squeeze(0)}
        if c.prioritized:
            out["priorities"] = td.detach().abs().mean(dim=0).cpu().numpy().astype(np.float64)
        return out

    @torch.no_grad()
    def greedy_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The mean action (tanh of the Gaussian's mean), in the env's bounds."""
        return self.scale.to_env(self.actor.deterministic(obs.flatten(1).float()))

    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "critic_target": self.critic_target.state_dict(), "log_ent_coef": self.log_ent_coef.clone(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "ent_opt": self.ent_opt.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.log_ent_coef.copy_(state["log_ent_coef"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.ent_opt.load_state_dict(state["ent_opt"])
        self.updates = int(state["updates"])
