"""What the actor-critic algorithms (A3C, PPO, IMPALA) are configured with
in common: the sync mode, rollouts, the network, the optimizer's step and
the loss weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flockrl.runtime.run_config import RunConfig


@dataclass
class ActorCriticConfig(RunConfig):
    ALGORITHM: ClassVar[str] = ""
    SYNC_MODES: ClassVar[tuple[str, ...]] = ()

    sync: str = "sync"
    """How actors and learner share weights: sync (every rollout from the current version), async (actors never wait; lag logged) or bounded (lag at most max_lag)."""
    max_lag: int = 1
    """bounded: the most versions a rollout may lag the weights it is trained into."""
    rollout_steps: int = 32
    """Steps each actor collects per rollout (per env; a rollout holds rollout_steps * envs_per_actor transitions)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the policy and of the value MLP."""
    activation: str = "tanh"
    """Hidden activation: tanh or relu."""
    lr: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global norm to this (0: no clipping)."""

    def validate(self) -> None:
        super().validate()
        if self.sync not in self.SYNC_MODES:
            raise ValueError(f"config sync: expected one of {', '.join(self.SYNC_MODES)} for {self.ALGORITHM}, "
                             f"got {self.sync!r}")
        if self.activation not in ("tanh", "relu"):
            raise ValueError(f"config activation: expected tanh or relu, got {self.activation!r}")
        self.check_range("lr", 0, None, low_inclusive=False)
        self.check_range("gamma", 0, 1)
        for name in ("ent_coef", "vf_coef", "max_grad_norm"):
            self.check_range(name, 0, None)
        for name in ("max_lag", "rollout_steps"):
            self.check_range(name, 1, None)
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes: expected one or more ints >= 1, got {self.hidden_sizes!r}")
