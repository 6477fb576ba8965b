"""IMPALA's deep residual encoder (Espeholt et al. 2018, Figure 3): three
stages, each a 3x3 convolution (16, 32, 32 channels), a 3x3 max-pool with
stride 2 and two residual blocks (ReLU, conv, ReLU, conv, plus the input);
then ReLU, a 256-unit layer and ReLU."""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from torch import nn

from flockrl.nets.images import image_channels_and_size, image_input, scaled_conv


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class ImpalaCNN(nn.Module):
    features = 256

    def __init__(self, obs_space: gym.spaces.Box, channels: tuple[int, ...] = (16, 32, 32)):
        super().__init__()
        depth, height, width = image_channels_and_size(obs_space)
        stages: list[nn.Module] = []
        for out in channels:
            stages += [nn.Conv2d(depth, out, 3, padding=1), nn.MaxPool2d(3, stride=2, padding=1),
                       ResidualBlock(out), ResidualBlock(out)]
            depth, height, width = out, (height + 1) // 2, (width + 1) // 2
        self.stages = nn.Sequential(*stages, nn.ReLU(), nn.Flatten())
        self.fc = nn.Linear(depth * height * width, self.features)
        for layer in self.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.orthogonal_(layer.weight, math.sqrt(2))
                nn.init.zeros_(layer.bias)
        self.to(memory_format=torch.channels_last)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """uint8 images [B, C, H, W] -> features [B, 256], of obs / 255."""
        x = scaled_conv(self.stages[0], image_input(obs))
        return torch.relu(self.fc(self.stages[1:](x)))
