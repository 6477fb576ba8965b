"""DPPO: two gloo learner processes, each updating on half of a batch,
end with exactly the weights (and observation statistics) of one learner
updating on the whole batch; and `flockrl train ppo --learners 2` runs."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parent))
from _dppo_rank import config, fixed_rollout, gradients, learner  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_learners_equal_one_learner_on_the_whole_batch(tmp_path):
    out = tmp_path / "weights"
    port = free_port()
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).parent / "_dppo_rank.py"), str(out)],
                              env={**os.environ, "RANK": str(r), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                                   "MASTER_PORT": str(port)}) for r in range(2)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    single = learner(config(64))
    single.update([fixed_rollout(single.net)], 0)
    ranks = [torch.load(f"{out}.{r}") for r in range(2)]
    # The all-reduced gradient is the whole batch's (a sum instead of a mean
    # would show here; Adam's first step would hide it in the weights).
    for name, want in gradients(single.net).items():
        for r, got in enumerate(ranks):
            torch.testing.assert_close(got["grads"][name], want, rtol=1e-5, atol=1e-7, msg=f"rank {r}: {name}")
    # So the weights and the merged observation statistics are too.
    for name, want in single.net.state_dict().items():
        for r, got in enumerate(ranks):
            torch.testing.assert_close(got["weights"][name], want, rtol=1e-5, atol=1e-6, msg=f"rank {r}: {name}")
    assert single.net.obs_norm.count.item() == 64


def test_cli_learners_spawns_a_group(tmp_path):
    run = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "flockrl", "train", "ppo", "--learners", "2", "--set",
                             "total_steps=2048", "--set", "eval_episodes=2", "--run-dir", str(run)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("resume point") == 1  # only the chief reports
    assert result.stdout.startswith("2048 env steps")
    assert "with 2 learners" in result.stderr
    assert (run / "checkpoint.pt").exists() and (run / "best.pt").exists()
    bad = subprocess.run([sys.executable, "-m", "flockrl", "train", "dqn", "--learners", "2"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--learners: expected 1, or N >= 2 with ppo, got 2 with dqn" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "flockrl", "train", "ppo", "--learners", "2", "--set", "sync=async",
                          "--run-dir", str(tmp_path / "bad")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "data-parallel learners need sync, got 'async'" in bad.stderr
