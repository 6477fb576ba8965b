"""The Ray backend end to end on a local 2-CPU cluster: Ape-X with sharded
replay, DQN, IMPALA, SAC and PPO in every sync mode learn; killed actors are
restarted and training goes on; DPPO learners and a lone learner run as
Ray actors; actors on a second node get weights through the object store;
the CLI trains with --backend ray; asking for more than the cluster has,
or for Ray without it installed, is a clear error. (Ctrl-C, and a killed
learner resuming with its shards: test_cli.)"""

import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from flockrl.algos.dqn import ApexConfig
from flockrl.algos.dqn_trainer import DQNTrainer
from flockrl.algos.ppo import PPOConfig
from flockrl.algos.ppo_trainer import PPOTrainer

RANDOM_CARTPOLE = 25  # a random policy's mean return, roughly


def test_apex_on_ray_learns_from_sharded_replay(ray_cluster):
    config = ApexConfig(total_steps=30_000, num_actors=2, replay_shards=2, backend="ray", eval_interval=5_000,
                        stop_at_return=200, seed=1)
    trainer = DQNTrainer(config, run_dir=None, log=io.StringIO())
    result = trainer.train()
    best = max(e["mean"] for e in result.evaluations)
    assert best >= 150, result.evaluations
    assert result.updates > 0 and trainer.metrics.inserted > 0
    assert trainer.cluster.actor_restarts == 0 and trainer.cluster.shard_restarts == 0


@pytest.mark.parametrize("sync, weights", [("sync", "auto"), ("async", "object_store"), ("bounded", "auto")])
def test_ppo_on_ray_learns_in_every_sync_mode(ray_cluster, sync, weights):
    # async learns from rollouts as stale as the threads' timing makes them: a
    # budget with room (it stops at 400, usually by 20-40k steps) keeps a slow
    # machine from failing it (one CI run reached 380 at 40k).
    config = PPOConfig(total_steps=80_000, num_actors=2, backend="ray", sync=sync, ray_weights=weights,
                       eval_interval=10_000, stop_at_return=400, seed=2)
    trainer = PPOTrainer(config, run_dir=None, log=io.StringIO())
    result = trainer.train()
    assert trainer.cluster.shared_memory_weights == (weights == "auto")  # one machine: every actor is on the learner's node
    assert result.evaluations[0]["mean"] > RANDOM_CARTPOLE
    assert max(e["mean"] for e in result.evaluations) >= 400, result.evaluations


def test_impala_and_uniform_replay_dqn_learn_on_ray(ray_cluster):
    from flockrl.algos.dqn import DQNConfig
    from flockrl.algos.impala import ImpalaConfig
    from flockrl.algos.impala_trainer import ImpalaTrainer

    impala = ImpalaTrainer(ImpalaConfig(total_steps=60_000, num_actors=2, backend="ray", eval_interval=10_000,
                                        stop_at_return=300, seed=5), log=io.StringIO()).train()
    assert max(e["mean"] for e in impala.evaluations) >= 300, impala.evaluations
    dqn = DQNTrainer(DQNConfig(total_steps=20_000, num_actors=2, replay_shards=2, backend="ray", eval_interval=5_000,
                               stop_at_return=150, seed=6), log=io.StringIO()).train()
    assert max(e["mean"] for e in dqn.evaluations) >= 100, dqn.evaluations


def _kill_an_actor_mid_run(ray, trainer, after_updates):
    """Runs trainer.train() in a thread, SIGKILLs actor 0's process once the
    learner has made `after_updates` updates; the updates then and the result."""
    out = {}
    runner = threading.Thread(target=lambda: out.setdefault("result", trainer.train()))
    runner.start()
    deadline = time.monotonic() + 120
    while trainer.metrics.updates < after_updates and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.is_alive(), "the run ended before the kill"
    os.kill(ray.get(trainer.cluster.actors[0].pid.remote()), signal.SIGKILL)
    at_kill = trainer.metrics.updates
    runner.join(timeout=300)
    assert not runner.is_alive()
    return at_kill, out["result"]


@pytest.mark.parametrize("sync, weights", [("sync", "object_store"), ("async", "auto")])
def test_a_killed_rollout_worker_is_restarted_and_training_goes_on(ray_cluster, sync, weights):
    log = io.StringIO()
    config = PPOConfig(total_steps=30_000, num_actors=2, backend="ray", sync=sync, ray_weights=weights,
                       eval_interval=0, seed=3)
    trainer = PPOTrainer(config, run_dir=None, log=log)
    at_kill, result = _kill_an_actor_mid_run(ray_cluster, trainer, after_updates=20)
    assert trainer.cluster.actor_restarts >= 1
    assert "actor 0 died" in log.getvalue()
    assert result.updates > at_kill + 20  # the learner kept going
    assert result.env_steps >= config.total_steps  # the lost rollout's steps were collected again


def test_a_killed_apex_actor_is_restarted_and_training_goes_on(ray_cluster):
    log = io.StringIO()
    config = ApexConfig(total_steps=12_000, num_actors=2, replay_shards=2, backend="ray", eval_interval=0,
                        learning_starts=500, ray_weights="object_store", seed=4)
    trainer = DQNTrainer(config, run_dir=None, log=log)
    at_kill, result = _kill_an_actor_mid_run(ray_cluster, trainer, after_updates=50)
    assert trainer.cluster.actor_restarts >= 1
    assert result.updates > at_kill + 50
    assert result.env_steps >= config.total_steps


