"""What scaling out costs on one machine: env steps/s of the thread backend
and of the Ray backend (a local cluster, actors as Ray actors), the same
config and budget for both, measured in the same run, with the ratio.

    pip install "flockrl[ray]"
    python benchmarks/backend_overhead.py

"env steps/s" is env steps over training seconds (the final evaluation
excluded). The runs are interleaved (threads, ray, threads, ray, ...) and
the median of --repeats is reported. On one machine Ray adds process
hops (weights through the object store, replay in other processes, one
remote call per chunk of steps or per rollout) and buys nothing back; its
point is more machines.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics

from flockrl.algos.registry import config_class, trainer_class
from flockrl.bench_envs import machine_description

CASES = {  # algo -> (config overrides, total env steps)
    "ppo": ({"num_actors": 2}, 50_000),
    "impala": ({"num_actors": 2}, 50_000),
    "apex": ({"num_actors": 2, "replay_shards": 2}, 20_000),
}


def steps_per_second(algo: str, backend: str, seed: int) -> float:
    overrides, total = CASES[algo]
    if backend == "threads":
        overrides = {k: v for k, v in overrides.items() if k != "replay_shards"}
    config = config_class(algo)(**overrides, backend=backend, total_steps=total, eval_interval=0, eval_episodes=1,
                                seed=seed)
    result = trainer_class(algo)(config, log=io.StringIO()).train()
    last = result.evaluations[-1]
    return last["env_steps"] / max(last["train_seconds"], 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", default="ppo,impala,apex")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a loopback-only local cluster
    import ray

    ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
    print(f"Machine: {machine_description()}; Ray {ray.__version__}, {ray.cluster_resources().get('CPU', 0):g} CPUs")
    print("CartPole-v1, 2 actors x 8 native envs (Ape-X: 4 envs, 2 replay shards); "
          f"median of {args.repeats} interleaved runs\n")
    print("| algo | threads env steps/s | ray env steps/s | ray / threads |")
    print("|---|---:|---:|---:|")
    for algo in args.algos.split(","):
        runs: dict[str, list[float]] = {"threads": [], "ray": []}
        for repeat in range(args.repeats):
            for backend in runs:
                runs[backend].append(steps_per_second(algo, backend, seed=repeat))
        threads, on_ray = statistics.median(runs["threads"]), statistics.median(runs["ray"])
        print(f"| {algo} | {threads:,.0f} | {on_ray:,.0f} | {on_ray / threads:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
