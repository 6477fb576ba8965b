"""PPO and IMPALA on Ray: rollout workers are Ray actors; a thread of the
learner process drives each one through the same RolloutExchange as the
thread backend, so the sync modes (sync, async, bounded) behave the same;
weights reach the workers through the object store, by version."""

from __future__ import annotations

from typing import Any

import numpy as np

from flockrl.distributed.cluster import ClusterState, connect_for, kill_all, start_hosts, weights_from
from flockrl.distributed.remote_actors import RemoteHost, RolloutHost, record
from flockrl.distributed.weights import WeightBroadcast
from flockrl.runtime.sync import Closed, RolloutExchange
from flockrl.runtime.training_run import new_run_store


def _writable(rollout: dict[str, Any]) -> dict[str, Any]:
    """The object store hands out read-only arrays; the learner's update wants its own."""
    return {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in rollout.items()}


def train_on_ray(run: Any) -> Any:
    """RolloutTrainer._train for backend "ray"."""
    ray = connect_for(run)
    broadcast = WeightBroadcast(ray, new_run_store(f"{run.algo}-ray", run.learner.net))
    try:
        return _run(ray, run, broadcast)
    finally:
        broadcast.close()


def _run(ray: Any, run: Any, broadcast: WeightBroadcast) -> Any:
    c = run.config
    handles = start_hosts(ray, run, RolloutHost, lambda i: (
        c, run.obs_space, run.action_space, i, run.actor_seed(i), weights_from(ray, run, broadcast)))
    hosts = [RemoteHost(ray, h, i, broadcast, run.log, c.max_actor_restarts) for i, h in enumerate(handles)]
    broadcast.remote_readers = sum(not h.shared for h in hosts)
    run.cluster = ClusterState(handles, shared_memory_weights=not broadcast.remote_readers)
    exchange = RolloutExchange(c.sync, c.num_actors, max_lag=c.max_lag)
    step = run._learner_step(exchange, broadcast.publish)
    steps = c.rollout_steps * c.envs_per_actor

    def drive(index: int) -> None:
        host, held = hosts[index], [broadcast.newest]

        def pull() -> int:  # called once the exchange lets this rollout begin
            held[0] = broadcast.newest
            return held[0][0]

        try:
            while not run._stop.is_set() and run._claim_steps(steps):
                exchange.begin(index, pull)
                rollout = host.call("collect", c.rollout_steps, newest=held[0])
                if rollout is None:  # the worker died with this rollout: give its steps back
                    run._unclaim_steps(steps)
                    continue
                record(run.metrics, rollout.pop("report"), None)
                exchange.submit(index, _writable(rollout))
            exchange.retire(index)
        except Closed:  # the run is stopping
            pass

    def cleanup() -> None:
        kill_all(ray, handles)
        run.cluster.actor_restarts = sum(h.restarts for h in hosts)

    threads = run._start_actors(drive, exchange.close)
    return run._learner_loop(step, threads, exchange.close, cleanup)
