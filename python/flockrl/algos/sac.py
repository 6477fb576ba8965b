"""SAC (Haarnoja et al. 2018, with the automatic entropy tuning of
"Soft Actor-Critic Algorithms and Applications"): twin critics with Polyak
targets, a squashed-Gaussian actor, the entropy coefficient tuned toward
a target entropy of -|A|. One update follows SB3's order: entropy
coefficient, critics, then the actor against the updated critics, then the
targets. The update rule lives here; acting and the actor/learner plumbing
in flockrl.algos.sac_trainer and flockrl.algos.offpolicy_trainer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ContinuousConfig, TwinCriticLearner, one_step_targets
from flockrl.algos.mujoco import mujoco_presets
from flockrl.algos.optim import FlatAdam
from flockrl.nets.continuous import SquashedGaussianActor


@dataclass
class SACConfig(ContinuousConfig):
    """SAC. The defaults solve Pendulum-v1: SB3's SAC with rl-zoo's learning
    rate (1e-3), one gradient step of 256 per env step, and 3-step returns.
    With n_step > 1 the soft target bootstraps after n rewards with the
    entropy bonus of the state it bootstraps from; the bonuses of the states
    in between are left out (their actions came from older policies)."""

    ent_coef: float = 1.0
    """The entropy coefficient alpha; with autotune_entropy, where its tuning starts (SB3: 1)."""
    autotune_entropy: bool = True
    """Tune alpha by gradient descent so the policy's entropy tracks target_entropy."""
    target_entropy: float = -1.0
    """Target entropy per action dimension: the target is this times |A| (-1: SAC's -|A|)."""

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        # rl-zoo's sac.yml. Departures: no gSDE (use_sde; flockrl explores with
        # the Gaussian itself) and constant learning rates where rl-zoo anneals
        # (lin_7.3e-4); train_freq/gradient_steps become samples per insert
        # (batch_size x gradient_steps / train_freq); one-step targets as there.
        return {
            "Pendulum-v1": {"total_steps": 20_000},  # the defaults (rl-zoo's Pendulum values, 3-step); its budget
            **one_step_targets({
                "MountainCarContinuous-v0": {"total_steps": 50_000, "lr": 3e-4, "buffer_size": 50_000,
                                             "batch_size": 512, "ent_coef": 0.1, "autotune_entropy": False,
                                             "samples_per_insert": 512.0, "gamma": 0.9999, "tau": 0.01,
                                             "learning_starts": 0, "hidden_sizes": (64, 64)},
                "LunarLanderContinuous-v3": {"total_steps": 500_000, "lr": 7.3e-4, "tau": 0.01,
                                             "learning_starts": 10_000, "hidden_sizes": (400, 300)},
                "BipedalWalker-v3": {"total_steps": 500_000, "lr": 7.3e-4, "buffer_size": 300_000, "gamma": 0.98,
                                     "tau": 0.02, "learning_starts": 10_000, "hidden_sizes": (400, 300)},
                # rl-zoo's MuJoCo entries: SB3's defaults (lr 3e-4), 10k random steps first.
                **mujoco_presets({"lr": 3e-4, "learning_starts": 10_000}, {"Swimmer": {"gamma": 0.9999}}),
            }),
        }

    def validate(self) -> None:
        super().validate()
        self.check_range("ent_coef", 0, None, low_inclusive=False)


def make_sac_actor(config: SACConfig, obs_space: gym.spaces.Box, action_space: gym.spaces.Box
                   ) -> SquashedGaussianActor:
    return SquashedGaussianActor(int(np.prod(obs_space.shape)), action_space.shape[0], config.hidden_sizes)


class SACLearner(TwinCriticLearner):
    """The squashed-Gaussian actor, the twin critics and their targets, the
    entropy coefficient, their optimizers (Adam on flat parameters) and one
    update."""

    def __init__(self, config: SACConfig, obs_space: gym.spaces.Box, action_space: gym.spaces.Box,
                 device: torch.device):
        super().__init__(config, obs_space, action_space, device, make_sac_actor(config, obs_space, action_space))
        self.config: SACConfig = config
        self.log_ent_coef = torch.full((1,), math.log(config.ent_coef), device=device)
        self.log_ent_coef.grad = torch.zeros_like(self.log_ent_coef)
        self.ent_opt = FlatAdam(self.log_ent_coef, config.lr)
        self.target_entropy = config.target_entropy * self.act_dim

    @torch.no_grad()  # differentiated by hand (flockrl.nets.continuous)
    def update(self, batch: dict[str, torch.Tensor],
               noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, Any]:
        """One update on `batch` (tensors on self.device; actions in the
        env's bounds). noise: the standard normal draws of the policy's
        actions at obs and at next_obs, [B, |A|] each (default: fresh).
        Returns the losses and alpha (0-dim tensors) and, with prioritized
        replay, the new priorities."""
        c = self.config
        obs, next_obs, action = self._inputs(batch)
        # One actor pass over obs and next_obs together (its weights change only at the end): one matrix
        # product of 2B rows per layer instead of two of B, which two threads split better.
        batch_size = obs.shape[0]
        both_noise = (torch.randn(2 * batch_size, self.act_dim, device=self.device) if noise is None
                      else torch.cat(noise))
        with self.autocast():
            both_actions, both_log_probs, actor_tape = self.actor.sample_tape(torch.cat([obs, next_obs]), both_noise)
        actions_pi, next_action = both_actions[:batch_size], both_actions[batch_size:]
        log_prob, next_log_prob = both_log_probs[:batch_size], both_log_probs[batch_size:]
        ent_coef = self.log_ent_coef.exp()
        if c.autotune_entropy:
            # d/d log(alpha) of -(log(alpha) * (log_prob + target)).mean().
            self.log_ent_coef.grad.copy_(-(log_prob + self.target_entropy).mean())
            self.ent_opt.step()

        with self.autocast():
            next_q = self.critic_target(next_obs, next_action).min(dim=0).values - ent_coef * next_log_prob
        target = batch["reward"].float() + batch["discount"].float() * next_q
        critic_loss, td = self._critic_step(obs, action, target, batch, 0.5)  # SB3: 0.5 * (MSE_1 + MSE_2)

        # The actor's loss mean(alpha * log_prob - min_i Q_i(obs, action)), against the updated critics.
        q_pi, grad_action = self._critic_action_grad(obs, actions_pi, 2)
        with self.autocast():
            self.actor.sample_backward(actor_tape, grad_action, (ent_coef / batch_size).expand(batch_size))
        self.actor_opt.step()
        self._polyak(self.critic_target_flat, self.critic_flat)
        ent_coef = ent_coef.squeeze(0)
        return self._finish_update(td, {"critic_loss": critic_loss, "actor_loss": ent_coef * log_prob.mean() - q_pi,
                                        "ent_coef": ent_coef})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "log_ent_coef": self.log_ent_coef.clone(),
                "ent_opt": self.ent_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.log_ent_coef.copy_(state["log_ent_coef"])
        self.ent_opt.load_state_dict(state["ent_opt"])
