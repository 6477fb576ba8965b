"""The arithmetic of a learner's network: float32, or bfloat16 autocast
(torch.autocast: convolutions and matrix products in bfloat16, everything
else, the weights and the optimizer in float32), which a CPU with AVX-512
BF16 or AMX, or a GPU since Ampere, runs about twice as fast for a CNN;
"auto" picks bfloat16 where the hardware has it (elsewhere it would be
emulated, and slower). Actors always act in float32."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch

from flockrl.cpuinfo import has_native_bfloat16_cpu

PRECISIONS = ("auto", "float32", "bfloat16")


def has_native_bfloat16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively: an Ampere or later
    GPU, or an x86 CPU with AVX-512 BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return has_native_bfloat16_cpu()


def learner_autocast(precision: str, device: torch.device,
                     net: torch.nn.Module) -> Callable[[], AbstractContextManager[Any]]:
    """A factory of the contexts the forward passes of a learner's `net`
    run in: bfloat16 autocast only for a CNN (MLPs are too small to gain,
    and PPO's are differentiated by hand in float32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"learner_precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        precision = "bfloat16" if has_native_bfloat16(device) else "float32"
    if precision == "float32" or not any(isinstance(m, torch.nn.Conv2d) for m in net.modules()):
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def mlp_autocast(precision: str, device: torch.device) -> Callable[[], AbstractContextManager[Any]]:
    """The contexts of SAC's and TD3's forward passes: bfloat16 autocast
    only when asked for ("auto" keeps their MLPs in float32), for their
    hidden layers (flockrl.nets.continuous keeps output layers in float32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"learner_precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "bfloat16":
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def floats(x: Any) -> Any:
    """A tensor (or a tuple of them, as Gaussian parameters are) in float32."""
    return tuple(t.float() for t in x) if isinstance(x, tuple) else x.float()
