"""Any other registered gymnasium id: gymnasium's own Sync/AsyncVectorEnv.
It works, but a Python env is bound by the GIL and is not made faster."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode, VectorEnv

from flockrl.envs.common import SeedOnFirstReset
from flockrl.envs.native import NATIVE_ENV_IDS

VECTORIZATION_MODES = ("sync", "async")


def unknown_env_error(env_id: str, known: list[str]) -> ValueError:
    """The error for an id nobody knows, with the closest known ids."""
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ValueError(f"env_id: expected a native env ({', '.join(NATIVE_ENV_IDS)}), an Atari game (ALE/<Game>-v5) "
                      f"or a registered gymnasium id, got {env_id!r}{hint}")


EXTRAS = {"mujoco": "mujoco", "box2d": "box2d"}
"""gymnasium's dependency (as its message names it, lowercased) -> flockrl's extra that installs it."""


def install_hint(env_id: str, message: str) -> str:
    """What to install for `env_id`, from gymnasium's DependencyNotInstalled message."""
    extra = next((extra for name, extra in EXTRAS.items() if name in message.lower()), None)
    if extra is None:
        return f"{env_id}: {message}"
    return f'{env_id} needs {extra}: pip install "flockrl[{extra}]" (gymnasium says: {message})'


def make_gymnasium_vec(env_id: str, num_envs: int, *, seed: int | None, autoreset_mode: AutoresetMode | str,
                       copy: bool, vectorization_mode: str, env_kwargs: dict[str, Any]) -> VectorEnv:
    """``num_envs`` copies of the gymnasium env ``env_id`` in gymnasium's own
    vector env; ``seed`` applies at the first reset that gives none."""
    if env_id not in gym.registry:
        try:  # so that close matches include the Atari games
            from flockrl.envs.atari import require_ale_py

            require_ale_py()
        except ImportError:
            pass
        raise unknown_env_error(env_id, list(gym.registry))
    if vectorization_mode not in VECTORIZATION_MODES:
        raise ValueError(f"vectorization_mode: expected 'sync' or 'async', got {vectorization_mode!r}")
    try:
        env = gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode=vectorization_mode,
            vector_kwargs={"autoreset_mode": AutoresetMode(autoreset_mode), "copy": copy},
            **env_kwargs,
        )
    except gym.error.DependencyNotInstalled as e:
        raise ImportError(install_hint(env_id, str(e))) from None
    return SeedOnFirstReset(env, seed) if seed is not None else env
