"""Training on ALE ids: every algorithm from the command line with its
Atari preset and a small budget (CNN chosen, checkpoint written, flockrl
eval reports a game score), the presets themselves, and the runtime
reporting game scores (unclipped, whole games) rather than the clipped
life-loss episodes the learner sees."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("ale_py")
torch = pytest.importorskip("torch")

import flockrl  # noqa: E402
from flockrl.algos.registry import config_class  # noqa: E402
from flockrl.runtime.actor import Actor  # noqa: E402
from flockrl.runtime.metrics import Metrics  # noqa: E402

GAME = "ALE/Breakout-v5"
# Small budgets; games capped at 1000 agent steps so that evaluations stay short.
SMALL = {"total_steps": 1536, "eval_episodes": 2, "env_kwargs": "max_num_frames_per_episode=4000",
         "envs_per_actor": 4}
OFF_POLICY = {"buffer_size": 4000, "learning_starts": 256}


def flockrl_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flockrl", *args], capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.mark.parametrize("algo", ["ppo", "impala", "a3c", "dqn", "apex"])
def test_every_algorithm_trains_on_atari_from_the_cli(tmp_path, algo):
    run = tmp_path / "run"
    values = {**SMALL, **(OFF_POLICY if algo in ("dqn", "apex") else {"rollout_steps": 32})}
    sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
    result = flockrl_cli("train", algo, "--env", GAME, *sets, "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    assert (run / "checkpoint.pt").exists()
    assert "final evaluation" in result.stdout
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    weights = state["learner"]["online" if algo in ("dqn", "apex") else "net"]
    assert any("conv" in name for name in weights)  # the Nature CNN, chosen from the observations
    result = flockrl_cli("eval", str(run / "checkpoint.pt"), "--episodes", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{GAME}: game score (unclipped, whole games) ")


def test_an_atari_agent_can_be_watched(tmp_path):
    """--video on an Atari run: gymnasium's ALE env with the run's preprocessing
    plays whole games; the MP4 holds every emulator frame, in colour."""
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("moviepy")
    run = tmp_path / "run"
    sets = [arg for key, value in {**SMALL, "rollout_steps": 32}.items() for arg in ("--set", f"{key}={value}")]
    assert flockrl_cli("train", "ppo", "--env", GAME, *sets, "--run-dir", str(run)).returncode == 0
    result = flockrl_cli("eval", str(run), "--episodes", "1", "--video", str(tmp_path / "v"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{GAME}: game score (unclipped, whole games) ")
    capture = cv2.VideoCapture(str(tmp_path / "v" / "ALE_Breakout-v5-episode-0.mp4"))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = capture.read()
    assert ok and frame.shape == (210, 160, 3) and frame.std() > 5  # the screen, in colour
    assert 100 < count <= 4001  # a whole game (five lives), capped at max_num_frames_per_episode


@pytest.mark.parametrize("algo", ["ppo", "impala", "a3c", "dqn", "apex"])
def test_atari_presets_apply_to_every_game_and_yield_to_overrides(algo):
    cls = config_class(algo)
    pong = cls.for_env("ALE/Pong-v5")
    assert pong.total_steps == 10_000_000 and pong.eval_epsilon == 0.05 and pong.gamma == 0.99
    assert cls.for_env("ALE/MsPacman-v5").to_dict() == {**pong.to_dict(), "env": "ALE/MsPacman-v5"}
    assert pong.replace({"total_steps": "1000"}).total_steps == 1000
    assert cls.for_env("CartPole-v1").total_steps == cls().total_steps  # no preset there


def test_ppo_preset_is_cleanrls_ppo_atari():
    c = config_class("ppo").for_env(GAME)
    assert (c.envs_per_actor * c.num_actors, c.rollout_steps, c.epochs) == (8, 128, 4)
    assert c.envs_per_actor * c.rollout_steps // c.minibatch_size == 4  # minibatches
    assert (c.lr, c.clip_range, c.anneal_clip, c.clip_value, c.ent_coef) == (2.5e-4, 0.1, False, 0.1, 0.01)


def test_actors_report_game_scores_not_clipped_life_episodes():
    env = flockrl.make_vec(GAME, 4, seed=0, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    scores = []
    step = env.step

    def recording_step(actions):
        out = step(actions)
        if "_episode" in out[4]:
            scores.extend(out[4]["episode"]["r"][out[4]["_episode"]])
        return out

    env.step = recording_step
    rng = np.random.default_rng(0)
    metrics = Metrics(window=1000)

    class RandomPolicy:
        module = torch.nn.Linear(1, 1)

        def __call__(self, obs, env_steps):
            return rng.integers(0, 4, len(obs))

    actor = Actor(env, RandomPolicy(), None, lambda tr: True, metrics)
    for _ in range(1200):
        actor.step()
    assert len(scores) >= 4 and metrics.episodes == len(scores)  # one per game, not per life
    assert metrics.snapshot()["return_mean"] == pytest.approx(np.mean(scores))
    env.close()


def test_dqn_refuses_a_buffer_the_machine_cannot_hold():
    from flockrl.algos.dqn import DQNConfig
    from flockrl.algos.dqn_trainer import DQNTrainer

    with pytest.raises(ValueError, match=r"buffer_size 100000000 of ALE/Breakout-v5 transitions needs 74\d.\d\d GB"):
        DQNTrainer(DQNConfig.for_env(GAME).replace({"buffer_size": 100_000_000}))
