"""flockrl eval --video: greedy episodes as MP4 through gymnasium's own
RecordVideo and renderer. Native envs are bit-exact with gymnasium's, so
the recorded episodes are the ones `evaluate` runs with the same seed:
same returns, and as many frames as steps."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from flockrl.algos.ppo import PPOConfig
from flockrl.algos.ppo_trainer import PPOTrainer
from flockrl.algos.registry import policy_from_checkpoint
from flockrl.runtime.evaluate import evaluate
from flockrl.runtime.video import record_video

cv2 = pytest.importorskip("cv2")
pytest.importorskip("moviepy")
pytest.importorskip("pygame")


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    """A briefly trained PPO on CartPole-v1: episodes of different lengths."""
    run = tmp_path_factory.mktemp("run")
    config = PPOConfig(env="CartPole-v1", total_steps=4096, eval_interval=0, eval_episodes=1)
    PPOTrainer(config, run_dir=run, log=io.StringIO()).train()
    return run


def frames(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return out
        out.append(frame)


def test_recorded_episodes_are_the_evaluated_ones(cartpole_run, tmp_path):
    config, act = policy_from_checkpoint(cartpole_run / "best.pt")
    files, returns = record_video(act, config.env, tmp_path / "videos", 3, seed=123)
    np.testing.assert_array_equal(returns, evaluate(act, config.env, 3, seed=123))
    assert len(set(returns)) > 1  # different episodes, not one repeated
    for path, length in zip(files, returns):  # CartPole: the return is the episode's length
        video = frames(path)
        assert length <= len(video) <= length + 1  # a frame per step, and the first
        assert video[0].shape == (400, 600, 3) and video[0].std() > 10  # a drawing, not a blank frame
        assert not np.array_equal(video[0], video[-1])  # the cart moved


def test_eval_cli_writes_videos_and_prints_the_same_return(cartpole_run, tmp_path):
    def eval_cli(*extra):
        return subprocess.run([sys.executable, "-m", "flockrl", "eval", str(cartpole_run), "--episodes", "2", *extra],
                              capture_output=True, text=True, timeout=300, check=False)

    with_video, without = eval_cli("--video", str(tmp_path / "v")), eval_cli()
    assert with_video.returncode == 0, with_video.stderr
    assert with_video.stdout == without.stdout and without.stdout.startswith("CartPole-v1: return ")
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["CartPole-v1-episode-0.mp4",
                                                                 "CartPole-v1-episode-1.mp4"]


def test_video_needs_moviepy_and_says_how_to_install_it(cartpole_run, tmp_path):
    code = ("import sys; sys.modules['moviepy'] = None; from flockrl.cli import main; "
            f"sys.exit(main(['eval', {str(cartpole_run)!r}, '--video', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == 'flockrl eval: --video needs moviepy: pip install "flockrl[video]"'


def test_a_multi_task_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected a single env, got the multi-task env 'CartPole-v1\\+Acrobot-v1'"):
        record_video(lambda obs: obs, "CartPole-v1+Acrobot-v1", tmp_path, 1, seed=0)
