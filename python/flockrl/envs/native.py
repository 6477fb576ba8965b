"""The native envs: classic control stepped in C++ by ``NativeVecEnv``,
reproducing gymnasium's trajectories exactly for the same seeds and actions,
and registered with gymnasium as ``flockrl/<id>``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from flockrl import _core
from flockrl.envs.common import MAX_NUM_ENVS, MAX_THREADS, check_int, default_num_threads

_SPECS = {s["id"]: s for s in _core.native_env_specs()}
NATIVE_ENV_IDS: tuple[str, ...] = tuple(_SPECS)
_AUTORESET_CODES = {AutoresetMode.NEXT_STEP: 0, AutoresetMode.SAME_STEP: 1, AutoresetMode.DISABLED: 2}


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


def _fresh_base_seed() -> int:
    """OS entropy for envs nobody seeded (each env then takes base + i)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def _fill_missing_seeds(seeds: Any, fallback: Any) -> Any:
    """Seeds (in the core's form) with every missing one taken from `fallback`."""
    if seeds is None:
        return fallback
    if isinstance(seeds, np.ndarray) or all(s is not None for s in seeds):
        return seeds
    words = [_seed_words(int(s), "seed") for s in fallback] if isinstance(fallback, np.ndarray) else fallback
    return [s if s is not None else f for s, f in zip(seeds, words)]


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
        try:
            autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            valid = ", ".join(m.value for m in AutoresetMode)
            raise ValueError(f"autoreset_mode: expected one of {valid}, got {autoreset_mode!r}") from None
        num_envs = check_int(num_envs, "num_envs", 1, MAX_NUM_ENVS)
        num_threads = default_num_threads() if num_threads is None else num_threads
        num_threads = check_int(num_threads, "num_threads", 1, MAX_THREADS)
        self._core = _core.VecEnvCore(
            env_id,
            num_envs,
            num_threads,
            _AUTORESET_CODES[autoreset_mode],
            bool(copy),
            0 if max_episode_steps is None else check_int(max_episode_steps, "max_episode_steps", 1, 2**62),
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
        # `seed` is the seed of the first reset() that gives none (env i gets
        # seed + i, as with gymnasium's reset(seed=seed)); envs left without
        # one then get fresh OS entropy, never a fixed default.
        fresh = self._seed_argument(_fresh_base_seed())
        self._first_reset_seeds = _fill_missing_seeds(self._seed_argument(seed), fresh)

    @property
    def num_threads(self) -> int:
        """Threads a large step is split across (small batches run inline)."""
        return self._core.num_threads

    def _seed_argument(self, seed: int | Sequence[int | None] | None) -> Any:
        """The core's form of a seed: None, uint64 array (env i: seed + i) or a
        list of each env's seed words (or None)."""
        n = self.num_envs
        if seed is None:
            return None
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            _seed_words(seed, "seed")  # type and sign check
            if int(seed) + n <= 2**64:
                return np.arange(n, dtype=np.uint64) + np.uint64(seed)
            return [_seed_words(int(seed) + i, "seed") for i in range(n)]
        if isinstance(seed, Sequence) and not isinstance(seed, str):
            if len(seed) != n:
                raise ValueError(f"seed: expected a list of {n} seeds, got {len(seed)}")
            return [None if s is None else _seed_words(s, f"seed[{i}]") for i, s in enumerate(seed)]
        raise TypeError(f"seed: expected None, an int or a list of ints, got {type(seed).__name__}")

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
        seeds = self._seed_argument(seed)
        if self._first_reset_seeds is not None and mask is None:
            seeds = _fill_missing_seeds(seeds, self._first_reset_seeds)
        obs = self._core.reset(mask, seeds)
        if mask is None:
            self._first_reset_seeds = None
        return obs, {}

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

    def __del__(self) -> None:
        # A step in flight must finish before the buffers it writes are freed;
        # the core also waits in its destructor, this just does it early.
        core = getattr(self, "_core", None)
        if core is not None and not core.closed:
            core.close()

    def __repr__(self) -> str:
        return f"NativeVecEnv({self.env_id}, num_envs={self.num_envs})"


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
