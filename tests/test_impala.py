"""IMPALA: the learner's targets are V-trace's (tested against the paper's
definition in test_advantages.py); here, every sync mode runs with its lag
invariant, the async mode's lag is really corrected (ratios != 1), and a
short run clearly beats a random policy."""

import copy
import io

import gymnasium as gym
import pytest

pytest.importorskip("torch")

from flockrl.algos.impala import ImpalaConfig  # noqa: E402
from flockrl.algos.impala_trainer import ImpalaTrainer  # noqa: E402
from flockrl.envs import make_vec  # noqa: E402
from flockrl.runtime.metrics import Metrics  # noqa: E402
from flockrl.runtime.rollout import RolloutWorker  # noqa: E402


def short_run(**overrides):
    config = ImpalaConfig(**{"total_steps": 4096, "eval_interval": 0, "eval_episodes": 3, **overrides})
    trainer = ImpalaTrainer(config, log=io.StringIO())
    return trainer, trainer.train()


@pytest.mark.parametrize("sync", ["sync", "async", "bounded"])
def test_every_sync_mode_trains_and_keeps_its_lag_bound(sync):
    trainer, result = short_run(sync=sync, num_actors=3, envs_per_actor=2)
    assert result.env_steps >= 4096 and result.updates > 0 and not result.interrupted
    if sync == "sync":
        assert trainer.metrics.max_policy_lag == 0
    if sync == "bounded":
        assert trainer.metrics.max_policy_lag <= trainer.config.max_lag


def test_stale_rollouts_get_importance_ratios():
    """Rollouts from older weights than the learner's: pi/mu is not 1."""
    trainer, _ = short_run(sync="sync", total_steps=1024)
    learner = trainer.learner
    old = copy.deepcopy(learner.net)
    env = make_vec("CartPole-v1", 4, seed=0, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    worker = RolloutWorker(env, old, Metrics(), gamma=0.99, seed=0)
    on_policy = learner.update([worker.collect(16, 1)], 0)
    assert on_policy["mean_rho"] == pytest.approx(1.0)
    for _ in range(5):
        learner.update([worker.collect(16, 1)], 0)  # the learner moves on; `old` acts
    stale = learner.update([worker.collect(16, 1)], 0)
    assert stale["mean_rho"] != pytest.approx(1.0, abs=1e-4)


def test_impala_learns_cartpole_clearly_better_than_random():
    """A random policy averages about 22 on CartPole-v1."""
    _, result = short_run(sync="sync", total_steps=30_720, eval_episodes=10)
    assert result.final_eval["mean"] >= 150
