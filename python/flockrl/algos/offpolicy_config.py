"""What every replay-based algorithm (DQN, Ape-X, SAC, TD3) is configured
with beyond the run itself: the replay buffer, its sampling and rate, the
return and the target networks."""

from __future__ import annotations

from dataclasses import dataclass

from flockrl.runtime.run_config import RunConfig


@dataclass
class OffPolicyConfig(RunConfig):
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Widths of the networks' hidden layers (ReLU)."""
    lr: float = 2.3e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 3
    """Steps summed into each transition's return (1: one-step TD)."""
    batch_size: int = 64
    """Transitions per learner update."""
    buffer_size: int = 100_000
    """Replay capacity in transitions (FIFO eviction)."""
    learning_starts: int = 1000
    """Transitions in the buffer before the learner starts."""
    samples_per_insert: float = 32.0
    """Transitions sampled per transition added; the rate limiter holds actors or learner to it (0: no limit)."""
    tau: float = 1.0
    """Target update rate: 1 copies the online net (hard update), < 1 is Polyak averaging."""
    prioritized: bool = False
    """Prioritized replay (Schaul et al. 2016) instead of uniform."""
    alpha: float = 0.6
    """Prioritization exponent."""
    beta_start: float = 0.4
    """Importance-sampling exponent at the start, annealed to 1 over training."""
    publish_interval: int = 16
    """Learner updates between publishing weights to the actors."""
    replay_shards: int = 1
    """backend "ray": replay shards (Ray actors, buffer_size split evenly), sampled in proportion to their priority mass."""
    remote_chunk_steps: int = 16
    """backend "ray": vector-env steps a remote actor takes per call (weights are refreshed between calls)."""
    save_replay: bool = False
    """Also save the replay buffer (replay.bin) with every checkpoint (actors paused meanwhile), so a resumed run needs no refill."""

    def validate(self) -> None:
        super().validate()
        self.check_range("lr", 0, None, low_inclusive=False)
        self.check_range("gamma", 0, 1)
        self.check_range("tau", 0, 1, low_inclusive=False)
        self.check_range("alpha", 0, None)
        self.check_range("beta_start", 0, 1)
        self.check_range("samples_per_insert", 0, None)
        for name in ("n_step", "batch_size", "buffer_size", "publish_interval", "replay_shards",
                     "remote_chunk_steps"):
            self.check_range(name, 1, None)
        self.check_range("learning_starts", 0, None)
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes: expected one or more ints >= 1, got {self.hidden_sizes!r}")
        if self.replay_shards > 1 and self.backend != "ray":
            raise ValueError(f"config replay_shards: more than 1 needs backend 'ray', got {self.replay_shards} "
                             f"with {self.backend!r}")
        if self.learning_starts > self.buffer_size:
            raise ValueError(f"learning_starts: expected at most buffer_size ({self.buffer_size}), "
                             f"got {self.learning_starts}")

    def beta(self, step: int) -> float:
        """The importance-sampling exponent at env step `step` (linear to 1)."""
        return self.beta_start + min(1.0, step / self.total_steps) * (1.0 - self.beta_start)
