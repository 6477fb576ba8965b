"""Data-parallel learners with torch.distributed: every learner process
runs its own actors and trains on its own data; gradients are averaged
across the group before each optimizer step, so the weights stay identical
everywhere (DPPO). gloo on CPU, NCCL when the learners use CUDA.

A group forms from torchrun's environment variables (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT); `flockrl train ppo --learners N` sets them for N
local processes (spawn_learners), and torchrun does across machines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import torch
import torch.distributed as dist


class LearnerGroup:
    def __init__(self, device: torch.device):
        """Joins the process group torchrun's variables describe."""
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend)
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.device = device

    @staticmethod
    def from_environment(device: torch.device) -> LearnerGroup | None:
        """The group when this process is one of several learners, else None."""
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return None
        return LearnerGroup(device)

    @property
    def is_chief(self) -> bool:
        """Rank 0 evaluates, logs and writes checkpoints."""
        return self.rank == 0

    def average_(self, tensor: torch.Tensor) -> None:
        """`tensor` (a learner's flat gradient) becomes the group's mean, in place."""
        dist.all_reduce(tensor)
        tensor /= self.world_size

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers everywhere."""
        for t in module.state_dict().values():
            dist.broadcast(t, 0)

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        out = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(out, tensor)
        return out

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any."""
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_learners(count: int, argv: list[str]) -> int:
    """Runs `python -m flockrl <argv>` as `count` learner processes on this
    machine (as torchrun would) and returns the first non-zero exit code,
    or 0. When one fails, the others are stopped; Ctrl-C reaches them all
    (same process group) and each stops cleanly."""
    port = _free_port()
    procs = []
    for rank in range(count):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(count),
               "LOCAL_WORLD_SIZE": str(count), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable, "-m", "flockrl", *argv], env=env))
    code = 0
    try:
        while any(p.poll() is None for p in procs):
            failed = [p.returncode for p in procs if p.returncode not in (None, 0)]
            if failed and code == 0:
                code = failed[0]
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGINT)
            time.sleep(0.1)
    except KeyboardInterrupt:  # the children got the same SIGINT
        for p in procs:
            p.wait()
    return code or next((p.returncode for p in procs if p.returncode), 0)


def merged_moments(group: LearnerGroup, x: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
    """(count, mean, variance) of the union of every rank's batch x [B, ...]."""
    x = x.double()
    n = torch.tensor([float(len(x))], dtype=torch.float64, device=x.device)
    mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
    counts, means, variances = group.all_gather(n), group.all_gather(mean), group.all_gather(var)
    total = sum(float(c.item()) for c in counts)
    merged_mean = sum(c.item() / total * m for c, m in zip(counts, means))
    merged_var = sum(c.item() / total * (v + (m - merged_mean).square()) for c, m, v in zip(counts, means, variances))
    return total, merged_mean, merged_var


__all__ = ["LearnerGroup", "merged_moments", "spawn_learners"]
