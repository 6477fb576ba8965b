"""``flockrl plot RUN_DIR``: learning curves of a run as a PNG, greedy
evaluation return against env steps and against training time, with the
training episodes' running mean."""

from __future__ import annotations

import csv
from pathlib import Path


def _read(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    run_dir = Path(run_dir)
    progress_path, eval_path = run_dir / "progress.csv", run_dir / "eval.csv"
    if not progress_path.exists():
        raise ValueError(f"{run_dir}: no progress.csv (not a flockrl run directory?)")
    try:
        import matplotlib
    except ImportError:
        raise ImportError('flockrl plot needs matplotlib: pip install "flockrl[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    progress = _read(progress_path)
    evals = _read(eval_path) if eval_path.exists() else {}
    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    if progress:
        by_steps.plot(progress["env_steps"], progress["return_mean"], color="tab:gray", alpha=0.6,
                      label="training episodes (running mean)")
        by_time.plot(progress["time"], progress["return_mean"], color="tab:gray", alpha=0.6,
                     label="training episodes (running mean)")
    if evals:
        by_steps.errorbar(evals["env_steps"], evals["mean"], yerr=evals["std"], marker="o", color="tab:blue",
                          label="greedy evaluation")
        by_time.errorbar(evals["train_seconds"], evals["mean"], yerr=evals["std"], marker="o", color="tab:blue",
                         label="greedy evaluation")
    by_steps.set_xlabel("env steps")
    by_time.set_xlabel("wall time (s)")
    for ax in (by_steps, by_time):
        ax.set_ylabel("episode return")
        ax.legend()
    fig.suptitle(str(run_dir))
    fig.tight_layout()
    path = Path(out) if out else run_dir / "learning_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
