"""MuJoCo through gymnasium: the install hint names flockrl's extra, and
with the mujoco wheel installed (the test extra has it) SAC, TD3 and PPO
train on HalfCheetah-v5 from the command line with its preset, and
flockrl eval reads the checkpoint."""

import subprocess
import sys

import pytest

from flockrl.envs.gymnasium_vec import install_hint


def test_missing_dependencies_name_the_extra():
    hint = install_hint("HalfCheetah-v5", 'MuJoCo is not installed, run `pip install "gymnasium[mujoco]"`')
    assert hint.startswith('HalfCheetah-v5 needs mujoco: pip install "flockrl[mujoco]"')
    hint = install_hint("BipedalWalker-v3", "Box2D is not installed, you can install it by run `pip install swig`")
    assert 'pip install "flockrl[box2d]"' in hint
    assert install_hint("X-v0", "foo is not installed") == "X-v0: foo is not installed"


@pytest.mark.parametrize("algo", ["sac", "td3", "ppo"])
def test_train_and_eval_on_half_cheetah(tmp_path, algo):
    pytest.importorskip("mujoco")
    run = tmp_path / "run"
    budget = ["--set", "total_steps=600", "--set", "eval_episodes=1", "--set", "eval_interval=0"]
    if algo != "ppo":
        budget += ["--set", "learning_starts=300", "--set", "samples_per_insert=16"]
    else:
        budget += ["--set", "rollout_steps=300"]
    result = subprocess.run([sys.executable, "-m", "flockrl", "train", algo, "--env", "HalfCheetah-v5", *budget,
                             "--run-dir", str(run)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "final evaluation" in result.stdout
    result = subprocess.run([sys.executable, "-m", "flockrl", "eval", str(run / "checkpoint.pt"), "--episodes", "1"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.startswith("HalfCheetah-v5: "), result.stderr
