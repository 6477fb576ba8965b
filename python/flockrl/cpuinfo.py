"""What the CPU is, from /proc/cpuinfo (Linux; empty elsewhere): the
fields of its first processor and its feature flags. Learners' speed
depends on them (AVX2, AVX-512, bfloat16 in hardware), and benchmark
tables name them."""

from __future__ import annotations

import functools


@functools.cache
def cpu_info() -> dict[str, str]:
    """The first processor's fields ("model name", "cpu family", "flags",
    ...), or {} where /proc/cpuinfo cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            first = f.read().split("\n\n")[0]
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in first.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in fields}


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (avx2, avx512f, avx512_bf16, amx_bf16, ...)."""
    return frozenset(cpu_info().get("flags", "").split())


def has_native_bfloat16_cpu() -> bool:
    """Whether the CPU computes bfloat16 products in hardware: AVX-512 BF16 or AMX."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
