"""The Nature DQN encoder (Mnih et al. 2015): conv 32x8x8 stride 4, 64x4x4
stride 2, 64x3x3 stride 1, then a 512-unit layer, ReLU after each;
orthogonal init (gain sqrt 2) and zero biases, as CleanRL initialises it."""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from torch import nn

from flockrl.nets.images import image_channels_and_size, image_input, scaled_conv


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class NatureCNN(nn.Module):
    features = 512

    def __init__(self, obs_space: gym.spaces.Box):
        super().__init__()
        channels, height, width = image_channels_and_size(obs_space)
        for kernel, stride in ((8, 4), (4, 2), (3, 1)):
            height, width = conv_output_size(height, kernel, stride), conv_output_size(width, kernel, stride)
        if height < 1 or width < 1:
            raise ValueError(f"network nature_cnn: expected images of at least 36x36, got {obs_space.shape}")
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.fc = nn.Linear(64 * height * width, self.features)
        for layer in [*self.convs, self.fc]:
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.orthogonal_(layer.weight, math.sqrt(2))
                nn.init.zeros_(layer.bias)
        self.to(memory_format=torch.channels_last)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """uint8 images [B, C, H, W] -> features [B, 512], of obs / 255."""
        x = scaled_conv(self.convs[0], image_input(obs))
        return torch.relu(self.fc(self.convs[1:](x)))
