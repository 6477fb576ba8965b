"""Image observations: what counts as one, and how it enters a network.

Images stay uint8 from the env to the learner's device (4x fewer bytes to
copy than float32) and are scaled to [0, 1] there, inside the network."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch


def is_image_space(space: gym.Space) -> bool:
    """uint8 Box of (C, H, W), or of (K, H, W, 3) (a stack of RGB frames)."""
    return (isinstance(space, gym.spaces.Box) and space.dtype == np.uint8
            and (len(space.shape) == 3 or (len(space.shape) == 4 and space.shape[-1] == 3)))


def image_channels_and_size(space: gym.spaces.Box) -> tuple[int, int, int]:
    """(channels, height, width) the network sees: a stack of K RGB frames
    has 3K channels."""
    shape = space.shape
    if len(shape) == 4:
        return 3 * shape[0], shape[1], shape[2]
    return shape[0], shape[1], shape[2]


def scaled_images(obs: torch.Tensor) -> torch.Tensor:
    """uint8 [B, C, H, W] (or [B, K, H, W, 3]) -> float [B, C, H, W] in [0, 1],
    channels-last in memory (oneDNN's and cuDNN's faster layout for convolutions)."""
    if obs.dim() == 5:
        obs = obs.permute(0, 1, 4, 2, 3).flatten(1, 2)
    # uint8 times a Python float promotes to float32 in one kernel, never in place.
    return (obs * (1.0 / 255.0)).contiguous(memory_format=torch.channels_last)
