"""The MuJoCo tasks every algorithm's presets cover (gymnasium's v5 envs;
pip install "flockrl[mujoco]"), and what those presets set about the run."""

from __future__ import annotations

from typing import Any

MUJOCO_TASKS = ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid", "HumanoidStandup", "Swimmer",
                "InvertedPendulum", "InvertedDoublePendulum", "Reacher", "Pusher")
MUJOCO_IDS = tuple(f"{task}-v5" for task in MUJOCO_TASKS)

MUJOCO_RUN: dict[str, Any] = {"total_steps": 1_000_000, "eval_interval": 50_000, "eval_episodes": 10,
                              "checkpoint_interval": 100_000}
"""The papers' and rl-zoo's budget of 1M env steps (Humanoid: 2M), with an
evaluation of 10 episodes every 50k steps (an episode is up to 1000 steps
of Python physics, so evaluating as often as on Pendulum would cost more
than training)."""


def mujoco_presets(values: dict[str, Any], per_task: dict[str, dict[str, Any]] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """{id: MUJOCO_RUN + values + per_task[task]} for every MuJoCo v5 id."""
    per_task = {"Humanoid": {"total_steps": 2_000_000}, "HumanoidStandup": {"total_steps": 2_000_000},
                **(per_task or {})}
    return {f"{task}-v5": {**MUJOCO_RUN, **values, **per_task.get(task, {})} for task in MUJOCO_TASKS}
