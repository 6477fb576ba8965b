"""Replay-based algorithms (DQN, Ape-X, SAC, TD3) on Ray: actors are Ray actors adding to replay shards
(Ray actors wrapping the C++ buffer); the learner (this process) samples
the shards in proportion to their priority mass, writes priorities back,
and publishes weights by version (see weights.py). Threads of this process
drive the actors in chunks, and the samples-per-insert ratio is kept
between them and the learner, where the counts are exact."""

from __future__ import annotations

import math
import uuid
from typing import Any

from flockrl.distributed.cluster import ClusterState, connect_for, kill_all, start_hosts, weights_from
from flockrl.distributed.ratio_gate import RatioGate
from flockrl.distributed.remote_actors import OffPolicyHost, RemoteHost, record
from flockrl.distributed.sharded_replay import ReplayShard, ShardedReplay
from flockrl.distributed.weights import WeightBroadcast
from flockrl.runtime.training_run import new_run_store


def start_shards(ray: Any, run: Any) -> tuple[list[Any], list[str]]:
    """The shards and their names (actors find them by name: an actor
    handle among a Ray actor's constructor arguments would put them in the
    object store, from where a restart may not get them back)."""
    c = run.config
    capacity = math.ceil(c.buffer_size / c.replay_shards)
    keep = run.run_dir is not None and c.save_replay
    names = [f"flockrl-replay-{uuid.uuid4().hex[:12]}-{k}" for k in range(c.replay_shards)]
    remote = ray.remote(ReplayShard)
    shards = [remote.options(name=names[k], num_cpus=0, max_restarts=-1, max_task_retries=0).remote(
        k, capacity, run.replay_fields(), c.prioritized, c.alpha, c.seed * 1000 + k,
        str(run.run_dir / f"replay.bin.{k}") if keep else None, run.resumed, run.frame_stack)
        for k in range(c.replay_shards)]
    restored = sum(info["restored"] for info in ray.get([s.info.remote() for s in shards]))
    if restored:
        print(f"replay restored: {restored} transitions in {c.replay_shards} shards", file=run.log)
    return shards, names


def train_on_ray(run: Any) -> Any:
    """OffPolicyTrainer._train for backend "ray"."""
    c = run.config
    ray = connect_for(run)
    shards, names = start_shards(ray, run)
    replay = run.replay = ShardedReplay(ray, shards, c.prioritized, c.seed, run.log)
    broadcast = WeightBroadcast(ray, new_run_store(f"{run.algo}-ray", run.learner.acting_net))
    try:
        return _run(ray, run, replay, names, broadcast)
    finally:  # after the final checkpoint, which saves the shards
        kill_all(ray, shards)
        broadcast.close()


def _run(ray: Any, run: Any, replay: ShardedReplay, shard_names: list[str], broadcast: WeightBroadcast) -> Any:
    c = run.config
    chunk_items = c.remote_chunk_steps * c.envs_per_actor
    gate = RatioGate(c.samples_per_insert, max(1, c.learning_starts),
                     run.limiter_slack(chunk_items * max(c.n_step, 2)))
    gate.inserted_(len(replay))  # what a resumed run restored
    handles = start_hosts(ray, run, OffPolicyHost, lambda i: (
        type(run).acting, c, run.obs_space, run.action_space, i, run.actor_seed(i), weights_from(ray, run, broadcast),
        shard_names[i % len(shard_names)]))
    hosts = [RemoteHost(ray, h, i, broadcast, run.log, c.max_actor_restarts) for i, h in enumerate(handles)]
    broadcast.remote_readers = sum(not h.shared for h in hosts)
    run.cluster = ClusterState(handles, shared_memory_weights=not broadcast.remote_readers)
    broadcast.publish(run.learner.acting_net)

    def drive(index: int) -> None:
        host = hosts[index]
        while not run._actors_should_stop():
            if not gate.wait_insert(chunk_items, timeout=0.1):
                continue
            report = host.call("run_chunk", c.remote_chunk_steps, run.metrics.env_steps)
            if report is not None:  # None: the actor died, its chunk is lost
                record(run.metrics, report, broadcast.version - report["version"])
                gate.inserted_(report["inserted"])

    def sample() -> dict[str, Any] | None:
        if not gate.wait_sample(c.batch_size, timeout=0.05):
            return None
        return replay.sample(c.batch_size, beta=c.beta(run.metrics.env_steps) if c.prioritized else 0.0,
                             device=run.device)

    def cleanup() -> None:
        kill_all(ray, handles)
        run.cluster.actor_restarts = sum(h.restarts for h in hosts)
        run.cluster.shard_restarts = replay.restarts

    step = run._learner_step(sample, replay, broadcast.publish)
    threads = run._start_actors(drive, gate.close)
    return run._learner_loop(step, threads, gate.close, cleanup)
