"""Batched environments behind gymnasium's ``VectorEnv`` API.

Native envs (``NATIVE_ENV_IDS``) are stepped in C++ by ``NativeVecEnv`` and
reproduce gymnasium's trajectories exactly for the same seeds and actions.
Any other gymnasium id is delegated to gymnasium's own Sync/AsyncVectorEnv:
it works, but a Python env is bound by the GIL and is not made faster.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from flockrl import _core

_SPECS = {s["id"]: s for s in _core.native_env_specs()}
NATIVE_ENV_IDS: tuple[str, ...] = tuple(_SPECS)
_AUTORESET_CODES = {AutoresetMode.NEXT_STEP: 0, AutoresetMode.SAME_STEP: 1, AutoresetMode.DISABLED: 2}


def default_num_threads() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _seed_words(seed: Any, what: str) -> list[int]:
    """Split a seed into 32-bit words, least significant first, as numpy does."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{what}: expected a non-negative int or None, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"{what}: expected a non-negative int, got {seed}")
    words = []
    while True:
        words.append(seed & 0xFFFFFFFF)
        seed >>= 32
        if seed == 0:
            return words


def _random_seed() -> int:
    """Fresh OS entropy, as gymnasium uses for an env reset without a seed."""
    return int(np.random.SeedSequence().entropy)


class NativeVecEnv(VectorEnv):
    """``num_envs`` copies of a native env stepped together in C++.

    Matches ``gymnasium.vector.SyncVectorEnv`` over ``gym.make(env_id)``:
    float32 observations, float64 rewards, bool terminations/truncations,
    the same autoreset modes and seeding. Differences, all additions:

    * ``SAME_STEP`` infos carry a dense ``final_obs`` array (num_envs,
      obs_dim) in every step: the true last observation of each env (the
      terminal one where ``_final_obs`` is True, else equal to ``obs``).
    * ``copy=False`` returns views into two alternating preallocated buffers,
      valid until the next call to ``step``/``reset`` (no allocation per step).
    * ``step_async(actions)`` / ``step_wait()`` run the step on background
      threads so the caller can overlap its own work.

    Not thread-safe: use one instance per thread (a second thread gets an
    error, never a data race).
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        *,
        seed: int | None = None,
        num_threads: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        max_episode_steps: int | None = None,
    ) -> None:
        if env_id not in _SPECS:
            raise ValueError(f"env_id: expected one of {', '.join(NATIVE_ENV_IDS)}, got {env_id!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise TypeError(f"num_envs: expected an int, got {type(num_envs).__name__}")
        try:
            autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            valid = ", ".join(m.value for m in AutoresetMode)
            raise ValueError(f"autoreset_mode: expected one of {valid}, got {autoreset_mode!r}") from None
        if num_threads is None:
            num_threads = default_num_threads()
        self._core = _core.VecEnvCore(
            env_id,
            int(num_envs),
            int(num_threads),
            _AUTORESET_CODES[autoreset_mode],
            bool(copy),
            0 if max_episode_steps is None else int(max_episode_steps),
        )
        spec = _SPECS[env_id]
        self.env_id = env_id
        self.num_envs = int(num_envs)
        self.copy = bool(copy)
        self.max_episode_steps = self._core.max_episode_steps
        self.single_observation_space = spaces.Box(spec["obs_low"], spec["obs_high"], dtype=np.float32)
        if spec["discrete_actions"]:
            self.single_action_space = spaces.Discrete(spec["num_actions"])
        else:
            self.single_action_space = spaces.Box(spec["action_low"], spec["action_high"], dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": autoreset_mode, "render_modes": []}
        self.render_mode = None
        self.closed = False
        # `seed` seeds env i with seed + i, like gymnasium's reset(seed=seed):
        # the first reset() without a seed of its own starts from there.
        self._apply_seeds(seed if seed is not None else [_random_seed() for _ in range(self.num_envs)])

    @property
    def num_threads(self) -> int:
        """Threads a large step is split across (small batches run inline)."""
        return self._core.num_threads

    def _apply_seeds(self, seed: int | Sequence[int | None] | None) -> None:
        if seed is None:
            return
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            seeds: list[int | None] = [int(seed) + i for i in range(self.num_envs)]
        elif isinstance(seed, Sequence) and not isinstance(seed, str):
            if len(seed) != self.num_envs:
                raise ValueError(f"seed: expected a list of {self.num_envs} seeds, got {len(seed)}")
            seeds = list(seed)
        else:
            raise TypeError(f"seed: expected None, an int or a list of ints, got {type(seed).__name__}")
        self._core.seed([None if s is None else _seed_words(s, f"seed[{i}]") for i, s in enumerate(seeds)])

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all envs, or those in ``options["reset_mask"]``.

        ``seed``: None continues each env's random stream; an int gives env i
        the seed ``seed + i``; a list gives one seed (or None) per env.
        """
        mask = None
        if options:
            unknown = sorted(set(options) - {"reset_mask"})
            if unknown:
                raise ValueError(f"options: native envs accept only 'reset_mask', got {unknown}")
            mask = options["reset_mask"]
            if not isinstance(mask, np.ndarray):
                raise TypeError(f"options['reset_mask']: expected a numpy array, got {type(mask).__name__}")
            if mask.shape == (self.num_envs,) and mask.dtype == np.bool_ and not mask.any():
                raise ValueError("options['reset_mask']: expected at least one True value, got none")
        self._apply_seeds(seed)
        return self._core.reset(mask), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env: ``(obs, rewards, terminations, truncations, infos)``."""
        return self._core.step(actions)

    def step_async(self, actions: Any) -> None:
        """Start a step on background threads and return at once."""
        self._core.step_async(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Wait for the step started by ``step_async`` and return its results."""
        return self._core.step_wait()

    def close_extras(self, **kwargs: Any) -> None:
        self._core.close()

    def __repr__(self) -> str:
        return f"NativeVecEnv({self.env_id}, num_envs={self.num_envs})"


