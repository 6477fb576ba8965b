"""``flockrl plot RUN_DIR [RUN_DIR ...]``: learning curves as a PNG, greedy
evaluation return against env steps and against training time, with the
training episodes' running mean; several runs share the axes, one colour
each, to compare them."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


def _read(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}


def plot_runs(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Writes the figure to `out` (default: RUN_DIR/learning_curve.png for
    one run, learning_curves.png here for several) and returns its path."""
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise ValueError("expected at least one run directory, got none")
    for run_dir in run_dirs:
        if not (run_dir / "progress.csv").exists():
            raise ValueError(f"{run_dir}: no progress.csv (not a flockrl run directory?)")
    try:
        import matplotlib
    except ImportError:
        raise ImportError('flockrl plot needs matplotlib: pip install "flockrl[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = len(run_dirs) == 1
    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for i, run_dir in enumerate(run_dirs):
        progress = _read(run_dir / "progress.csv")
        evals = _read(run_dir / "eval.csv") if (run_dir / "eval.csv").exists() else {}
        name = "" if single else f"{run_dir.name}: "
        # One run: gray training curve, blue evaluations. Several: a colour per run.
        train_color, eval_color = ("tab:gray", "tab:blue") if single else (f"C{i % 10}",) * 2
        if progress:
            by_steps.plot(progress["env_steps"], progress["return_mean"], color=train_color, alpha=0.5,
                          label=f"{name}training episodes (running mean)")
            by_time.plot(progress["time"], progress["return_mean"], color=train_color, alpha=0.5,
                         label=f"{name}training episodes (running mean)")
        if evals:
            by_steps.errorbar(evals["env_steps"], evals["mean"], yerr=evals["std"], marker="o", color=eval_color,
                              label=f"{name}greedy evaluation")
            by_time.errorbar(evals["train_seconds"], evals["mean"], yerr=evals["std"], marker="o", color=eval_color,
                             label=f"{name}greedy evaluation")
    by_steps.set_xlabel("env steps")
    by_time.set_xlabel("wall time (s)")
    for ax in (by_steps, by_time):
        ax.set_ylabel("episode return")
        ax.legend(fontsize="small" if single else "x-small")
    fig.suptitle(str(run_dirs[0]) if single else ", ".join(d.name for d in run_dirs))
    fig.tight_layout()
    path = Path(out) if out else (run_dirs[0] / "learning_curve.png" if single else Path("learning_curves.png"))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
