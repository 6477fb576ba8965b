"""The gradient path of asynchronous methods (A3C): workers push gradients,
which are applied to one shared set of weights with shared optimizer
statistics (as in Mnih et al. 2016, "shared RMSProp").

Two modes, one switch:

* ``"hogwild"``: ``push`` applies the update on the worker's own thread with
  no lock. Updates from concurrent workers may interleave element by element
  (Hogwild!, Recht et al. 2011); torch's in-place ops release the GIL, so
  workers really run in parallel.
* ``"coordinator"``: ``push`` hands a copy of the gradients to a queue; one
  applying thread (the parameter server) applies them in arrival order.
  Updates never interleave; ``push`` waits only when the queue is full.

Either way the updated weights are published to a :class:`ParamStore` every
``publish_every`` updates (when one is given), where actors pull them.

    shared = make_net()
    store = ParamStore.create("a3c", shared)
    opt = SharedOptimizer(shared, RMSprop(lr=7e-4, alpha=0.99, eps=0.1), mode="hogwild", store=store)
    # in each worker thread:
    loss.backward(); opt.push(local_net); store.pull(local_net)

The update rules equal ``torch.optim.SGD``, ``RMSprop`` and ``Adam``
(``foreach=False``) op for op, so run single-threaded they give the same
weights.
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
from dataclasses import dataclass
from typing import Any

from flockrl.params import ParamStore

__all__ = ["SGD", "Adam", "RMSprop", "SharedOptimizer"]

MODES = ("hogwild", "coordinator")


def _check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value!r}")


@dataclass(frozen=True)
class SGD:
    """p -= lr * g"""

    lr: float = 1e-2

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)

    def state_for(self, p: Any) -> tuple:
        return ()

    def apply(self, p: Any, g: Any, state: tuple, step: int) -> None:
        p.add_(g, alpha=-self.lr)


@dataclass(frozen=True)
class RMSprop:
    """Non-centred RMSProp with shared statistics (A3C's default):
    s = alpha*s + (1-alpha)*g^2;  p -= lr * g / (sqrt(s) + eps)."""

    lr: float = 7e-4
    alpha: float = 0.99
    eps: float = 0.1

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)
        _check_positive("eps", self.eps, allow_zero=True)
        if not 0 <= self.alpha < 1:
            raise ValueError(f"alpha: expected a number in [0, 1), got {self.alpha!r}")

    def state_for(self, p: Any) -> tuple:
        import torch

        return (torch.zeros_like(p),)

    def apply(self, p: Any, g: Any, state: tuple, step: int) -> None:
        (square_avg,) = state
        square_avg.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
        p.addcdiv_(g, square_avg.sqrt().add_(self.eps), value=-self.lr)


@dataclass(frozen=True)
class Adam:
    """Adam with bias correction; the step count is shared by all workers."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)
        _check_positive("eps", self.eps, allow_zero=True)
        if not all(0 <= b < 1 for b in self.betas) or len(self.betas) != 2:
            raise ValueError(f"betas: expected two numbers in [0, 1), got {self.betas!r}")

    def state_for(self, p: Any) -> tuple:
        import torch

        return torch.zeros_like(p), torch.zeros_like(p)

    def apply(self, p: Any, g: Any, state: tuple, step: int) -> None:
        adam_step_(p, g, state, step, self.lr, self.betas, self.eps)


def adam_step_(p: Any, g: Any, state: tuple, step: int, lr: float, betas: tuple[float, float], eps: float) -> None:
    """Adam's step `step` (from 1) on tensor p with gradient g and state
    (exp_avg, exp_avg_sq), in place, op for op as torch.optim.Adam."""
    exp_avg, exp_avg_sq = state
    beta1, beta2 = betas
    exp_avg.lerp_(g, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    p.addcdiv_(exp_avg, denom, value=-(lr / bias_correction1))


class SharedOptimizer:
    """Applies gradients pushed by many workers to `module`'s parameters.

    module: the shared model, updated in place. Workers are threads of this
    process (as flockrl's actors are); workers in other processes reach the
    weights through the ParamStore. rule: ``SGD``, ``RMSprop`` or ``Adam``;
    its statistics are shared by all workers. store: a ``ParamStore``
    created for `module` to publish to, or None.
    """

    def __init__(
        self,
        module: Any,
        rule: SGD | RMSprop | Adam,
        *,
        mode: str = "hogwild",
        store: ParamStore | None = None,
        publish_every: int = 1,
        queue_size: int = 16,
    ):
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        if not isinstance(rule, (SGD, RMSprop, Adam)):
            raise TypeError(f"rule: expected flockrl.gradients.SGD, RMSprop or Adam, got {type(rule).__name__}")
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
        for name, value in (("publish_every", publish_every), ("queue_size", queue_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        self._module, self._rule, self._mode, self._store = module, rule, mode, store
        self._publish_every = publish_every
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._state = [rule.state_for(p.detach()) for p in self._params]
        self._steps = itertools.count(1)  # next() is atomic under the GIL
        self._applied = 0
        self._count_lock = threading.Lock()  # guards the statistic only, never the weights
        self._publish_lock = threading.Lock()  # one publish at a time (they share a staging buffer)
        self._error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if mode == "coordinator":
            self._queue = queue.Queue(maxsize=queue_size)
            self._thread = threading.Thread(target=self._coordinate, name="flockrl-coordinator", daemon=True)
            self._thread.start()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def updates(self) -> int:
        """Updates applied so far."""
        return self._applied

    def state_dict(self) -> dict[str, Any]:
        """The shared statistics and step count (call with no pushes in flight)."""
        return {"state": [list(s) for s in self._state], "applied": self._applied}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch

        if len(state["state"]) != len(self._state):
            raise ValueError(f"optimizer state: expected {len(self._state)} parameters, got {len(state['state'])}")
        with torch.no_grad():
            for mine, saved in zip(self._state, state["state"]):
                for t, v in zip(mine, saved):
                    t.copy_(v)
        self._applied = int(state["applied"])
        self._steps = itertools.count(self._applied + 1)

    def push(self, grads: Any, timeout: float | None = None) -> None:
        """Apply (hogwild) or enqueue (coordinator) one update.

        grads: a module shaped like the shared one whose ``.grad`` fields hold
        the gradients (parameters without a gradient count as zero), or a
        sequence of tensors, one per trainable parameter.
        timeout: coordinator mode only, seconds to wait for room in the queue
        (None waits); raises queue.Full when it runs out.
        """
        self._raise_coordinator_error()
        tensors = self._gradients_of(grads)
        if self._queue is None:
            self._apply(tensors)
            return
        if self._thread is None:
            raise ValueError("the shared optimizer is closed")
        # A copy: the worker reuses its .grad buffers for the next rollout.
        self._queue.put([g.detach().clone() for g in tensors], timeout=timeout)

    def flush(self) -> None:
        """Coordinator mode: wait until every pushed update is applied."""
        if self._queue is not None:
            self._queue.join()
        self._raise_coordinator_error()

    def close(self) -> None:
        """Stop the applying thread after the queued updates. Idempotent."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_coordinator_error()

    def __enter__(self) -> SharedOptimizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------

    def _gradients_of(self, grads: Any) -> list[Any]:
        import torch

        if isinstance(grads, torch.nn.Module):
            params = [p for p in grads.parameters() if p.requires_grad]
            tensors = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        else:
            tensors = list(grads)
        if len(tensors) != len(self._params):
            raise ValueError(f"grads: expected {len(self._params)} tensors (one per trainable parameter), "
                             f"got {len(tensors)}")
        for i, (g, p) in enumerate(zip(tensors, self._params)):
            if not isinstance(g, torch.Tensor):
                raise TypeError(f"grads[{i}]: expected a torch.Tensor, got {type(g).__name__}")
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"grads[{i}]: expected shape {tuple(p.shape)} {p.dtype}, "
                                 f"got {tuple(g.shape)} {g.dtype}")
        return tensors

    def _apply(self, grads: list[Any]) -> None:
        import torch

        step = next(self._steps)
        with torch.no_grad():
            for p, g, state in zip(self._params, grads, self._state):
                self._rule.apply(p, g.to(p.device, non_blocking=True), state, step)
        with self._count_lock:
            self._applied += 1
        if self._store is not None and step % self._publish_every == 0:
            with self._publish_lock:
                self._store.publish(self._module)

    def _coordinate(self) -> None:
        assert self._queue is not None
        while True:
            grads = self._queue.get()
            try:
                if grads is None:
                    return
                if self._error is None:
                    self._apply(grads)
            except BaseException as e:  # surfaced to the next push/flush/close
                self._error = e
            finally:
                self._queue.task_done()

    def _raise_coordinator_error(self) -> None:
        if self._error is not None:
            raise RuntimeError("the coordinator thread failed to apply an update") from self._error
