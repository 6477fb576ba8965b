"""Progress output: a bar redrawn in place on a terminal, plain lines
elsewhere; evaluations start on a fresh line either way."""

import io

from flockrl.runtime.logger import RunLogger

ROW = {"env_steps": 500, "time": 1.0, "updates": 3, "sps": 500.0, "updates_per_sec": 3.0, "samples_per_insert": 1.0,
       "policy_lag": 0.0, "return_mean": 20.0, "length_mean": 20.0}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_bar_files_get_lines():
    tty = Terminal()
    logger = RunLogger(None, tty, total_steps=1000)
    logger.progress(ROW)
    logger.progress({**ROW, "env_steps": 1000})
    logger.evaluation({"env_steps": 1000, "mean": 1.0, "std": 0.0, "train_seconds": 1.0}, 2)
    logger.close()
    out = tty.getvalue()
    assert out.startswith("\r[############............]  50%  steps      500/1000")
    assert "\r[########################] 100%" in out
    assert "\neval at 1000 steps" in out  # below the bar, not over it
    plain = io.StringIO()
    logger = RunLogger(None, plain, total_steps=1000)
    logger.progress(ROW)
    logger.close()
    assert "\r" not in plain.getvalue() and plain.getvalue().startswith("steps      500/1000")
