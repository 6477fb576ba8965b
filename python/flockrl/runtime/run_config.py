"""What every training run is configured with, whatever the algorithm:
the env, the budget, actors, evaluation, checkpoints and the device."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

from flockrl.config import Config
from flockrl.envs.multitask import task_names


BACKENDS = ("threads", "ray")

ATARI_RUN: dict[str, Any] = {"total_steps": 10_000_000, "eval_interval": 250_000, "eval_episodes": 8,
                             "eval_epsilon": 0.05, "checkpoint_interval": 500_000}
"""What every algorithm's Atari preset ("ALE/*") sets about the run: CleanRL's
budget of 10M agent steps (40M frames), and evaluations of 8 whole games
with 5% random actions (Mnih et al. 2015), part of every algorithm's preset."""


@dataclass
class RunConfig(Config):
    env: str = "CartPole-v1"
    """Environment id: a native id (flockrl.NATIVE_ENV_IDS), an Atari game (ALE/Breakout-v5, ...; pip install "flockrl[atari]") or any registered gymnasium id."""
    total_steps: int = 100_000
    """Environment steps to train for (all actors together)."""
    seed: int = 0
    """Seeds torch, the envs and the actors' sampling."""
    num_actors: int = 1
    """Actor threads, each with its own vector env and policy copy."""
    envs_per_actor: int = 8
    """Envs each actor steps together (more amortise the actor's Python work per step)."""
    env_kwargs: str = ""
    """Keyword arguments for the env, "key=value,..." (e.g. "repeat_action_probability=0.25,noop_max=0" for an Atari game; see flockrl.make_vec)."""
    network: str = "auto"
    """The network's encoder: auto (nature_cnn for image observations, else mlp), mlp, nature_cnn or impala_cnn."""
    eval_interval: int = 10_000
    """Env steps between greedy evaluations (0: only at the end)."""
    eval_episodes: int = 20
    """Episodes per evaluation (Atari: whole games)."""
    eval_epsilon: float = 0.0
    """Probability of a random action in evaluations (Discrete actions; Atari presets 0.05, as Mnih et al. 2015: a greedy policy can stall a game)."""
    checkpoint_interval: int = 20_000
    """Env steps between checkpoints in the run directory (0: only at the end)."""
    stop_at_return: float = math.inf
    """Stop once an evaluation's mean return reaches this (inf: train for total_steps)."""
    device: str = "auto"
    """Learner device: "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ..."""
    learner_precision: str = "auto"
    """The learner's arithmetic for CNNs: float32, bfloat16 (autocast: convolutions and matrix products in bfloat16, weights and optimizer in float32; about 1.5x faster on CPUs with AVX-512 BF16 or AMX and on Ampere+ GPUs) or auto (bfloat16 where the hardware has it). MLPs run in float32, except SAC's and TD3's when bfloat16 is asked for (hidden layers in bfloat16, output layers in float32; "auto" keeps them in float32)."""
    backend: str = "threads"
    """Where actors run: "threads" (of this process) or "ray" (Ray actors on a Ray cluster; pip install "flockrl[ray]")."""
    ray_address: str = ""
    """backend "ray": the cluster to join ("" : $RAY_ADDRESS, else a local cluster started for the run; "auto": the running one)."""
    actor_cpus: float = 1.0
    """backend "ray": CPUs each actor reserves on the cluster (Ray places actors where they fit)."""
    actor_resources: str = ""
    """backend "ray": custom Ray resources each actor reserves, "name=amount,..." (e.g. "cpu_node=1" keeps actors on nodes started with --resources '{"cpu_node": 64}')."""
    learner_gpus: float = 0.0
    """backend "ray": GPUs the learner reserves; above 0 the learner runs as a Ray actor on a node that has them (so does every learner of a DPPO group)."""
    learner_cpus: float = 1.0
    """backend "ray": CPUs a learner reserves when it runs as a Ray actor."""
    ray_weights: str = "auto"
    """backend "ray": how actors get weights: "auto" (shared memory on the learner's node, Ray's object store elsewhere) or "object_store" (always)."""
    max_actor_restarts: int = 100
    """backend "ray": times an actor whose process died is restarted before the run fails."""

    def env_kwarg_values(self) -> dict[str, Any]:
        """env_kwargs as {name: value}, values read as Python literals (strings otherwise)."""
        out: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in self.env_kwargs.split(","))):
            name, sep, text = item.partition("=")
            if not sep or not name.strip().isidentifier():
                raise ValueError(f"config env_kwargs: expected key=value pairs separated by commas, "
                                 f"got {self.env_kwargs!r}")
            text = text.strip()
            try:
                value = {"true": True, "false": False}.get(text.lower(), None)
                value = ast.literal_eval(text) if value is None else value
            except (ValueError, SyntaxError):
                value = text
            out[name.strip()] = value
        return out

    def actor_resource_amounts(self) -> dict[str, float]:
        """actor_resources as {name: amount}."""
        amounts = {}
        for item in filter(None, (part.strip() for part in self.actor_resources.split(","))):
            name, sep, amount = item.partition("=")
            try:
                value = float(amount)
            except ValueError:
                value = -1.0
            if not sep or not name.strip() or not value >= 0:
                raise ValueError(f"config actor_resources: expected name=amount pairs (amount >= 0) separated "
                                 f"by commas, got {self.actor_resources!r}")
            amounts[name.strip()] = value
        return amounts

    def validate(self) -> None:
        super().validate()
        if math.isnan(self.stop_at_return):
            raise ValueError("config stop_at_return: expected a number or inf, got nan")
        for name in ("total_steps", "num_actors", "envs_per_actor", "eval_episodes"):
            self.check_range(name, 1, None)
        for name in ("eval_interval", "checkpoint_interval", "max_actor_restarts"):
            self.check_range(name, 0, None)
        for name in ("actor_cpus", "learner_gpus", "learner_cpus"):
            self.check_range(name, 0, None)
        self.actor_resource_amounts()  # parses, or says what is wrong
        self.env_kwarg_values()
        self.check_range("eval_epsilon", 0, 1)
        if self.learner_precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"config learner_precision: expected auto, float32 or bfloat16, got "
                             f"{self.learner_precision!r}")
        from flockrl.nets import NETWORKS

        if self.network not in NETWORKS:
            raise ValueError(f"config network: expected one of {', '.join(NETWORKS)}, got {self.network!r}")
        if self.ray_weights not in ("auto", "object_store"):
            raise ValueError(f"config ray_weights: expected auto or object_store, got {self.ray_weights!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"config backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")
        tasks = len(task_names(self.env))
        for name in ("envs_per_actor", "eval_episodes"):  # a multi-task env needs one env per task
            if getattr(self, name) < tasks:
                raise ValueError(f"config {name}: expected at least one per task of {self.env} ({tasks}), "
                                 f"got {getattr(self, name)}")
