"""Learners as Ray actors: placed where their resources are (learner_gpus:
a node with GPUs), and DPPO's data-parallel learner groups across nodes,
each learner a Ray actor that joins a torch.distributed group (gloo on
CPU, NCCL on GPU) and runs its own actors, as `--learners N` does on one
machine. Rank 0 evaluates, logs and writes the run directory, on its node
(give an absolute path on storage every node sees to keep it elsewhere).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from flockrl.distributed.ray_support import check_resources, connect


class LearnerHost:
    """One learner (a whole trainer with its actors) in a Ray actor."""

    def address(self) -> tuple[str, int]:
        """This node's address and a free port on it: the group's rendezvous."""
        import ray

        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        return ray.util.get_node_ip_address(), port

    def build(self, algo: str, config: Any, run_dir: str | None, resume: bool, env: dict[str, str]) -> bool:
        """Makes the trainer (joining the learner group that `env`, torchrun's
        variables, describes); returns whether it is the chief."""
        from flockrl.algos.registry import trainer_class

        os.environ.update(env)
        self.trainer = trainer_class(algo)(config, run_dir=run_dir, resume=resume, log=sys.stderr)
        return bool(self.trainer.is_chief)

    def train(self) -> dict[str, Any]:
        result = self.trainer.train()
        return {"env_steps": result.env_steps, "updates": result.updates, "seconds": result.seconds,
                "interrupted": result.interrupted, "evaluations": result.evaluations}

    def stop(self) -> None:
        self.trainer.request_stop()


def train_learners(algo: str, config: Any, run_dir: str | None, resume: bool, learners: int) -> dict[str, Any]:
    """Trains with `learners` learner actors (1: one learner placed by its
    resources; more: a DPPO group); returns rank 0's result as a dict of
    TrainResult's fields. Ctrl-C stops every learner cleanly."""
    c = config
    ray = connect(c.ray_address)
    per_learner = {"CPU": c.learner_cpus + c.num_actors * c.actor_cpus, "GPU": c.learner_gpus,
                   **{name: c.num_actors * amount for name, amount in c.actor_resource_amounts().items()}}
    check_resources(ray, {name: learners * amount for name, amount in per_learner.items()},
                    f"{learners} learners x (learner_cpus={c.learner_cpus:g} + {c.num_actors} actors x "
                    f"actor_cpus={c.actor_cpus:g}, learner_gpus={c.learner_gpus:g})")
    remote = ray.remote(LearnerHost).options(num_cpus=c.learner_cpus, num_gpus=c.learner_gpus, max_concurrency=2)
    hosts = [remote.remote() for _ in range(learners)]
    try:
        envs = [{} for _ in hosts]
        if learners > 1:
            host, port = ray.get(hosts[0].address.remote())
            envs = [{"RANK": str(r), "LOCAL_RANK": "0", "WORLD_SIZE": str(learners), "LOCAL_WORLD_SIZE": "1",
                     "MASTER_ADDR": host, "MASTER_PORT": str(port)} for r in range(learners)]
        run_dir = None if run_dir is None else str(Path(run_dir).resolve())  # a Ray worker has its own cwd
        ray.get([h.build.remote(algo, c, run_dir, resume, env) for h, env in zip(hosts, envs)])
        runs = [h.train.remote() for h in hosts]
        try:
            results = ray.get(runs)
        except KeyboardInterrupt:
            ray.get([h.stop.remote() for h in hosts])
            results = ray.get(runs)
        return results[0]
    finally:
        for h in hosts:
            ray.kill(h)
