"""Type stubs for flockrl._core (kept in step with the module by tests/test_core_stubs.py)."""

from typing import Any

import numpy as np
import numpy.typing as npt

def native_env_specs() -> list[dict[str, Any]]: ...

class VecEnvCore:
    def __init__(
        self,
        env_id: str,
        num_envs: int,
        num_threads: int,
        autoreset_mode: int,
        copy: bool,
        max_episode_steps: int = 0,
    ) -> None: ...
    def reset(
        self,
        mask: npt.NDArray[np.bool_] | None = None,
        seeds: npt.NDArray[np.uint64] | list[list[int] | None] | None = None,
    ) -> npt.NDArray[np.float32]: ...
    def step(
        self, actions: npt.ArrayLike
    ) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], dict[str, Any]
    ]: ...
    def step_async(self, actions: npt.ArrayLike) -> None: ...
    def step_wait(
        self,
    ) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], dict[str, Any]
    ]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def num_threads(self) -> int: ...
    @property
    def max_episode_steps(self) -> int: ...
    @property
    def spec(self) -> dict[str, Any]: ...

def replay_bytes_for(capacity: int, fields: list[tuple[str, tuple[int, ...], str]], prioritized: bool) -> int: ...

class ReplayCore:
    def __init__(
        self,
        capacity: int,
        fields: list[tuple[str, tuple[int, ...], str]],
        prioritized: bool,
        alpha: float,
        eps: float,
        seed: int,
        rate_limiter: tuple[float, int, float] | None = None,
    ) -> None: ...
    def add(
        self,
        arrays: list[npt.NDArray[Any]],
        batch: int,
        priorities: npt.NDArray[np.float64] | None = None,
        timeout: float = -1.0,
    ) -> bool: ...
    def add_if_exact(
        self, items: dict[str, Any], priorities: npt.NDArray[np.float64] | None = None, timeout: float = -1.0
    ) -> bool | None: ...
    def sample(
        self, batch_size: int, beta: float, timeout: float = -1.0
    ) -> tuple[list[npt.NDArray[Any]], npt.NDArray[np.int64], npt.NDArray[np.float64] | None] | None: ...
    def interrupt(self) -> None: ...
    def update_priorities(self, handles: npt.NDArray[np.int64], priorities: npt.NDArray[np.float64]) -> int: ...
    def tree_state(self) -> tuple[npt.NDArray[np.float64], float, float]: ...
    @property
    def size(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def max_priority(self) -> float: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def stats(self) -> dict[str, int]: ...
