"""The algorithms the command line knows: name -> config class, trainer
class and a greedy policy loaded from a checkpoint. Imports are lazy, so
listing the names costs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ALGORITHMS = ("dqn", "apex", "ppo", "a3c", "impala")


def config_class(algo: str) -> Any:
    if algo == "ppo":
        from flockrl.algos.ppo import PPOConfig

        return PPOConfig
    if algo == "a3c":
        from flockrl.algos.a3c import A3CConfig

        return A3CConfig
    if algo == "impala":
        from flockrl.algos.impala import ImpalaConfig

        return ImpalaConfig
    from flockrl.algos.dqn import ApexConfig, DQNConfig

    return {"dqn": DQNConfig, "apex": ApexConfig}[algo]


def trainer_class(algo: str) -> Any:
    if algo == "ppo":
        from flockrl.algos.ppo_trainer import PPOTrainer

        return PPOTrainer
    if algo == "a3c":
        from flockrl.algos.a3c_trainer import A3CTrainer

        return A3CTrainer
    if algo == "impala":
        from flockrl.algos.impala_trainer import ImpalaTrainer

        return ImpalaTrainer
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
    if algo in ("ppo", "a3c", "impala"):
        from flockrl.algos.actor_critic import greedy_actions, make_actor_critic
        from flockrl.runtime.training_run import env_spaces

        obs_space, action_space = env_spaces(config.env)
        net = make_actor_critic(config, obs_space, action_space)
        net.load_state_dict(state["learner"]["net"])
        return config, lambda obs: greedy_actions(net, action_space, obs)
    from flockrl.algos.dqn_trainer import greedy_policy

    return config, greedy_policy(config, state["learner"]["online"])
