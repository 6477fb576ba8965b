"""Starting a run's Ray actors: resources checked first (Ray would leave
actors that do not fit pending forever), restarts on process death."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flockrl.distributed.ray_support import check_resources, connect


@dataclass
class ClusterState:
    """A Ray run's parts and what happened to them (TrainingRun.cluster)."""

    actors: list[Any] = field(default_factory=list)
    """The actors' Ray handles."""
    shared_memory_weights: bool = False
    """Every actor reads weights from the learner's ParamStore (none through the object store)."""
    actor_restarts: int = 0
    """Actor processes that died and were restarted."""
    shard_restarts: int = 0
    """Replay shards likewise."""


def connect_for(run: Any) -> Any:
    """Ray, connected to the run's cluster, with room for its actors."""
    c = run.config
    ray = connect(c.ray_address)
    per_actor = {"CPU": c.actor_cpus, **c.actor_resource_amounts()}
    check_resources(ray, {name: c.num_actors * amount for name, amount in per_actor.items()},
                    f"{c.num_actors} actors x ({', '.join(f'{n}={a:g}' for n, a in per_actor.items())})")
    return ray


def start_hosts(ray: Any, run: Any, host_class: type, args: Any) -> list[Any]:
    """num_actors Ray actors of host_class(*args(index)), each reserving
    actor_cpus and actor_resources, restarted by Ray up to max_actor_restarts times."""
    c = run.config
    remote = ray.remote(host_class).options(num_cpus=c.actor_cpus, resources=c.actor_resource_amounts(),
                                            max_restarts=c.max_actor_restarts, max_task_retries=0)
    handles = [remote.remote(*args(i)) for i in range(c.num_actors)]
    try:
        ray.get([h.pid.remote() for h in handles])  # constructed (an error in one surfaces here)
    except BaseException:
        kill_all(ray, handles)
        raise
    return handles


def kill_all(ray: Any, handles: list[Any]) -> None:
    for h in handles:
        ray.kill(h, no_restart=True)


def weights_from(ray: Any, run: Any, broadcast: Any) -> tuple[str, str, str]:
    """What a host needs to find its weights (see weights.weight_source)."""
    return run.config.ray_weights, ray.get_runtime_context().get_node_id(), broadcast.store.name
