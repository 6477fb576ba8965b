"""Run by test_ray_backend: a Ray cluster of two nodes on this machine
(ray.cluster_utils, loopback only): a head with no CPUs, where the learner
(this driver) is, and a worker node with 2 CPUs, where the actors must go.
Trains PPO and Ape-X there; prints one JSON line per run."""

import io
import json
import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from flockrl.algos.dqn import ApexConfig  # noqa: E402
from flockrl.algos.dqn_trainer import DQNTrainer  # noqa: E402
from flockrl.algos.ppo import PPOConfig  # noqa: E402
from flockrl.algos.ppo_trainer import PPOTrainer  # noqa: E402

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
cluster.add_node(num_cpus=2)
ray.init(address=cluster.address, include_dashboard=False, configure_logging=False)
head = ray.get_runtime_context().get_node_id()
try:
    for trainer in (PPOTrainer(PPOConfig(total_steps=20_480, num_actors=2, backend="ray", eval_interval=10_240,
                                         eval_episodes=10), log=io.StringIO()),
                    DQNTrainer(ApexConfig(total_steps=15_000, num_actors=2, replay_shards=2, backend="ray",
                                          eval_interval=5_000, eval_episodes=10, stop_at_return=150),
                               log=io.StringIO())):
        result = trainer.train()
        print(json.dumps({"algo": trainer.algo, "nodes": len(ray.nodes()),
                          "shared_memory_weights": trainer.cluster.shared_memory_weights,
                          "evaluations": [e["mean"] for e in result.evaluations]}), flush=True)
finally:
    ray.shutdown()
    cluster.shutdown()
