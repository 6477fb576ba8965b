"""The ``flockrl`` command line, run as a user would: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def flockrl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flockrl", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_bench_envs_prints_a_table_with_peers_and_ratios():
    result = flockrl("bench", "envs", "--env", "CartPole-v1", "--num-envs", "1,8", "--seconds", "0.02")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Machine: ")
    assert "| CartPole-v1 | 1 |" in out and "| CartPole-v1 | 8 |" in out
    assert "x gymnasium sync" in out
    assert "us per step() call" in out


def test_bench_envs_without_peers():
    result = flockrl("bench", "envs", "--env", "Pendulum-v1", "--num-envs", "4", "--seconds", "0.02", "--no-peers")
    assert result.returncode == 0, result.stderr
    assert "| Pendulum-v1 | 4 |" in result.stdout and "gymnasium" not in result.stdout.split("\n", 1)[1]


def test_bench_replay_quick_prints_rates_and_the_concurrency_scenario():
    result = flockrl("bench", "replay", "--quick", "--no-peers")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Machine: ")
    assert "prioritized" in out and "uniform" in out and "sample+update" in out
    assert "learner" in out


def test_bench_params_prints_bandwidths_against_memcpy():
    result = flockrl("bench", "params", "--sizes", "20000", "--seconds", "0.01")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Machine: ")
    assert "| memcpy | flockrl publish | flockrl pull |" in out and "load_state_dict" in out
    assert "pull when nothing changed" in out and "reader processes pulling every version" in out


def test_bad_arguments_are_clear_errors():
    result = flockrl("bench", "envs", "--env", "Nope-v0")
    assert result.returncode == 2
    assert "expected ids from CartPole-v1" in result.stderr and "got 'Nope-v0'" in result.stderr
    result = flockrl("bench", "envs", "--num-envs", "0,8")
    assert result.returncode == 2 and "expected ints >= 1" in result.stderr
    result = flockrl("bench", "envs", "--seconds", "-1")
    assert result.returncode == 2 and "--seconds must be a number > 0" in result.stderr
    result = flockrl("bench", "envs", "--seconds", "nan")
    assert result.returncode == 2 and "--seconds must be a number > 0, got nan" in result.stderr
    result = flockrl("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_train_dqn_tiny_budget_writes_run_artefacts(tmp_path):
    run = tmp_path / "run"
    result = flockrl("train", "dqn", "--total-steps", "1500", "--seed", "7", "--set", "learning_starts=200",
                     "--set", "eval_episodes=2", "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert (config["total_steps"], config["seed"]) == (1500, 7)
    assert "final evaluation" in result.stdout
    assert {p.name for p in run.iterdir()} == {"config.json", "progress.csv", "eval.csv", "checkpoint.pt",
                                              "best.pt", "tensorboard"}
    assert any((run / "tensorboard").iterdir())  # event files
    header = (run / "progress.csv").read_text().splitlines()[0]
    assert header.startswith("env_steps,time,updates,sps,updates_per_sec,samples_per_insert,policy_lag")


def test_train_apex_tiny_budget(tmp_path):
    result = flockrl("train", "apex", "--set", "total_steps=1200", "--set", "learning_starts=200",
                     "--set", "num_actors=2", "--set", "eval_episodes=2", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "final evaluation" in result.stdout


def test_train_bad_input_lists_the_choices():
    result = flockrl("train", "dqm")
    assert result.returncode == 2 and "invalid choice: 'dqm' (choose from 'dqn', 'apex', 'ppo', 'a3c', 'impala', 'sac', 'td3')" in result.stderr
    result = flockrl("train", "dqn", "--env", "Nope-v0")
    assert result.returncode == 2 and "expected a native env (CartPole-v1" in result.stderr
    result = flockrl("train", "dqn", "--set", "gamma=2")
    assert result.returncode == 2 and "config gamma: expected a value >= 0 and <= 1, got 2.0" in result.stderr
    result = flockrl("train", "dqn", "--env", "Pendulum-v1")
    assert result.returncode == 2 and "DQN needs a Discrete action space" in result.stderr
    result = flockrl("train", "sac", "--env", "CartPole-v1")
    assert result.returncode == 2 and "SAC needs a continuous (Box) action vector" in result.stderr
    result = flockrl("train", "td3", "--set", "policy_delay=0")
    assert result.returncode == 2 and "config policy_delay: expected a value >= 1, got 0" in result.stderr


@pytest.mark.parametrize("algo, backend", [("dqn", "threads"), ("ppo", "threads"), ("apex", "ray"), ("ppo", "ray")])
def test_train_ctrl_c_stops_cleanly(tmp_path, algo, backend, request):
    """SIGINT to the learner: actors stopped, a final checkpoint, exit 130,
    no shared memory left behind."""
    import os
    import signal
    import time

    run = tmp_path / "run"
    extra = []
    if backend == "ray":  # on the session's local cluster
        address = request.getfixturevalue("ray_cluster").get_runtime_context().gcs_address
        extra = ["--backend", "ray", "--address", address, "--set", "num_actors=2", "--set", "total_steps=10000000"]
    proc = subprocess.Popen([sys.executable, "-m", "flockrl", "train", algo, "--run-dir", str(run), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    def in_training_loop():  # the first progress row is written from inside the loop
        path = run / "progress.csv"
        return path.exists() and len(path.read_text().splitlines()) >= 2

    while not in_training_loop() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert (run / "checkpoint.pt").exists()
    # No segment left behind (the trainer names its segments after its pid).
    assert not [name for name in os.listdir("/dev/shm") if f"-{proc.pid}-" in name]


def test_resume_eval_and_plot(tmp_path):
    run = tmp_path / "run"
    base = ["--set", "learning_starts=200", "--set", "eval_interval=600", "--set", "eval_episodes=2",
            "--set", "save_replay=true"]
    result = flockrl("train", "dqn", "--total-steps", "1200", *base, "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    result = flockrl("train", "dqn", "--resume", str(run), "--total-steps", "2400")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2400 env steps")  # continued from 1200, not from 0
    resume_line, best_line = result.stdout.splitlines()
    assert resume_line.endswith(f"resume point {run}/checkpoint.pt")
    assert best_line.startswith(f"best model {run}/best.pt (evaluation ")
    evals = (run / "eval.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in evals[1:]] == ["600", "1200", "1800", "2400"]
    seconds = [float(line.split(",")[1]) for line in evals[1:]]
    assert seconds == sorted(seconds)  # training time keeps counting across the resume

    result = flockrl("eval", str(run / "checkpoint.pt"), "--episodes", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CartPole-v1: ") and "over 3 episodes" in result.stdout
    result = flockrl("eval", str(run), "--episodes", "3")  # a run directory: its best model
    assert result.returncode == 0 and f"evaluating {run}/best.pt" in result.stderr, result.stderr
    result = flockrl("plot", str(run))
    assert result.returncode == 0, result.stderr
    single = (run / "learning_curve.png").read_bytes()
    assert single[:8] == b"\x89PNG\r\n\x1a\n"
    other = tmp_path / "other"
    assert flockrl("train", "dqn", "--total-steps", "1200", *base, "--run-dir", str(other)).returncode == 0
    result = flockrl("plot", str(run), str(other), "--out", str(tmp_path / "both.png"))  # one figure, two runs
    assert result.returncode == 0 and result.stdout.strip() == str(tmp_path / "both.png"), result.stderr
    both = (tmp_path / "both.png").read_bytes()
    assert both[:8] == single[:8] and both != single
    result = flockrl("plot", str(run), str(tmp_path / "nowhere"))
    assert result.returncode == 2 and f"{tmp_path / 'nowhere'}: no progress.csv" in result.stderr


def test_ppo_train_resume_and_eval_continuous(tmp_path):
    run = tmp_path / "run"
    base = ["--env", "Pendulum-v1", "--set", "eval_interval=1024", "--set", "eval_episodes=2",
            "--set", "rollout_steps=32", "--set", "num_actors=2", "--set", "sync=bounded"]
    result = flockrl("train", "ppo", "--set", "total_steps=1024", *base, "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    result = flockrl("train", "ppo", "--resume", str(run), "--set", "total_steps=2048")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2048 env steps")
    evals = (run / "eval.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in evals[1:]] == ["1024", "2048"]
    header = (run / "progress.csv").read_text().splitlines()[0]
    assert header.endswith("policy_loss,value_loss,entropy,approx_kl,clip_fraction,explained_variance,lr,clip_range,"
                           "behaviour_weight")
    result = flockrl("eval", str(run / "checkpoint.pt"), "--episodes", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Pendulum-v1: ")
    result = flockrl("train", "ppo", "--set", "sync=coordinator")
    assert result.returncode == 2 and "config sync: expected one of sync, async, bounded for PPO" in result.stderr


@pytest.mark.parametrize("algo, stats", [("sac", "critic_loss,actor_loss,ent_coef"),
                                         ("td3", "critic_loss,actor_loss")])
def test_continuous_train_resume_and_eval(tmp_path, algo, stats):
    run = tmp_path / "run"
    base = ["--set", "eval_interval=400", "--set", "eval_episodes=2", "--set", "learning_starts=200",
            "--set", "samples_per_insert=32", "--set", "hidden_sizes=32,32", "--set", "num_actors=2"]
    result = flockrl("train", algo, "--set", "total_steps=400", *base, "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    result = flockrl("train", algo, "--resume", str(run), "--set", "total_steps=800")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[0]) in (800, 801)  # continued; the other actor may finish its step
    header = (run / "progress.csv").read_text().splitlines()[0]
    assert header.endswith(stats)
    result = flockrl("eval", str(run / "checkpoint.pt"), "--episodes", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Pendulum-v1: ")


def test_a3c_train_resume_and_eval(tmp_path):
    run = tmp_path / "run"
    base = ["--set", "eval_interval=0", "--set", "eval_episodes=2", "--set", "sync=coordinator"]
    result = flockrl("train", "a3c", "--set", "total_steps=1024", *base, "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    result = flockrl("train", "a3c", "--resume", str(run), "--set", "total_steps=2048")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2048 env steps, 32 updates")  # 64-step rollouts; the count carried over
    result = flockrl("eval", str(run / "checkpoint.pt"), "--episodes", "2")
    assert result.returncode == 0 and result.stdout.startswith("CartPole-v1: "), result.stderr
    result = flockrl("train", "a3c", "--set", "sync=hybrid")
    assert result.returncode == 2 and "expected one of async, coordinator, sync, bounded, fedavg for A3C" in result.stderr


def test_bad_checkpoints_are_clear_errors_and_left_alone(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"algo": "dqn", "total_steps": 100}')
    (run / "checkpoint.pt").write_bytes(b"truncated")
    result = flockrl("train", "dqn", "--resume", str(run))
    assert result.returncode == 2 and "not a readable flockrl checkpoint" in result.stderr
    assert (run / "checkpoint.pt").read_bytes() == b"truncated"
    result = flockrl("train", "apex", "--resume", str(run))
    assert result.returncode == 2 and "holds a dqn run, not apex" in result.stderr
    result = flockrl("eval", str(run / "checkpoint.pt"))
    assert result.returncode == 2 and "not a readable flockrl checkpoint" in result.stderr
    result = flockrl("plot", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no progress.csv" in result.stderr


@pytest.mark.parametrize("algo, backend", [("dqn", "threads"), ("apex", "ray")])
def test_replay_saved_mid_run_survives_a_kill(tmp_path, algo, backend, request):
    """With save_replay, every checkpoint saves the replay too (threads:
    actors paused between adds; Ray: each shard to replay.bin.<k>), so a
    learner killed with SIGKILL resumes with its replay."""
    import signal
    import time

    run = tmp_path / "run"
    extra, files = [], ["replay.bin"]
    if backend == "ray":  # on the session's local cluster, 2 actors and 2 shards
        address = request.getfixturevalue("ray_cluster").get_runtime_context().gcs_address
        extra = ["--backend", "ray", "--address", address, "--set", "num_actors=2", "--set", "replay_shards=2"]
        files = ["replay.bin.0", "replay.bin.1"]
    proc = subprocess.Popen([sys.executable, "-m", "flockrl", "train", algo, "--set", "save_replay=true",
                             "--set", "checkpoint_interval=2000", "--set", "eval_interval=0",
                             "--set", "eval_episodes=2", "--run-dir", str(run), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # no cleanup, no final checkpoint
    proc.wait(timeout=30)
    assert all((run / f).exists() for f in files) and (run / "checkpoint.pt").exists()
    result = flockrl("train", algo, "--resume", str(run), "--set", "total_steps=6000", *extra[:4])
    assert result.returncode == 0, result.stderr[-3000:]
    restored = [line for line in result.stderr.splitlines() if line.startswith("replay restored: ")]
    # At least the first checkpoint's 2000 steps, less the n-step tails still in the actors
    # (8 envs x 2 for DQN; Ape-X: 2 actors x 4 envs x 3).
    assert restored and int(restored[0].split()[2]) >= 2000 - 24, result.stderr[-3000:]
