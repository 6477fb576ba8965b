"""Scaling with actors: env steps/s and wall time to solve CartPole-v1 for
1, 2, 4 and 8 actor threads under every sync mode of PPO, A3C and IMPALA,
with the speed-up over one actor. Each actor steps its own 8 native envs.

    python benchmarks/scaling.py --plot docs/scaling.png

Every run trains until a 20-episode greedy evaluation (every 5000 env steps)
reaches 475, or max-steps; "sps" is env steps over training seconds
(evaluations excluded). Threads share the machine's cores and one GIL: on a
2-core machine expect more actors to add overlap, not throughput.
"""

from __future__ import annotations

import argparse
import io
import math

from flockrl.algos.registry import config_class, trainer_class
from flockrl.bench_envs import machine_description

MODES = {"ppo": ("sync", "bounded", "async"), "a3c": ("sync", "bounded", "async", "coordinator", "fedavg"),
         "impala": ("sync", "bounded", "async")}


def run(algo: str, sync: str, actors: int, seed: int, max_steps: int) -> dict:
    config = config_class(algo)(sync=sync, num_actors=actors, seed=seed, total_steps=max_steps, eval_interval=5000,
                                stop_at_return=475.0)
    result = trainer_class(algo)(config, log=io.StringIO()).train()
    solved = next((e for e in result.evaluations if e["mean"] >= 475.0), None)
    last = result.evaluations[-1]
    return {"algo": algo, "sync": sync, "actors": actors, "sps": last["env_steps"] / max(last["train_seconds"], 1e-9),
            "solve_seconds": solved["train_seconds"] if solved else math.inf,
            "solve_steps": solved["env_steps"] if solved else math.inf}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", default="ppo,a3c,impala")
    parser.add_argument("--actors", default="1,2,4,8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=300_000)
    parser.add_argument("--plot", help="write a PNG of env steps/s against actors here")
    args = parser.parse_args()
    actor_counts = [int(a) for a in args.actors.split(",")]
    print(f"Machine: {machine_description()}")
    print("CartPole-v1, 8 native envs per actor; solved = 20-episode greedy mean >= 475\n")
    print("| algo | sync | actors | env steps/s | speed-up | seconds to solve | env steps to solve |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = []
    for algo in args.algos.split(","):
        for sync in MODES[algo]:
            base = None
            for actors in actor_counts:
                row = run(algo, sync, actors, args.seed, args.max_steps)
                base = base or row["sps"]
                row["speedup"] = row["sps"] / base
                rows.append(row)
                solve = (f"{row['solve_seconds']:.1f} | {row['solve_steps']}" if math.isfinite(row["solve_seconds"])
                         else "not solved | -")
                print(f"| {algo} | {sync} | {actors} | {row['sps']:.0f} | {row['speedup']:.2f}x | {solve} |",
                      flush=True)
    if args.plot:
        plot(rows, actor_counts, args.plot)


def plot(rows: list[dict], actor_counts: list[int], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"ppo": "-", "a3c": "--", "impala": ":"}  # line style per algorithm, colour per mode
    colors = {"sync": "tab:blue", "bounded": "tab:orange", "async": "tab:green", "coordinator": "tab:red",
              "fedavg": "tab:purple"}
    for algo, sync in sorted({(r["algo"], r["sync"]) for r in rows}):
        mine = [r for r in rows if (r["algo"], r["sync"]) == (algo, sync)]
        style = {"linestyle": styles.get(algo, "-"), "color": colors.get(sync), "marker": "o", "label": f"{algo} {sync}"}
        axes[0].plot([r["actors"] for r in mine], [r["sps"] for r in mine], **style)
        axes[1].plot([r["actors"] for r in mine], [r["solve_seconds"] for r in mine], **style)
    for ax, ylabel in zip(axes, ("env steps/s (training)", "seconds to solve CartPole-v1")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(actor_counts, [str(a) for a in actor_counts])
        ax.set_xlabel("actor threads")
        ax.set_ylabel(ylabel)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle("flockrl: actors x sync mode (one machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
