"""Watching an agent: greedy episodes recorded as MP4 by gymnasium's own
RecordVideo, on gymnasium's own env made with render_mode="rgb_array".

flockrl's native envs are bit-exact with gymnasium's, so episode i here
(reset with seed + i) is the very trajectory that `evaluate` runs in env i
of its vector env with the same seed, and its return is the same (MuJoCo's
too). Atari games run in gymnasium's single ALE env with its
AtariPreprocessing and FrameStackObservation set as the run's ale-py vector
env was (frame skip, max-pooling, 84x84 gray, stack, no-ops, sticky actions,
FIRE at reset): the same game and policy, but not the same frames to the
bit (the resize differs), so a score here can differ from `flockrl eval`'s.
The video shows every emulator frame in colour, whole games (all lives).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

INSTALL_HINT = 'pip install "flockrl[video]"'


def record_video(act: Callable[[np.ndarray], np.ndarray], env_id: str, directory: str | Path, episodes: int,
                 seed: int, env_kwargs: dict[str, Any] | None = None, epsilon: float = 0.0,
                 ) -> tuple[list[Path], np.ndarray]:
    """Runs `episodes` greedy episodes of `act` (a batched policy, as
    `evaluate` takes) and writes one MP4 each into `directory`; returns the
    files and the episodes' returns. epsilon: the probability of a random
    action, as in `evaluate` (whose random draws these do not repeat)."""
    from flockrl.envs import is_atari_id, is_multitask

    if is_multitask(env_id):
        raise ValueError(f"--video: expected a single env, got the multi-task env {env_id!r}")
    _require_video_dependencies()
    _headless_rendering()
    directory = Path(directory)
    prefix = env_id.replace("/", "_")
    atari = is_atari_id(env_id)
    settings: dict[str, Any] = {}
    if atari:
        from flockrl.envs.atari import checked_settings, require_ale_py

        require_ale_py()
        settings = checked_settings(env_kwargs or {})
        if not (settings["maxpool"] and settings["grayscale"]) or settings["img_height"] != settings["img_width"]:
            raise ValueError("--video of Atari: expected max-pooled, gray, square frames (the training defaults), "
                             f"got maxpool={settings['maxpool']}, grayscale={settings['grayscale']}, "
                             f"{settings['img_height']}x{settings['img_width']}")
        env = gym.make(env_id, render_mode="rgb_array", frameskip=1, full_action_space=settings["full_action_space"],
                       repeat_action_probability=float(settings["repeat_action_probability"]),
                       max_num_frames_per_episode=settings["max_num_frames_per_episode"])
    else:
        env = gym.make(env_id, render_mode="rgb_array", **(env_kwargs or {}))
    with warnings.catch_warnings():  # that files in an existing directory are overwritten: asked for
        warnings.filterwarnings("ignore", message=".*Overwriting existing videos")
        env = gym.wrappers.RecordVideo(env, str(directory), episode_trigger=lambda _: True, name_prefix=prefix)
    if atari:
        env = _atari_preprocessing(env, settings)
    rng = np.random.default_rng(seed)
    returns = np.zeros(episodes)
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            if atari and settings["use_fire_reset"] and env.unwrapped.get_action_meanings()[1] == "FIRE":
                obs, reward, _, _, _ = env.step(1)
                returns[i] += float(reward)
            done = False
            while not done:
                action = act(obs[None])[0]
                if epsilon > 0 and rng.random() < epsilon:
                    action = rng.integers(0, env.action_space.n)
                obs, reward, terminated, truncated, _ = env.step(action)
                returns[i] += float(reward)
                done = terminated or truncated
    finally:
        env.close()  # writes the last episode's file
    return [directory / f"{prefix}-episode-{i}.mp4" for i in range(episodes)], returns


def _atari_preprocessing(env: gym.Env, settings: dict[str, Any]) -> gym.Env:
    """gymnasium's wrappers doing what ale-py's vector env did for training."""
    env = gym.wrappers.AtariPreprocessing(env, noop_max=settings["noop_max"], frame_skip=settings["frameskip"],
                                          screen_size=settings["img_height"], terminal_on_life_loss=False,
                                          grayscale_obs=True)
    return gym.wrappers.FrameStackObservation(env, settings["stack_num"], padding_type="zero")


def _headless_rendering() -> None:
    """Without a display, MuJoCo renders through EGL (its default, GLFW, needs
    a window) and SDL, which pygame draws with, uses no audio device; a
    user's own settings win."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")
        os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def _require_video_dependencies() -> None:
    """RecordVideo writes through moviepy; classic-control envs draw with pygame."""
    for module in ("moviepy", "pygame"):
        try:
            __import__(module)
        except ImportError:
            raise ImportError(f"--video needs {module}: {INSTALL_HINT}") from None
