"""What every trainer does around its algorithm: the run directory and its
config.json, actor threads and their failures, periodic greedy evaluation
(timed apart from training), progress logging, atomic checkpoints and
resuming from them, and the best model so far (best.pt). A trainer
subclasses TrainingRun and supplies the learner (with
state_dict/load_state_dict), greedy_action and _train."""

from __future__ import annotations

import io
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.envs import default_num_threads, make_vec
from flockrl.envs.multitask import is_multitask, task_names
from flockrl.nets import is_image_space
from flockrl.params import ParamStore
from flockrl.runtime.checkpoint import load_checkpoint, save_checkpoint
from flockrl.runtime.denormals import flush_denormals
from flockrl.runtime.evaluate import evaluate
from flockrl.runtime.heap import retain_freed_memory
from flockrl.runtime.local_copy import LocalCopy
from flockrl.runtime.logger import RunLogger
from flockrl.runtime.metrics import Metrics
from flockrl.runtime.run_config import RunConfig
from flockrl.runtime.sync import Closed


@dataclass
class TrainResult:
    env_steps: int
    updates: int
    seconds: float
    interrupted: bool
    evaluations: list[dict[str, float]] = field(default_factory=list)
    """{"env_steps", "mean", "std", "train_seconds"} after every evaluation;
    train_seconds is the wall time so far minus time spent evaluating."""

    @property
    def final_eval(self) -> dict[str, float] | None:
        return self.evaluations[-1] if self.evaluations else None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"config device: expected 'auto', 'cpu' or 'cuda[:N]', got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"config device: {name!r} asked for, but torch sees no CUDA device")
    return device


def env_spaces(env_id: str, env_kwargs: dict[str, Any] | None = None) -> tuple[gym.Space, gym.Space]:
    """(single observation space, single action space) of an env id."""
    env = make_vec(env_id, len(task_names(env_id)), **(env_kwargs or {}))  # a multi-task env needs one per task
    try:
        return env.single_observation_space, env.single_action_space
    finally:
        env.close()