def test_sac_on_ray_learns_with_two_actors_and_survives_a_kill(ray_cluster):
    from flockrl.algos.sac import SACConfig
    from flockrl.algos.sac_trainer import SACTrainer

    log = io.StringIO()
    config = SACConfig(total_steps=6_000, num_actors=2, backend="ray", eval_interval=0, eval_episodes=10,
                       remote_chunk_steps=8, hidden_sizes=(64, 64), seed=7)
    trainer = SACTrainer(config, run_dir=None, log=log)
    at_kill, result = _kill_an_actor_mid_run(ray_cluster, trainer, after_updates=300)
    assert trainer.cluster.actor_restarts >= 1 and "actor 0 died" in log.getvalue()
    assert result.updates > at_kill + 300
    assert result.final_eval["mean"] > -900, result.final_eval  # random: about -1200


def _flockrl(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "flockrl", *args], capture_output=True, text=True,
                          timeout=600, **kwargs)


def test_cli_trains_on_ray_then_evaluates(ray_cluster, tmp_path):
    address = ray_cluster.get_runtime_context().gcs_address
    run_dir = tmp_path / "run"
    proc = _flockrl("train", "ppo", "--backend", "ray", "--address", address, "--run-dir", str(run_dir),
                    "--set", "total_steps=8192", "--set", "num_actors=2", "--set", "eval_episodes=5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "checkpoint.pt").exists()
    assert '"backend": "ray"' in (run_dir / "config.json").read_text()
    proc = _flockrl("eval", str(run_dir / "checkpoint.pt"), "--episodes", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a3c_refuses_the_ray_backend_and_says_why():
    from flockrl.algos.a3c import A3CConfig

    with pytest.raises(ValueError, match="A3C's workers share the weights in memory"):
        A3CConfig(backend="ray")


def test_more_actors_than_the_cluster_has_room_for_is_an_error_not_a_hang(ray_cluster):
    config = PPOConfig(total_steps=1000, num_actors=3, backend="ray")
    with pytest.raises(ValueError, match="needs 3 CPU in the Ray cluster, which has 2"):
        PPOTrainer(config, run_dir=None, log=io.StringIO()).train()
    config = PPOConfig(total_steps=1000, num_actors=2, backend="ray", actor_cpus=0.5, actor_resources="cpu_node=1")
    with pytest.raises(ValueError, match="needs 2 cpu_node in the Ray cluster, which has 0"):
        PPOTrainer(config, run_dir=None, log=io.StringIO()).train()
    with pytest.raises(ValueError, match="config actor_resources: expected name=amount pairs"):
        PPOConfig(actor_resources="cpu_node")


def test_dppo_learners_as_ray_actors_train_together(ray_cluster, tmp_path):
    """--learners 2 --backend ray: two learner actors form a gloo group, each
    with its own Ray actor; rank 0 writes the run directory."""
    address = ray_cluster.get_runtime_context().gcs_address
    run_dir = tmp_path / "run"
    proc = _flockrl("train", "ppo", "--backend", "ray", "--address", address, "--learners", "2",
                    "--run-dir", str(run_dir), "--set", "learner_cpus=0", "--set", "total_steps=20480",
                    "--set", "eval_interval=10240", "--set", "eval_episodes=5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "with 2 learner(s) as Ray actors" in proc.stderr
    header, *evaluations = (run_dir / "eval.csv").read_text().splitlines()
    assert len(evaluations) == 2
    means = [float(row.split(",")[header.split(",").index("mean")]) for row in evaluations]
    assert means[-1] > RANDOM_CARTPOLE * 4, evaluations
    # Each learner trained on its half: 10240 steps in 40 batches of 256, 20 gradient steps each
    # (a learner alone would have taken 1600).
    assert "20480 env steps, 800 updates" in proc.stdout, proc.stdout


def test_actors_on_another_node_get_weights_through_the_object_store():
    """Two Ray nodes on this machine: the learner's head has no CPUs, so the
    actors land on the other node and must be sent every version."""
    script = os.path.join(os.path.dirname(__file__), "_ray_two_nodes.py")
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    runs = {r["algo"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(runs) == {"ppo", "apex"}
    for run in runs.values():
        assert run["nodes"] == 2 and run["shared_memory_weights"] is False
    assert max(runs["ppo"]["evaluations"]) >= 400, runs
    assert max(runs["apex"]["evaluations"]) > RANDOM_CARTPOLE * 3, runs


def test_the_thread_backend_never_imports_ray():
    code = ("import sys; from flockrl.algos.ppo import PPOConfig; from flockrl.algos.ppo_trainer import PPOTrainer; "
            "import flockrl.cli, io; PPOTrainer(PPOConfig(total_steps=512), log=io.StringIO()).train(); "
            "print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "False"


def test_one_learner_as_a_ray_actor_writes_its_run(ray_cluster, tmp_path):
    """What learner_gpus > 0 does (placing the learner by its resources), on
    the CPU: the whole trainer runs in a Ray actor and writes the run dir."""
    from flockrl.distributed.learners import train_learners

    config = PPOConfig(total_steps=20_480, num_actors=1, backend="ray", learner_cpus=1, eval_interval=10_240,
                       eval_episodes=5)
    result = train_learners("ppo", config, str(tmp_path / "run"), resume=False, learners=1)
    assert result["env_steps"] >= 20_480 and not result["interrupted"]
    assert result["evaluations"][-1]["mean"] > RANDOM_CARTPOLE * 4, result["evaluations"]
    assert (tmp_path / "run" / "checkpoint.pt").exists()
