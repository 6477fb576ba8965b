"""The examples run as documented (with a small budget)."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_dqn_own_loop_runs():
    result = subprocess.run([sys.executable, str(EXAMPLES / "dqn_own_loop.py"), "3000"], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3000 env steps") and "greedy return" in result.stdout


def test_ppo_own_loop_runs():
    result = subprocess.run([sys.executable, str(EXAMPLES / "ppo_own_loop.py"), "2048"], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "2048 env steps, 160 gradient steps" in result.stdout and "greedy return" in result.stdout
