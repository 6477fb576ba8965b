"""Env-stepping benchmarks: flockrl (copy=False) against gymnasium's SyncVectorEnv.

Run with ``python -m pytest benchmarks/ --benchmark-only``. One round is a
pass over a pool of pre-drawn random actions (``POOL`` step calls), so
env steps/s = ops/s * POOL * num_envs; each case records that factor in
``extra_info["env_steps_per_round"]``. Cases are grouped by env id and size,
so each group compares the two libraries side by side.
"""

import pytest

from flockrl.bench_envs import FLOCKRL, GYM_SYNC, make_env, random_actions

POOL = 16  # step calls per round, each with its own pre-drawn actions
ENV_IDS = ("CartPole-v1", "Pendulum-v1", "Acrobot-v1")
NUM_ENVS = (1, 64, 4096)


@pytest.fixture
def make_stepper():
    """Builds a reset env and returns a function stepping it once per pooled
    action; the env is closed after the test."""
    envs = []

    def make(library, env_id, num_envs):
        env = make_env(library, env_id, num_envs)
        envs.append(env)
        actions = random_actions(env_id, num_envs, count=POOL)
        step = env.step

        def step_pool():
            for action in actions:
                step(action)

        return step_pool

    yield make
    for env in envs:
        env.close()


@pytest.mark.parametrize("num_envs", NUM_ENVS)
@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("library", (FLOCKRL, GYM_SYNC))
def test_step(benchmark, make_stepper, library, env_id, num_envs):
    benchmark.group = f"{env_id} num_envs={num_envs}"
    benchmark.extra_info["env_steps_per_round"] = POOL * num_envs
    step_pool = make_stepper(library, env_id, num_envs)
    if library == GYM_SYNC and num_envs >= 4096:
        # Up to ~2 s per round in Python: a few rounds are plenty next to flockrl's.
        benchmark.pedantic(step_pool, rounds=3, warmup_rounds=1)
    else:
        benchmark(step_pool)
