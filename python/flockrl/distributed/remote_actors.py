"""Actors as Ray actors: the same Actor and RolloutWorker classes as the
thread backend, hosted in a Ray actor process and driven from the learner
process one call at a time (a chunk of env steps, or one rollout). Each
call carries the newest weights only when the host holds an older
version, and returns what the run's metrics need.

A host whose process dies is restarted by Ray (``max_restarts``); the call
it was running is lost, and the RemoteHost that drives it carries on with
the restarted one.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from flockrl.distributed.ray_support import was_restarted
from flockrl.distributed.weights import WeightBroadcast, weight_source
from flockrl.params import ParamStore


class StepRecorder:
    """What a host's Actor or RolloutWorker records, in place of the run's
    Metrics, until the driver takes it with drain() and replays it there."""

    def __init__(self) -> None:
        self.env_steps = 0  # the run's count, set by the driver (epsilon schedules read it)
        self._reset()

    def _reset(self) -> None:
        self.steps = self.inserted = 0
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.tasks: list[int] = []

    def add_steps(self, steps: int, inserted: int, policy_lag: int | None = None) -> None:
        self.steps += steps
        self.inserted += inserted

    def add_episodes(self, returns: np.ndarray, lengths: np.ndarray, tasks: np.ndarray | None = None) -> None:
        self.returns += [float(r) for r in returns]
        self.lengths += [int(n) for n in lengths]
        if tasks is not None:
            self.tasks += [int(t) for t in tasks]

    def drain(self) -> dict[str, Any]:
        out = {"steps": self.steps, "inserted": self.inserted, "returns": self.returns,
               "lengths": self.lengths, "tasks": self.tasks or None}
        self._reset()
        return out


def record(metrics: Any, report: dict[str, Any], policy_lag: int | None) -> None:
    """Replays a host's drained report into the run's Metrics."""
    if report["returns"]:
        tasks = None if report["tasks"] is None else np.array(report["tasks"])
        metrics.add_episodes(np.array(report["returns"]), np.array(report["lengths"]), tasks)
    metrics.add_steps(report["steps"], report["inserted"], policy_lag)


def _host_setup() -> int:
    """One intra-op thread per host (the hosts are the parallelism), and a
    fresh seed offset when Ray restarted this host (not the dead one's stream)."""
    torch.set_num_threads(1)
    if was_restarted():
        return int(np.random.SeedSequence().generate_state(1)[0] % 2**30)
    return 0


class _Host:
    """weights_from: (policy, learner node id, ParamStore name), see weight_source."""

    def _attach_weights(self, weights_from: tuple[str, str, str], module: torch.nn.Module) -> None:
        self.weights = weight_source(*weights_from, module)
        self.shared = isinstance(self.weights, ParamStore)

    def pid(self) -> int:
        return os.getpid()

    def uses_shared_memory(self) -> bool:
        """Whether this host reads the learner's ParamStore (else it is sent weights)."""
        return self.shared

    def _take_weights(self, believed: int, version: int | None, state: Any) -> bool:
        """Takes newer weights if sent; False if this host holds fewer than
        the driver believes: Ray restarted it between two calls."""
        if self.shared:
            return True
        if state is not None:
            self.weights.receive(version, state)
        return self.weights.version >= believed


RESTARTED = "restarted"  # a host's answer when it lost the weights the driver believes it holds


class OffPolicyHost(_Host):
    """Replay-based acting (DQN, Ape-X, SAC, TD3): an Actor whose transitions
    go to a replay shard. acting: the trainer's (OffPolicyTrainer.acting)."""

    def __init__(self, acting: Any, config: Any, obs_space: Any, action_space: Any, index: int, seed: int,
                 weights_from: tuple[str, str, str], shard_name: str):
        import ray
        from flockrl.runtime.training_run import make_actor_env
        from flockrl.runtime.actor import Actor

        seed += _host_setup()
        c = config
        self.env = make_actor_env(c, seed, threads=max(1, round(c.actor_cpus)))  # its reservation
        net, policy, initial_priorities = acting(c, obs_space, action_space, index, np.random.default_rng([seed, index]))
        self._attach_weights(weights_from, net)
        self.recorder = StepRecorder()
        self.shard, self._adding = ray.get_actor(shard_name), None

        def sink(tr: dict[str, np.ndarray]) -> bool:
            self._wait_added()  # one add in flight: memory stays bounded, order kept
            priorities = initial_priorities(tr) if initial_priorities is not None else None
            tr["env"] = tr["env"] + index * c.envs_per_actor  # streams apart from other actors' in the shard
            self._adding = self.shard.add.remote(tr, priorities)
            return True

        self.actor = Actor(self.env, policy, self.weights, sink, self.recorder, n_step=c.n_step, gamma=c.gamma)

    def _wait_added(self) -> None:
        if self._adding is not None:
            import ray

            ray.get(self._adding)
            self._adding = None

    def run_chunk(self, steps: int, env_steps: int, believed: int, version: int | None, state: Any) -> Any:
        """`steps` steps of every env; returns once all they produced is in
        the shard: the recorder's report and the version that acted."""
        if not self._take_weights(believed, version, state):
            return RESTARTED
        self.recorder.env_steps = env_steps
        for _ in range(steps):
            self.actor.step()
        self._wait_added()
        return {**self.recorder.drain(), "version": self.actor.version}


class RolloutHost(_Host):
    """PPO and IMPALA acting: a RolloutWorker returning whole rollouts."""

    def __init__(self, config: Any, obs_space: Any, action_space: Any, index: int, seed: int,
                 weights_from: tuple[str, str, str]):
        from flockrl.algos.actor_critic import make_actor_critic
        from flockrl.runtime.training_run import make_actor_env
        from flockrl.runtime.rollout import RolloutWorker

        seed += _host_setup()
        c = config
        self.env = make_actor_env(c, seed, threads=max(1, round(c.actor_cpus)))  # its reservation
        self.net = make_actor_critic(c, obs_space, action_space)
        self._attach_weights(weights_from, self.net)
        self.recorder, self.version = StepRecorder(), 0
        self.worker = RolloutWorker(self.env, self.net, self.recorder, gamma=c.gamma, seed=seed, index=index)

    def collect(self, steps: int, believed: int, version: int | None, state: Any) -> Any:
        """A rollout of `steps` steps with the newest weights the host has."""
        if not self._take_weights(believed, version, state):
            return RESTARTED
        self.version = self.weights.pull(self.net) or self.version
        rollout = self.worker.collect(steps, self.version)
        rollout["report"] = self.recorder.drain()
        return rollout


class RemoteHost:
    """Drives one host from a thread of the learner process. call() passes
    the newest weights when the host holds an older version. When the
    host's process has died, the call's work is lost and call() returns
    None; Ray restarts the process, and the next call brings it the weights."""

    def __init__(self, ray: Any, handle: Any, index: int, weights: WeightBroadcast, log: Any, max_restarts: int):
        self.ray, self.handle, self.index, self.weights, self.log = ray, handle, index, weights, log
        self.max_restarts = max_restarts
        self.shared = ray.get(handle.uses_shared_memory.remote())  # then it pulls weights itself
        self.held = 0  # the version the host holds
        self.restarts = 0

    def call(self, method: str, *args: Any, newest: tuple[int, Any] | None = None) -> Any:
        """newest: the (version, ref) to bring the host up to (default: the broadcast's newest)."""
        from ray.exceptions import RayActorError

        version, ref = newest or self.weights.newest
        update = version > self.held and ref is not None and not self.shared
        try:
            result = self.ray.get(getattr(self.handle, method).remote(
                *args, self.held, version if update else None, ref if update else None))
        except RayActorError as e:  # died during the call
            return self._restarted(type(e).__name__)
        if isinstance(result, str) and result == RESTARTED:  # died between calls
            return self._restarted("restarted between calls")
        if update or self.shared:
            self.held = version  # a shared-memory host has pulled at least this one
        return result

    def _restarted(self, why: str) -> None:
        from ray.exceptions import RayActorError

        self.restarts += 1
        self.held = 0  # a restarted host starts without weights
        if self.restarts > self.max_restarts:
            raise RuntimeError(f"actor {self.index} died {self.restarts} times (max_actor_restarts); giving up")
        print(f"actor {self.index} died ({why}); Ray restarts it and training goes on", file=self.log)
        try:  # the new process may be on another node, away from the learner's shared memory
            shared = self.ray.get(self.handle.uses_shared_memory.remote())
        except RayActorError:
            return  # not back yet; the next call finds out
        if self.shared and not shared:
            self.weights.remote_readers += 1  # versions go to the object store from the next publish on
        self.shared = shared
