"""Atari games through ale-py's own C++ vector env (``pip install "flockrl[atari]"``).

``ale_py.vector_env.AtariVectorEnv`` emulates, max-pools, resizes and stacks
frames on its own C++ threads with the GIL released; flockrl does no image
work of its own. ``AtariVecEnv`` wraps it with the training settings of
CleanRL and the Baselines (``TRAINING_DEFAULTS``, each a keyword) and adds,
in a few array operations per step:

* life-loss episodes (``life_loss_info``, on by default): losing a life
  terminates the *training* episode while the game goes on (no reset), as
  the Baselines' EpisodicLifeEnv does;
* rewards clipped to [-1, 1] for learning (``reward_clipping``), while the
  game score, the unclipped return of a whole game (all lives), is reported
  in ``infos["episode"]["r"]`` (and its length in agent steps in
  ``["l"]``) at the step where the game ends, with ``infos["_episode"]``
  marking those envs, as gymnasium's RecordEpisodeStatistics does;
* with SAME_STEP autoreset, a dense ``infos["final_obs"]`` holding every
  env's true last observation, and ``infos["_final_obs"]`` marking the envs
  that reset;
* argument checks with errors that say what was expected.

Life losses are detected here, from the ``lives`` ALE reports, rather than
by ALE's own ``life_loss_info``: with it, a terminated env may or may not
have reset, and only an env that ended its game did. The rule is ALE's
(fewer lives than before the step, and more than 0).

After a life-loss termination the next step is an ordinary step of the same
game, in every autoreset mode: with NEXT_STEP, only a game's end is followed
by a reset step. SAME_STEP (what flockrl's actors use) has no reset steps.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from flockrl.envs.common import MAX_NUM_ENVS, MAX_THREADS, check_int, default_num_threads

PREFIX = "ALE/"
MIN_ALE_PY = (0, 12, 1)
INSTALL_HINT = 'pip install "flockrl[atari]"'

TRAINING_DEFAULTS: dict[str, Any] = {
    "frameskip": 4,
    "stack_num": 4,
    "img_height": 84,
    "img_width": 84,
    "grayscale": True,
    "maxpool": True,
    "noop_max": 30,
    "use_fire_reset": True,
    "repeat_action_probability": 0.0,
    "life_loss_info": True,
    "episodic_life": False,
    "reward_clipping": True,
    "full_action_space": False,
    "max_num_frames_per_episode": 108_000,
}
"""CleanRL's and the Baselines' Atari settings, ALE's keyword names. ALE's
own registration of ALE/*-v5 has sticky actions (repeat_action_probability
0.25, Machado et al. 2018): pass that for their protocol."""

_INT_SETTINGS = ("frameskip", "stack_num", "img_height", "img_width", "noop_max", "max_num_frames_per_episode")
_BOOL_SETTINGS = ("grayscale", "maxpool", "use_fire_reset", "life_loss_info", "episodic_life", "reward_clipping",
                  "full_action_space")
_MAX_SEED = 2**31 - 1  # ALE seeds are C ints


def is_atari_id(env_id: str) -> bool:
    return env_id.startswith(PREFIX)


def require_ale_py() -> Any:
    """ale_py, with its ids registered with gymnasium; ImportError with the
    install hint if it is missing or too old."""
    try:
        import ale_py
    except ImportError:
        raise ImportError(f"Atari envs need ale-py: {INSTALL_HINT}") from None
    version = tuple(int(part) for part in re.findall(r"\d+", ale_py.__version__)[:3])
    if version < MIN_ALE_PY:
        raise ImportError(f"Atari envs need ale-py >= {'.'.join(map(str, MIN_ALE_PY))} (its C++ vector env, "
                          f"GIL released), found {ale_py.__version__}: pip install -U \"flockrl[atari]\"")
    gym.register_envs(ale_py)
    return ale_py


def atari_ids() -> list[str]:
    require_ale_py()
    return sorted(env_id for env_id in gym.registry if is_atari_id(env_id))


def rom_name(env_id: str) -> str:
    """The ROM of an ALE id ("ALE/MsPacman-v5" -> "ms_pacman"), or a
    ValueError naming close matches."""
    known = atari_ids()
    if env_id not in known:
        import difflib

        close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.5) or known[:3]
        raise ValueError(f"env_id: {env_id!r} is not an Atari game ale-py knows; expected an id like "
                         f"{', '.join(close)} ({len(known)} games: flockrl.envs.atari.atari_ids())")
    return gym.spec(env_id).kwargs["game"]


def checked_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """TRAINING_DEFAULTS under `settings`, each checked (ValueError/TypeError naming it)."""
    unknown = sorted(set(settings) - set(TRAINING_DEFAULTS))
    if unknown:
        raise ValueError(f"Atari env: unknown keyword(s) {unknown}; expected some of {sorted(TRAINING_DEFAULTS)}")
    out = {**TRAINING_DEFAULTS, **settings}
    for key in _INT_SETTINGS:
        check_int(out[key], key, 0 if key == "noop_max" else 1, 2**31 - 1)
    for key in _BOOL_SETTINGS:
        if not isinstance(out[key], (bool, np.bool_)):
            raise TypeError(f"{key}: expected a bool, got {type(out[key]).__name__}")
    p = out["repeat_action_probability"]
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"repeat_action_probability: expected a number in [0, 1], got {p!r}")
    return out


class AtariVecEnv(VectorEnv):
    """``num_envs`` copies of an Atari game, stepped by ale-py's C++ vector
    env on ``num_threads`` threads; see the module docstring.

    Observations: uint8 ``(num_envs, stack_num, img_height, img_width)``
    (``(..., 3)`` with ``grayscale=False``), zero-padded after a reset as
    ALE pads. Rewards: float64, clipped with ``reward_clipping``.
    """

    reports_episodes = True  # game scores in infos["episode"] (flockrl.runtime.episodes)

    def __init__(self, env_id: str, num_envs: int, *, seed: int | None = None, num_threads: int | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, **settings: Any) -> None:
        require_ale_py()
        from ale_py.vector_env import AtariVectorEnv

        game = rom_name(env_id)
        try:
            autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            autoreset_mode = None  # type: ignore[assignment]
        if autoreset_mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode: ALE envs support NextStep and SameStep, got {autoreset_mode!r}")
        num_envs = check_int(num_envs, "num_envs", 1, MAX_NUM_ENVS)
        num_threads = check_int(default_num_threads() if num_threads is None else num_threads, "num_threads", 1,
                                MAX_THREADS)
        if seed is not None:
            check_int(seed, "seed", 0, _MAX_SEED - num_envs)
        self.settings = s = checked_settings(settings)
        self.env_id, self.num_envs, self.num_threads = env_id, num_envs, min(num_threads, num_envs)
        self._ale = AtariVectorEnv(
            game, num_envs, num_threads=self.num_threads, autoreset_mode=autoreset_mode,
            max_num_frames_per_episode=s["max_num_frames_per_episode"],
            repeat_action_probability=float(s["repeat_action_probability"]),
            full_action_space=bool(s["full_action_space"]), img_height=s["img_height"], img_width=s["img_width"],
            grayscale=bool(s["grayscale"]), stack_num=s["stack_num"], frameskip=s["frameskip"],
            maxpool=bool(s["maxpool"]), noop_max=s["noop_max"], episodic_life=bool(s["episodic_life"]),
            use_fire_reset=bool(s["use_fire_reset"]),
            # Both done here (module docstring): the game score needs raw rewards.
            life_loss_info=False, reward_clipping=False,
        )
        self.single_observation_space = self._ale.single_observation_space
        self.single_action_space = self._ale.single_action_space
        self.observation_space = self._ale.observation_space
        self.action_space = self._ale.action_space
        self.metadata = {"autoreset_mode": autoreset_mode, "render_modes": []}
        self.render_mode = None
        self.closed = False
        self._num_actions = int(self.single_action_space.n)
        self._pending_seed = seed  # of the first reset() that gives none
        self._score = np.zeros(num_envs)  # unclipped return of the game so far
        self._length = np.zeros(num_envs, dtype=np.int64)  # agent steps of the game so far
        self._lives = np.zeros(num_envs, dtype=np.int64)
        self._resetting = np.zeros(num_envs, dtype=bool)  # NEXT_STEP: the game ended, the next step resets
        self._reset_done = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every env, or those in ``options["reset_mask"]``. ``seed``:
        env i (the i-th env reset) gets seed + i; None continues each env's
        random stream (make_vec's ``seed`` applies to the first full reset)."""
        mask = None
        if options:
            unknown = sorted(set(options) - {"reset_mask"})
            if unknown:
                raise ValueError(f"options: Atari envs accept only 'reset_mask', got {unknown}")
            mask = options["reset_mask"]
            if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"options['reset_mask']: expected a bool array of shape ({self.num_envs},), got "
                                 f"{getattr(mask, 'dtype', type(mask).__name__)} {getattr(mask, 'shape', '')}")
            if not mask.any():
                raise ValueError("options['reset_mask']: expected at least one True value, got none")
            if not self._reset_done:
                raise ValueError("options['reset_mask']: Atari envs reset some envs only after a full reset")
        if seed is None and mask is None:
            seed, self._pending_seed = self._pending_seed, None
        if seed is not None:
            seed = check_int(seed, "seed", 0, _MAX_SEED - self.num_envs)
        obs, info = self._ale.reset(seed=seed, options=None if mask is None else {"reset_mask": mask})
        which = slice(None) if mask is None else mask
        self._score[which], self._length[which], self._resetting[which] = 0.0, 0, False
        self._lives[which] = info["lives"][which]
        self._reset_done = True
        return obs, info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env: ``(obs, rewards, terminations, truncations, infos)``."""
        if not self._reset_done:
            raise ValueError("step: call reset() first")
        obs, raw, terminated, truncated, info = self._ale.step(self._checked_actions(actions))
        raw = raw.astype(np.float64)
        game_over = terminated | truncated  # ALE's episode (it ends only with the game)
        stepped = ~self._resetting  # NEXT_STEP: an env that just reset took no step
        lives = info["lives"].astype(np.int64)
        if self.settings["life_loss_info"]:
            life_lost = (lives < self._lives) & (lives > 0) & stepped & ~game_over
            terminated = terminated | life_lost
        # With SAME_STEP an env that ended its game has reset already: its lives are the new game's.
        self._lives = lives
        self._score += raw
        self._length += stepped
        if game_over.any():
            info["episode"] = {"r": np.where(game_over, self._score, 0.0), "l": np.where(game_over, self._length, 0)}
            info["_episode"] = game_over
            self._score[game_over], self._length[game_over] = 0.0, 0
            if "final_obs" in info:  # SAME_STEP: valid for the envs that reset
                final = info["final_obs"]
                final[~game_over] = obs[~game_over]
                info["_final_obs"] = game_over
        if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP:
            self._resetting = game_over
        rewards = np.clip(raw, -1.0, 1.0) if self.settings["reward_clipping"] else raw
        return obs, rewards, terminated, truncated, info

    def _checked_actions(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions: expected shape ({self.num_envs},), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise TypeError(f"actions: expected integers (Discrete({self._num_actions})), got dtype {a.dtype.name}")
        bad = (a < 0) | (a >= self._num_actions)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"actions[{i}] = {a[i]}: expected an action of Discrete({self._num_actions}) for "
                             f"{self.env_id}, i.e. 0 to {self._num_actions - 1}")
        return np.ascontiguousarray(a, dtype=np.int64)

    def close_extras(self, **kwargs: Any) -> None:
        self._ale.close()

    def __repr__(self) -> str:
        return f"AtariVecEnv({self.env_id}, num_envs={self.num_envs})"