def make_vec(
    env_id: str,
    num_envs: int = 1,
    *,
    seed: int | None = None,
    num_threads: int | None = None,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    copy: bool = True,
    vectorization_mode: str = "sync",
    **env_kwargs: Any,
) -> VectorEnv:
    """A vector env of ``num_envs`` copies of ``env_id``.

    Native ids (``flockrl.NATIVE_ENV_IDS``, also reachable as
    ``gym.make_vec("flockrl/<id>")``) run in C++. Any other registered
    gymnasium id is built with gymnasium's own vector env
    (``vectorization_mode`` "sync" or "async"); ``seed`` then applies at the
    first ``reset()`` without a seed, as it does for native envs.
    """
    if env_id.startswith("flockrl/"):
        env_id = env_id[len("flockrl/") :]
    if env_id in _SPECS:
        if env_kwargs:
            raise ValueError(f"{env_id} is native and takes no env kwargs, got {sorted(env_kwargs)}")
        return NativeVecEnv(
            env_id, num_envs, seed=seed, num_threads=num_threads, autoreset_mode=autoreset_mode, copy=copy
        )
    if env_id not in gym.registry:
        raise ValueError(
            f"env_id: expected a native env ({', '.join(NATIVE_ENV_IDS)}) or a registered gymnasium id, "
            f"got {env_id!r}"
        )
    if vectorization_mode not in ("sync", "async"):
        raise ValueError(f"vectorization_mode: expected 'sync' or 'async', got {vectorization_mode!r}")
    env = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode=vectorization_mode,
        vector_kwargs={"autoreset_mode": AutoresetMode(autoreset_mode), "copy": copy},
        **env_kwargs,
    )
    return _SeedOnFirstReset(env, seed) if seed is not None else env


class _SeedOnFirstReset(gym.vector.VectorWrapper):
    """Gives gymnasium vector envs make_vec's ``seed`` semantics."""

    def __init__(self, env: VectorEnv, seed: int) -> None:
        super().__init__(env)
        self._pending_seed: int | None = seed

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> Any:
        if seed is None:
            seed = self._pending_seed
        self._pending_seed = None
        return self.env.reset(seed=seed, options=options)


def _vector_entry_point(env_id: str, num_envs: int = 1, max_episode_steps: int | None = None, **kwargs: Any):
    return NativeVecEnv(env_id, num_envs, max_episode_steps=max_episode_steps, **kwargs)


def _register_with_gymnasium() -> None:
    """``gym.make_vec("flockrl/CartPole-v1", n)`` builds a NativeVecEnv;
    ``gym.make("flockrl/CartPole-v1")`` builds gymnasium's own single env."""
    for env_id in NATIVE_ENV_IDS:
        name = f"flockrl/{env_id}"
        if name in gym.registry:
            continue
        reference = gym.spec(env_id)
        gym.register(
            id=name,
            entry_point=reference.entry_point,
            vector_entry_point=functools.partial(_vector_entry_point, env_id),
            max_episode_steps=reference.max_episode_steps,
            reward_threshold=reference.reward_threshold,
        )


_register_with_gymnasium()
