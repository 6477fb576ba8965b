"""An actor's copy of the learner's weights, kept in step with a ParamStore."""

from __future__ import annotations

from typing import Any

from flockrl.params import ParamStore


class LocalCopy:
    """`module`, refreshed from the store named `store_name` on pull()."""

    def __init__(self, store_name: str, module: Any):
        self.module = module
        self.store = ParamStore.attach(store_name, module, copy_threads=1)
        self.version = 0  # of the weights the module holds

    def pull(self) -> int:
        """Copies the newest weights in if they are newer than the module's
        (a few atomic loads when they are not); returns the version held."""
        self.version = self.store.pull(self.module) or self.version
        return self.version

    @property
    def newest(self) -> int:
        """The newest version published."""
        return self.store.version

    def close(self) -> None:
        self.store.close()
