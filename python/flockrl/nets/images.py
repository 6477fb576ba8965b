"""Image observations: what counts as one, and how it enters a network.

Images stay uint8 from the env to the learner's device (4x fewer bytes to
copy than float32) and are scaled to [0, 1] there, inside the network."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F


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


def image_input(obs: torch.Tensor) -> torch.Tensor:
    """uint8 [B, C, H, W] (or [B, K, H, W, 3]) -> float [B, C, H, W], values
    0..255, channels-last in memory (oneDNN's and cuDNN's faster layout for
    convolutions). The 1/255 scaling is the first convolution's
    (scaled_conv): the same function, without a pass over every pixel."""
    if obs.dim() == 5:
        obs = obs.permute(0, 1, 4, 2, 3).flatten(1, 2)
    # Reordered while still uint8 (a quarter of the bytes), then converted keeping the layout.
    return obs.contiguous(memory_format=torch.channels_last).float()


def scaled_conv(conv: torch.nn.Conv2d, pixels: torch.Tensor) -> torch.Tensor:
    """conv(pixels / 255) as conv with its weights divided by 255 (a few
    thousand numbers instead of every pixel; the gradient is the same)."""
    return F.conv2d(pixels, conv.weight * (1.0 / 255.0), conv.bias, conv.stride, conv.padding)
