"""Where a run's numbers go: a progress line on the console, progress.csv
and eval.csv in the run directory, and TensorBoard event files when the
tensorboard package is installed."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, TextIO

RUN_COLUMNS = ("env_steps", "time", "updates", "sps", "updates_per_sec", "samples_per_insert", "policy_lag",
               "return_mean", "length_mean")
EVAL_COLUMNS = ("env_steps", "train_seconds", "mean", "std")


class RunLogger:
    def __init__(self, run_dir: Path | None, console: TextIO, total_steps: int, stats: tuple[str, ...] = (),
                 append: bool = False, tasks: tuple[str, ...] = ()):
        """stats: the algorithm's own columns (losses and the like) after the
        run's; tasks: a multi-task run's task names (a return column each)."""
        self.console, self.total_steps = console, total_steps
        # A terminal gets a progress bar redrawn in place; files and pipes get lines.
        self._interactive = bool(getattr(console, "isatty", lambda: False)())
        self._bar_shown = False
        self.columns = RUN_COLUMNS + tuple(f"return_mean/{t}" for t in tasks) + stats
        self.eval_columns = EVAL_COLUMNS + tuple(f"mean/{t}" for t in tasks)
        self._files: list[Any] = []
        self._progress = self._eval = self._tb = None
        if run_dir is None:
            return
        self._progress = self._open(run_dir / "progress.csv", self.columns, append)
        self._eval = self._open(run_dir / "eval.csv", self.eval_columns, append)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional: say so once, as the run starts
            print('no tensorboard/ logs: tensorboard is not installed (pip install "flockrl[tensorboard]"); '
                  "progress.csv and eval.csv hold the same", file=self.console)
            return
        self._tb = SummaryWriter(str(run_dir / "tensorboard"))

    def _open(self, path: Path, columns: tuple[str, ...], append: bool) -> Any:
        exists = append and path.exists()
        f = open(path, "a" if exists else "w", newline="")  # noqa: SIM115 (closed in close())
        self._files.append(f)
        writer = csv.writer(f)
        if not exists:
            writer.writerow(columns)
        return writer, f

    def progress(self, row: dict[str, Any]) -> None:
        line = (f"steps {row['env_steps']:>8}/{self.total_steps}  sps {row['sps']:7.0f}  "
                f"updates/s {row['updates_per_sec']:6.0f}  return {row['return_mean']:7.1f}  "
                f"spi {row['samples_per_insert']:5.1f}  lag {row['policy_lag']:5.1f}")
        if self._interactive:  # one bar, redrawn in place
            done = min(1.0, row["env_steps"] / self.total_steps)
            bar = "#" * int(24 * done) + "." * (24 - int(24 * done))
            print(f"\r[{bar}] {100 * done:3.0f}%  {line}", end="", file=self.console, flush=True)
            self._bar_shown = True
        else:
            print(line, file=self.console, flush=True)
        self._write(self._progress, self.columns, row)
        if self._tb is not None:
            for key in self.columns[3:]:
                self._tb.add_scalar(f"train/{key}", row.get(key, math.nan), row["env_steps"])

    def evaluation(self, row: dict[str, Any], episodes: int, note: str = "") -> None:
        self._end_bar()
        per_task = "".join(f"; {k[5:]} {row[k]:.1f}" for k in self.eval_columns[len(EVAL_COLUMNS):])
        print(f"eval at {row['env_steps']} steps: {row['mean']:.1f} +- {row['std']:.1f} over {episodes} episodes"
              f"{per_task}{note}", file=self.console, flush=True)
        self._write(self._eval, self.eval_columns, row)
        if self._tb is not None:
            self._tb.add_scalar("eval/return_mean", row["mean"], row["env_steps"])
            for k in self.eval_columns[len(EVAL_COLUMNS):]:
                self._tb.add_scalar(f"eval/{k}", row[k], row["env_steps"])

    @staticmethod
    def _write(target: Any, columns: tuple[str, ...], row: dict[str, Any]) -> None:
        if target is not None:
            writer, f = target
            writer.writerow([row.get(k, math.nan) for k in columns])  # nan: not measured yet
            f.flush()

    def _end_bar(self) -> None:
        if self._bar_shown:  # the next line starts below the bar
            print(file=self.console, flush=True)
            self._bar_shown = False

    def close(self) -> None:
        """Idempotent: the run closes it when it finishes and again on its
        way out, which is the only close when training raised."""
        self._end_bar()
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        for f in self._files:
            f.close()
        self._files.clear()
