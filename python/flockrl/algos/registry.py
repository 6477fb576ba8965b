"""The algorithms the command line knows: name -> config class, trainer
class and a greedy policy loaded from a checkpoint. Imports are lazy, so
listing the names costs nothing."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

# name -> (module, config class, trainer module, trainer class)
_CLASSES = {
    "dqn": ("flockrl.algos.dqn", "DQNConfig", "flockrl.algos.dqn_trainer", "DQNTrainer"),
    "apex": ("flockrl.algos.dqn", "ApexConfig", "flockrl.algos.dqn_trainer", "DQNTrainer"),
    "ppo": ("flockrl.algos.ppo", "PPOConfig", "flockrl.algos.ppo_trainer", "PPOTrainer"),
    "a3c": ("flockrl.algos.a3c", "A3CConfig", "flockrl.algos.a3c_trainer", "A3CTrainer"),
    "impala": ("flockrl.algos.impala", "ImpalaConfig", "flockrl.algos.impala_trainer", "ImpalaTrainer"),
    "sac": ("flockrl.algos.sac", "SACConfig", "flockrl.algos.sac_trainer", "SACTrainer"),
    "td3": ("flockrl.algos.td3", "TD3Config", "flockrl.algos.td3_trainer", "TD3Trainer"),
}
ALGORITHMS = tuple(_CLASSES)


def config_class(algo: str) -> Any:
    module, name, _, _ = _CLASSES[algo]
    return getattr(importlib.import_module(module), name)


def trainer_class(algo: str) -> Any:
    _, _, module, name = _CLASSES[algo]
    return getattr(importlib.import_module(module), name)


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

        obs_space, action_space = env_spaces(config.env, config.env_kwarg_values())
        net = make_actor_critic(config, obs_space, action_space)
        net.load_state_dict(state["learner"]["net"])
        return config, lambda obs: greedy_actions(net, action_space, obs)
    if algo in ("sac", "td3"):
        return config, trainer_class(algo).greedy_policy(config, state["learner"]["actor"])
    from flockrl.algos.dqn_trainer import greedy_policy

    return config, greedy_policy(config, state["learner"]["online"])
