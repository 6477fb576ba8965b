"""Encoders chosen from the observation space: ``mlp`` for vectors (with its
hand-written backprop, flockrl.nets.mlp), ``nature_cnn`` (the default for
images) and ``impala_cnn`` for uint8 images (C, H, W)."""

from __future__ import annotations

import gymnasium as gym
from torch import nn

from flockrl.nets.images import is_image_space
from flockrl.nets.impala_cnn import ImpalaCNN
from flockrl.nets.nature_cnn import NatureCNN

NETWORKS = ("auto", "mlp", "nature_cnn", "impala_cnn")
CNNS = {"nature_cnn": NatureCNN, "impala_cnn": ImpalaCNN}

__all__ = ["CNNS", "NETWORKS", "ImpalaCNN", "NatureCNN", "is_image_space", "make_cnn", "resolve_network"]


def resolve_network(network: str, obs_space: gym.Space) -> str:
    """The encoder for `obs_space`: "auto" picks nature_cnn for images and mlp
    otherwise; a CNN asked for on vector observations is a ValueError."""
    if network not in NETWORKS:
        raise ValueError(f"network: expected one of {', '.join(NETWORKS)}, got {network!r}")
    image = is_image_space(obs_space)
    if network == "auto":
        return "nature_cnn" if image else "mlp"
    if network in CNNS and not image:
        raise ValueError(f"network {network}: expected image observations (uint8 Box of (C, H, W)), got {obs_space}; "
                         "use network mlp (or auto)")
    return network


def make_cnn(network: str, obs_space: gym.spaces.Box) -> nn.Module:
    """A CNN encoder (with a `features` attribute: its output width)."""
    return CNNS[network](obs_space)
