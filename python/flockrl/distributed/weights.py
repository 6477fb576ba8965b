"""Weights for Ray actors, by version. Actors on the learner's node read
the shared-memory ParamStore (a few atomic loads when nothing is new, no
call to the learner); for actors on other nodes the learner puts each
version in Ray's object store once, and an actor is handed the reference
only when it holds an older version, and fetches it then."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from flockrl.params import ParamStore


def state_arrays(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """The module's state_dict as CPU numpy arrays (what Ray stores without pickling tensors)."""
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


class WeightBroadcast:
    """Learner side: every version to the ParamStore; to the object store
    (one ``ray.put``) while any actor reads from there."""

    def __init__(self, ray: Any, store: ParamStore):
        """store: the run's ParamStore (closed with this)."""
        self._ray = ray
        self.store = store
        self.remote_readers = 0
        """Actors that read from the object store (set before the first publish)."""
        self.newest: tuple[int, Any] = (self.store.version, None)
        """(version, object ref), replaced whole, so a reader never pairs one version with another's ref."""

    @property
    def version(self) -> int:
        return self.newest[0]

    def publish(self, module: torch.nn.Module) -> int:
        version = self.store.publish(module)
        self.newest = (version, self._ray.put(state_arrays(module)) if self.remote_readers else None)
        return version

    def close(self) -> None:
        self.store.close()


def weight_source(policy: str, learner_node: str, store_name: str, module: torch.nn.Module) -> Any:
    """A host's WeightSource: the learner's ParamStore when it is on the
    learner's node and `policy` is "auto", else weights pushed to it."""
    import ray

    if policy == "auto" and ray.get_runtime_context().get_node_id() == learner_node:
        return ParamStore.attach(store_name, module, copy_threads=1)
    return PushedWeights()


class PushedWeights:
    """Remote side: the WeightSource an Actor pulls from, fed by receive()."""

    def __init__(self) -> None:
        self.version = 0  # the newest received
        self._pending: dict[str, np.ndarray] | None = None

    def receive(self, version: int, state: dict[str, np.ndarray]) -> None:
        self.version, self._pending = version, state

    def pull(self, module: torch.nn.Module) -> int | None:
        if self._pending is None:
            return None
        with torch.no_grad(), warnings.catch_warnings():
            # The object store's arrays are read-only; they are only read here.
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            for name, tensor in module.state_dict().items():
                tensor.copy_(torch.from_numpy(self._pending[name]))
        self._pending = None
        return self.version
