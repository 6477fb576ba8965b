"""Importing and connecting to Ray, with errors that say what to do."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any


def require_ray() -> Any:
    """The ray module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError('backend "ray" needs Ray: pip install "flockrl[ray]" (or pip install ray)') from None
    return ray


def connect(address: str) -> Any:
    """Connects to the Ray cluster at `address` ("" or "local": the one in
    $RAY_ADDRESS, else a local cluster started here; "auto": the running
    one), unless this process is already connected; returns ray.

    A local cluster listens on loopback only: it serves this run, and
    nothing outside the machine needs to reach it."""
    if address in ("", "local"):
        address = os.environ.get("RAY_ADDRESS", "")
    if not address and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray's switch for a loopback-only node
    ray = require_ray()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "configure_logging": False}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(**options)
    return ray


def check_resources(ray: Any, needed: dict[str, float], what: str) -> None:
    """ValueError when the cluster lacks what `what` asks for (Ray would
    otherwise leave the actors pending forever)."""
    available = ray.cluster_resources()
    for name, amount in needed.items():
        if amount > available.get(name, 0.0):
            raise ValueError(f"{what}: needs {amount:g} {name} in the Ray cluster, which has "
                             f"{available.get(name, 0.0):g}; ask for less, or add nodes that have it")


def was_restarted() -> bool:
    """In a Ray actor: whether Ray restarted it after its process died."""
    import ray

    with warnings.catch_warnings():  # the property reads a deprecated attribute inside Ray
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
