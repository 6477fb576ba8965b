"""TD3 (Fujimoto et al. 2018): twin critics (the smaller target), target
policy smoothing (clipped Gaussian noise on the target action), the actor
and every target updated once per policy_delay critic updates, Polyak
targets. One update follows SB3's order; acting lives in
flockrl.algos.td3_trainer."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.continuous import ContinuousConfig, TwinCriticLearner, one_step_targets
from flockrl.algos.mujoco import mujoco_presets
from flockrl.flat_params import FlatParameters
from flockrl.nets.continuous import DeterministicActor


@dataclass
class TD3Config(ContinuousConfig):
    """TD3. The defaults solve Pendulum-v1: rl-zoo's values (gamma 0.98,
    buffer 200k, 10k random steps first, lr 1e-3, nets of 400 and 300,
    exploration noise 0.1) and SB3's otherwise, with 3-step returns."""

    hidden_sizes: tuple[int, ...] = (400, 300)
    gamma: float = 0.98
    buffer_size: int = 200_000
    learning_starts: int = 10_000
    policy_delay: int = 2
    """Critic updates per actor (and target) update."""
    target_noise: float = 0.2
    """Std of the Gaussian noise on the target policy's action (in [-1, 1] units)."""
    target_noise_clip: float = 0.5
    """That noise is clipped to +-this."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise actors add to their actions (in [-1, 1] units; scaled per actor by noise_spread)."""

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        # rl-zoo's td3.yml. Its episodic training (train_freq one episode,
        # gradient_steps -1: as many steps as the episode had) is the same
        # one update per env step, taken continuously here; Gaussian noise
        # where it uses Ornstein-Uhlenbeck noise (MountainCarContinuous).
        sb3 = {"gamma": 0.99, "buffer_size": 1_000_000, "learning_starts": 100}  # SB3's defaults
        return {
            "Pendulum-v1": {"total_steps": 20_000},  # the defaults (rl-zoo's Pendulum values, 3-step); its budget
            **one_step_targets({
                "MountainCarContinuous-v0": {**sb3, "total_steps": 300_000, "exploration_noise": 0.5},
                "LunarLanderContinuous-v3": {"total_steps": 300_000},
                "BipedalWalker-v3": {"total_steps": 1_000_000},
                # rl-zoo's MuJoCo entries: SB3's defaults, 10k random steps first.
                **mujoco_presets({**sb3, "learning_starts": 10_000}),
            }),
        }

    def validate(self) -> None:
        super().validate()
        self.check_range("policy_delay", 1, None)
        for name in ("target_noise", "target_noise_clip", "exploration_noise"):
            self.check_range(name, 0, None)


def make_td3_actor(config: TD3Config, obs_space: gym.spaces.Box, action_space: gym.spaces.Box
                   ) -> DeterministicActor:
    return DeterministicActor(int(np.prod(obs_space.shape)), action_space.shape[0], config.hidden_sizes)


class TD3Learner(TwinCriticLearner):
    """The deterministic actor and its target, the twin critics and their
    targets, their optimizers (Adam on flat parameters) and one update."""

    def __init__(self, config: TD3Config, obs_space: gym.spaces.Box, action_space: gym.spaces.Box,
                 device: torch.device):
        super().__init__(config, obs_space, action_space, device, make_td3_actor(config, obs_space, action_space))
        self.config: TD3Config = config
        self.actor_target = copy.deepcopy(self.actor)
        self.actor_target_flat = FlatParameters(self.actor_target)
        self.actor_target.requires_grad_(False)
        self._actor_loss = torch.tensor(float("nan"))

    @torch.no_grad()  # differentiated by hand (flockrl.nets.continuous)
    def update(self, batch: dict[str, torch.Tensor], noise: torch.Tensor | None = None) -> dict[str, Any]:
        """One critic update on `batch` (tensors on self.device; actions in
        the env's bounds), and every policy_delay-th one an actor and
        target update. noise: the standard normal draw of the target
        policy's smoothing noise, [B, |A|] (default: fresh). Returns the
        losses (0-dim tensors; actor_loss: of the latest actor update) and,
        with prioritized replay, the new priorities."""
        c = self.config
        obs, next_obs, action = self._inputs(batch)
        if noise is None:
            noise = torch.randn(obs.shape[0], self.act_dim, device=self.device)
        with self.autocast():
            smoothing = (noise * c.target_noise).clamp(-c.target_noise_clip, c.target_noise_clip)
            next_action = (self.actor_target(next_obs) + smoothing).clamp(-1.0, 1.0)
            next_q = self.critic_target(next_obs, next_action).min(dim=0).values
        target = batch["reward"].float() + batch["discount"].float() * next_q
        critic_loss, td = self._critic_step(obs, action, target, batch, 1.0)  # SB3: MSE_1 + MSE_2

        if (self.updates + 1) % c.policy_delay == 0:  # SB3 counts this update first
            # The actor's loss -mean(Q_1(obs, actor(obs))).
            with self.autocast():
                actions, actor_tape = self.actor.forward_tape(obs)
            q, grad_action = self._critic_action_grad(obs, actions, 1)
            with self.autocast():
                self.actor.backward(actor_tape, grad_action)
            self.actor_opt.step()
            self._actor_loss = -q
            self._polyak(self.critic_target_flat, self.critic_flat)
            self._polyak(self.actor_target_flat, self.actor_flat)
        return self._finish_update(td, {"critic_loss": critic_loss, "actor_loss": self._actor_loss})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "actor_target": self.actor_target.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.actor_target.load_state_dict(state["actor_target"])