def make_actor_env(config: RunConfig, seed: int, threads: int | None = None) -> Any:
    """An actor's vector env (SAME_STEP autoreset). Envs with threads of
    their own (native, Atari) get `threads`, by default the actor's share of
    this machine's CPUs, so that the actors' env threads together do not
    oversubscribe it."""
    threads = threads or max(1, default_num_threads() // config.num_actors)
    return make_vec(config.env, config.envs_per_actor, seed=seed, num_threads=threads,
                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, **config.env_kwarg_values())


def new_run_store(prefix: str, module: Any) -> ParamStore:
    """A fresh ParamStore for one run (named `prefix`-pid-random), after
    removing the stores of runs whose process was killed before it could."""
    ParamStore.reclaim_stale()
    return ParamStore.create(f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}", module)


def next_multiple(value: int, interval: int) -> float:
    """The first multiple of interval above value (inf for interval 0)."""
    return (value // interval + 1) * interval if interval > 0 else math.inf


class TrainingRun:
    algo = ""  # the name checkpoints and config.json record
    stat_columns: tuple[str, ...] = ()  # the learner's stats logged with the run's metrics

    def __init__(self, config: RunConfig, run_dir: str | Path | None, log: Any = sys.stderr):
        if config.backend == "ray":
            from flockrl.distributed.ray_support import require_ray

            require_ray()  # the install hint now, not after the learner is built
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.log = log
        self.device = resolve_device(config.device)
        self.tasks = task_names(config.env) if is_multitask(config.env) else []
        self.metrics = Metrics(tasks=self.tasks)
        self.evaluations: list[dict[str, float]] = []
        self.learner: Any = None
        self.obs_space: gym.Space | None = None  # set by the trainer
        self._stats: dict[str, float] = {}  # the learner's latest, for progress lines
        self._started = time.monotonic()
        self._eval_seconds = 0.0
        self._train_seconds_before = 0.0  # by earlier runs this one resumes
        self.resumed = False
        self._stop = threading.Event()
        self._stop_requested = threading.Event()  # request_stop(): end as Ctrl-C would
        self._claimed, self._claim_lock = 0, threading.Lock()
        self.group: Any = None  # a LearnerGroup when this is one of several data-parallel learners
        self._actor_errors: list[BaseException] = []
        self.cluster: Any = None  # backend "ray": the run's ClusterState (flockrl.distributed.cluster)

    @property
    def world_size(self) -> int:
        """Data-parallel learner processes (each with its own actors)."""
        return self.group.world_size if self.group is not None else 1

    @property
    def is_chief(self) -> bool:
        """Evaluates, logs and writes checkpoints: the only learner, or rank 0."""
        return self.group is None or self.group.is_chief

    @property
    def env_steps(self) -> int:
        """Env steps of the whole run so far, as the learner's decisions
        (evaluate, checkpoint, stop) count them."""
        return self.metrics.env_steps

    def train(self) -> TrainResult:
        """Runs to total_steps or Ctrl-C (then stops cleanly: actors joined,
        shared memory removed, a final checkpoint written)."""
        threads_before = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads())
        retain_freed_memory()  # no page faults on every update's tensors (see runtime/heap.py)
        try:
            run_dir = self.run_dir if self.is_chief else None
            if run_dir is not None:
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / "config.json").write_text(json.dumps({"algo": self.algo, **self.config.to_dict()}, indent=2))
            self.logger = RunLogger(run_dir, self.log if self.is_chief else io.StringIO(), self.config.total_steps,
                                    self.stat_columns, append=self.resumed, tasks=tuple(self.tasks))
            self._started = time.monotonic()
            self._claimed = self.metrics.env_steps
            with flush_denormals():  # the actor threads inherit it
                return self._train()
        finally:
            torch.set_num_threads(threads_before)
            if getattr(self, "logger", None) is not None:  # closed already unless the run failed
                self.logger.close()
            if self.group is not None:
                self.group.close()

    def torch_threads(self) -> int:
        """Small nets gain nothing from intra-op threads, and the actors need
        the cores; a CNN's convolutions use every core (its actors mostly
        wait on their envs' C++ threads, or on the learner)."""
        cpus = default_num_threads()
        return cpus if is_image_space(self.obs_space) else max(1, cpus - self.config.num_actors)

    def _train(self) -> TrainResult:
        """Starts the actors and runs the learner loop (_learner_loop)."""
        raise NotImplementedError

    def _learner_loop(self, step: Callable[[], bool | None], threads: list[threading.Thread],
                      wake: Callable[[], None], cleanup: Callable[[], None]) -> TrainResult:
        """Calls step() (one learner iteration: it may store stats in
        self._stats, and returns False when it learned nothing) until
        total_steps, with evaluations, checkpoints and progress lines in
        between. On the way out, also on Ctrl-C: stops the actors, wake()
        releases whatever they wait on, joins them, then cleanup(); a final
        evaluation and checkpoint follow."""
        c = self.config
        interrupted, next_log = False, 0.0
        next_eval = next_multiple(self.env_steps, c.eval_interval)
        next_checkpoint = next_multiple(self.env_steps, c.checkpoint_interval)
        try:
            while self.env_steps < c.total_steps:
                if self._stop_requested.is_set():
                    raise KeyboardInterrupt
                self._raise_actor_error()
                if step() is False:  # nothing learned yet: nothing new to evaluate or save
                    continue
                if self.env_steps >= next_eval:
                    next_eval = next_multiple(self.env_steps, c.eval_interval)
                    stop = self.is_chief and self._evaluate() >= c.stop_at_return
                    if self.group is not None:  # the learners stop together
                        stop = self.group.any(stop)
                    if stop:
                        break
                if self.env_steps >= next_checkpoint:
                    next_checkpoint = next_multiple(self.env_steps, c.checkpoint_interval)
                    self._save_checkpoint(final=False)
                if time.monotonic() >= next_log:
                    self._report(self._stats)
                    next_log = time.monotonic() + 2.0
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self._stop.set()
            wake()
            for t in threads:
                t.join()
            cleanup()
        return self._finish(interrupted)

    def request_stop(self) -> None:
        """From another thread: training ends as on Ctrl-C (actors stopped,
        a final checkpoint, the result marked interrupted)."""
        self._stop_requested.set()

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- actor threads ------------------------------------------------------------

    def actor_seed(self, index: int) -> int:
        """The seed of actor `index`'s first env (its envs are seeded apart from every other actor's)."""
        c = self.config
        rank = self.group.rank if self.group is not None else 0
        return c.seed * 1000 + (rank * c.num_actors + index) * c.envs_per_actor + 1

    def _make_actor_env(self, index: int) -> tuple[Any, int]:
        """Actor `index`'s vector env (SAME_STEP autoreset) and its seed."""
        c, seed = self.config, self.actor_seed(index)
        return make_actor_env(c, seed), seed

    @contextmanager
    def _actor_parts(self, index: int, store_name: str, net: Any) -> Iterator[tuple[LocalCopy, Any, int]]:
        """Actor `index`'s copy of the weights (`net`, kept in step with the
        store) and its env and seed; both closed on the way out, where a
        closed exchange (the run stopping) ends the actor quietly."""
        weights = LocalCopy(store_name, net)
        env, seed = self._make_actor_env(index)
        try:
            yield weights, env, seed
        except Closed:
            pass
        finally:
            env.close()
            weights.close()

    def _start_actors(self, target: Callable[[int], None], on_failure: Callable[[], None]) -> list[threading.Thread]:
        """num_actors daemon threads running target(index); an exception in
        one stops the run (on_failure wakes whatever the others wait on) and
        is raised in the learner by _raise_actor_error."""

        def run(index: int) -> None:
            try:
                target(index)
            except BaseException as e:
                self._actor_errors.append(e)
                self._stop.set()
                on_failure()

        threads = [threading.Thread(target=run, args=(i,), name=f"flockrl-actor-{i}", daemon=True)
                   for i in range(self.config.num_actors)]
        for t in threads:
            t.start()
        return threads

    def _actors_should_stop(self) -> bool:
        return self._stop.is_set() or self.env_steps >= self.config.total_steps

    def _claim_steps(self, steps: int) -> bool:
        """Reserve an actor's next rollout of env steps, if the budget has
        any left: actors running concurrently then stop at total_steps
        (rounded up to a rollout) instead of each finishing one more."""
        with self._claim_lock:
            if self._claimed * self.world_size >= self.config.total_steps:
                return False
            self._claimed += steps
            return True

    def _unclaim_steps(self, steps: int) -> None:
        """Give back a claim whose rollout was lost (its actor died)."""
        with self._claim_lock:
            self._claimed -= steps

    def _raise_actor_error(self) -> None:
        if self._actor_errors:
            raise RuntimeError("an actor thread failed") from self._actor_errors[0]

    # -- evaluation, logs, checkpoints --------------------------------------------

    def _evaluate(self) -> float:
        """Greedy evaluation on fresh envs; returns the mean return. A mean
        above every earlier one writes best.pt, with the weights evaluated."""
        c = self.config
        t0 = time.monotonic()
        train_seconds = self._train_seconds()
        self._before_evaluation()
        returns = evaluate(self.greedy_action, c.env, c.eval_episodes, seed=10_000 + c.seed,
                           env_kwargs=c.env_kwarg_values(), epsilon=c.eval_epsilon)
        result = {"env_steps": self.env_steps, "mean": float(returns.mean()), "std": float(returns.std()),
                  "train_seconds": train_seconds}
        for t, name in enumerate(self.tasks):  # evaluation env i runs task i % tasks
            result[f"mean/{name}"] = float(returns[t::len(self.tasks)].mean())
        improved = result["mean"] > max((e["mean"] for e in self.evaluations), default=-math.inf)
        self.evaluations.append(result)
        saved_best = improved and self.run_dir is not None and self.is_chief
        if saved_best:
            save_checkpoint(self.run_dir / "best.pt", {**self._checkpoint_state(self._evaluated_state()),
                                                       "best": result, "train_seconds": train_seconds})
        self._eval_seconds += time.monotonic() - t0  # writing best.pt included
        self.logger.evaluation(result, c.eval_episodes, note="; best so far: best.pt" if saved_best else "")
        return result["mean"]

    def _before_evaluation(self) -> None:
        """Trainers whose weights change while they evaluate (A3C's Hogwild
        workers) take a copy to evaluate here."""

    def _evaluated_state(self) -> dict[str, Any]:
        """The learner's state with the weights just evaluated (for best.pt):
        the learner thread evaluates, so by default nothing changed them."""
        return self.learner.state_dict()

    def _finish(self, interrupted: bool) -> TrainResult:
        """After the actors stopped: a last evaluation (unless interrupted or
        just done), the last progress line, the final checkpoint."""
        if not interrupted:
            self._raise_actor_error()
            if self.is_chief and (not self.evaluations or self.evaluations[-1]["env_steps"] != self.env_steps):
                self._evaluate()
        self._report(self._stats)
        self.logger.close()
        self._save_checkpoint(final=True)
        return TrainResult(self.env_steps, self.learner.updates, time.monotonic() - self._started,
                           interrupted, self.evaluations)

    def _train_seconds(self) -> float:
        """Wall time spent training (not evaluating), earlier runs included."""
        return self._train_seconds_before + time.monotonic() - self._started - self._eval_seconds

    def _report(self, stats: dict[str, float]) -> None:
        row = self.metrics.snapshot()
        row["env_steps"], row["sps"] = self.env_steps, row["sps"] * self.world_size
        self.logger.progress({**row, **{k: float(v) for k, v in stats.items()}})

    def _save_checkpoint(self, final: bool) -> None:
        """checkpoint.pt in the run directory, written atomically (final: at
        the end of the run, the actors stopped): the point a resume starts from."""
        if self.run_dir is None or not self.is_chief:
            return
        save_checkpoint(self.run_dir / "checkpoint.pt", self._checkpoint_state(self.learner.state_dict()))

    def _checkpoint_state(self, learner_state: dict[str, Any]) -> dict[str, Any]:
        return {
            "algo": self.algo,
            "config": self.config.to_dict(),
            "learner": learner_state,
            "env_steps": self.env_steps,
            "train_seconds": self._train_seconds(),
            "wall_seconds": self.metrics.elapsed(),
            "evaluations": self.evaluations,
            "torch_rng": torch.get_rng_state(),
        }

    def _resume(self) -> None:
        """Continue the run in run_dir: the learner's state, env-step count,
        evaluations and RNG (ValueError if the checkpoint is missing, corrupt,
        from another algorithm or does not fit the config's network)."""
        if self.run_dir is None:
            raise ValueError("resume needs the run directory")
        state = load_checkpoint(self.run_dir / "checkpoint.pt")
        if state.get("algo") != self.algo:
            raise ValueError(f"{self.run_dir}: the checkpoint is from {state.get('algo')!r}, not {self.algo!r}")
        try:
            self.learner.load_state_dict(state["learner"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise ValueError(f"{self.run_dir}: the checkpoint does not fit this config's network ({e})") from None
        self.metrics = Metrics(env_steps=int(state["env_steps"]) // self.world_size,
                               seconds=float(state["wall_seconds"]), tasks=self.tasks)
        self._train_seconds_before = float(state["train_seconds"])
        self.evaluations = list(state["evaluations"])
        torch.set_rng_state(state["torch_rng"])
        self.resumed = True
