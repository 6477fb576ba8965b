"""best.pt: the weights of the best evaluation so far, beside checkpoint.pt
(the resume point). Evaluating best.pt again must reproduce the recorded
best mean exactly (evaluations are seeded and greedy), which shows it holds
the weights that were evaluated, even under A3C's Hogwild workers."""

from __future__ import annotations

import io

import pytest

from flockrl.algos.registry import config_class, policy_from_checkpoint, trainer_class
from flockrl.runtime.checkpoint import load_checkpoint
from flockrl.runtime.evaluate import evaluate

RUNS = {
    "ppo": ("CartPole-v1", {"total_steps": 6144, "eval_interval": 1024}),
    "a3c": ("CartPole-v1", {"total_steps": 6000, "eval_interval": 1000, "num_actors": 2}),
    "dqn": ("CartPole-v1", {"total_steps": 3000, "eval_interval": 600, "learning_starts": 300}),
    "sac": ("Pendulum-v1", {"total_steps": 1200, "eval_interval": 300, "learning_starts": 200}),
}


@pytest.mark.parametrize("algo", RUNS)
def test_best_pt_holds_the_first_best_evaluation_and_its_weights(tmp_path, algo):
    env, overrides = RUNS[algo]
    config = config_class(algo).for_env(env).replace({**overrides, "eval_episodes": 3, "stop_at_return": 1e9})
    result = trainer_class(algo)(config, run_dir=tmp_path, log=io.StringIO()).train()

    means = [e["mean"] for e in result.evaluations]
    assert len(means) >= 4
    best = result.evaluations[means.index(max(means))]  # the first of equal means: later ties do not rewrite it
    state = load_checkpoint(tmp_path / "best.pt")
    assert state["best"] == best and state["env_steps"] == best["env_steps"]
    assert state["train_seconds"] == best["train_seconds"]

    saved_config, act = policy_from_checkpoint(tmp_path / "best.pt")
    returns = evaluate(act, saved_config.env, config.eval_episodes, seed=10_000 + config.seed,
                       env_kwargs=config.env_kwarg_values(), epsilon=config.eval_epsilon)
    assert float(returns.mean()) == best["mean"]
    assert load_checkpoint(tmp_path / "checkpoint.pt")["env_steps"] == result.env_steps  # still the resume point


def test_no_run_directory_writes_nothing_and_still_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_class("ppo")().replace({"total_steps": 2048, "eval_interval": 1024, "eval_episodes": 2})
    result = trainer_class("ppo")(config, log=io.StringIO()).train()
    assert len(result.evaluations) == 2 and list(tmp_path.iterdir()) == []
