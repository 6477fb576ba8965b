"""A missing optional dependency is one line on stderr that names flockrl's
pip extra, and exit code 2: no traceback. Each case blocks the module in a
fresh interpreter (sys.modules[name] = None makes importing it fail), so the
test holds whether or not the package is installed here."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = {
    "Box2D": (["train", "ppo", "--env", "LunarLander-v3"], "box2d"),
    "mujoco": (["train", "sac", "--env", "HalfCheetah-v5"], "mujoco"),
    "ale_py": (["train", "ppo", "--env", "ALE/Pong-v5"], "atari"),
    "ray": (["train", "apex", "--backend", "ray"], "ray"),
    "matplotlib": (["plot", "{run_dir}"], "plot"),
}


def run_without(module: str, argv: list[str]) -> subprocess.CompletedProcess:
    code = (f"import sys; sys.modules[{module!r}] = None; from flockrl.cli import main; "
            f"sys.exit(main({argv!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("module", CASES)
def test_a_missing_dependency_is_one_line_naming_the_extra(tmp_path, module):
    argv, extra = CASES[module]
    (tmp_path / "progress.csv").write_text("env_steps,time,return_mean\n")  # a run directory for plot
    result = run_without(module, [a.format(run_dir=tmp_path) for a in argv])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f'pip install "flockrl[{extra}]"' in lines[0]


def test_without_tensorboard_a_run_says_so_once_and_trains(tmp_path):
    result = run_without("torch.utils.tensorboard", ["train", "ppo", "--total-steps", "512", "--set",
                                                     "eval_interval=0", "--set", "eval_episodes=1",
                                                     "--run-dir", str(tmp_path / "run")])
    assert result.returncode == 0, result.stderr
    assert result.stderr.count('pip install "flockrl[tensorboard]"') == 1
    assert not (tmp_path / "run" / "tensorboard").exists() and (tmp_path / "run" / "progress.csv").exists()


def test_an_unknown_env_id_suggests_close_matches():
    result = run_without("Box2D", ["train", "ppo", "--env", "CartPol-v1"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "got 'CartPol-v1'; did you mean CartPole-v1" in result.stderr
