"""The ``flockrl`` command line, run as a user would: in a subprocess."""

from __future__ import annotations

import subprocess
import sys


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
    result = flockrl("train", "dqn", "--set", "total_steps=1500", "--set", "learning_starts=200",
                     "--set", "eval_episodes=2", "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    assert "final evaluation" in result.stdout
    assert {p.name for p in run.iterdir()} == {"config.json", "progress.csv", "checkpoint.pt"}
    header = (run / "progress.csv").read_text().splitlines()[0]
    assert header.startswith("env_steps,time,updates,sps,updates_per_sec,samples_per_insert,policy_lag")


def test_train_apex_tiny_budget(tmp_path):
    result = flockrl("train", "apex", "--set", "total_steps=1200", "--set", "learning_starts=200",
                     "--set", "num_actors=2", "--set", "eval_episodes=2", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "final evaluation" in result.stdout


def test_train_bad_input_lists_the_choices():
    result = flockrl("train", "dqm")
    assert result.returncode == 2 and "invalid choice: 'dqm' (choose from 'dqn', 'apex')" in result.stderr
    result = flockrl("train", "dqn", "--env", "Nope-v0")
    assert result.returncode == 2 and "expected a native env (CartPole-v1" in result.stderr
    result = flockrl("train", "dqn", "--set", "gamma=2")
    assert result.returncode == 2 and "config gamma: expected a value >= 0 and <= 1, got 2.0" in result.stderr
    result = flockrl("train", "dqn", "--env", "Pendulum-v1")
    assert result.returncode == 2 and "DQN needs a Discrete action space" in result.stderr


def test_train_ctrl_c_stops_cleanly(tmp_path):
    import os
    import signal
    import time

    run = tmp_path / "run"
    before = set(os.listdir("/dev/shm"))
    proc = subprocess.Popen([sys.executable, "-m", "flockrl", "train", "dqn", "--run-dir", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "progress.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # into the training loop
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert (run / "checkpoint.pt").exists()
    assert set(os.listdir("/dev/shm")) <= before  # no segment left behind
