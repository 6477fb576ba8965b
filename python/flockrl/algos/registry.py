"""The algorithms the command line knows: name -> config class, trainer
class and a greedy policy loaded from a checkpoint. Imports are lazy, so
listing the names costs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ALGORITHMS = ("dqn", "apex", "ppo")


def config_class(algo: str) -> Any:
    if algo == "ppo":
        from flockrl.algos.ppo import PPOConfig

        return PPOConfig
    from flockrl.algos.dqn import ApexConfig, DQNConfig

    return {"dqn": DQNConfig, "apex": ApexConfig}[algo]


def trainer_class(algo: str) -> Any:
    if algo == "ppo":
        from flockrl.algos.ppo_trainer import PPOTrainer

        return PPOTrainer
    from flockrl.algos.dqn_trainer import DQNTrainer

    return DQNTrainer


def policy_from_checkpoint(path: str | Path) -> tuple[Any, Any]:
    """The config and greedy action function (CPU) of any trainer's checkpoint."""
    from flockrl.runtime.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    algo = state.get("algo")
    if algo not in ALGORITHMS:
        raise ValueError(f"{path}: a checkpoint of {algo!r}, expected one of {', '.join(ALGORITHMS)}")
    config = config_class(algo)().replace(state["config"])
    if algo == "ppo":
        from flockrl.algos.ppo_trainer import greedy_policy

        return config, greedy_policy(config, state["learner"]["net"])
    from flockrl.algos.dqn_trainer import greedy_policy

    return config, greedy_policy(config, state["learner"]["online"])
