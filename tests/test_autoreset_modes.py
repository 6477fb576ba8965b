"""SAME_STEP and DISABLED autoreset against gymnasium's SyncVectorEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import flockrl

Mode = gym.vector.AutoresetMode
N = 3
STEPS = 2_000


def make_pair(env_id, mode, seed):
    ref = gym.make_vec(env_id, num_envs=N, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode})
    ours = flockrl.make_vec(env_id, N, seed=seed, autoreset_mode=mode)
    return ref, ours


def actions_for(env, seed):
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(STEPS)]


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCar-v0", "Pendulum-v1"])
def test_same_step_matches_gymnasium(env_id):
    ref, ours = make_pair(env_id, Mode.SAME_STEP, seed=11)
    np.testing.assert_array_equal(ref.reset(seed=11)[0], ours.reset()[0])
    ended = 0
    for a in actions_for(ours, 11):
        ref_obs, ref_rew, ref_term, ref_trunc, ref_info = ref.step(a)
        obs, rew, term, trunc, info = ours.step(a)
        np.testing.assert_array_equal(obs, ref_obs)
        np.testing.assert_array_equal(rew, ref_rew)
        np.testing.assert_array_equal(term, ref_term)
        np.testing.assert_array_equal(trunc, ref_trunc)
        done = ref_term | ref_trunc
        np.testing.assert_array_equal(info["_final_obs"], done)
        # Dense final_obs: the terminal observation where an episode ended,
        # the returned observation everywhere else.
        np.testing.assert_array_equal(info["final_obs"][~done], obs[~done])
        for i in np.flatnonzero(done):
            np.testing.assert_array_equal(info["final_obs"][i], ref_info["final_obs"][i])
        ended += int(done.sum())
    assert ended >= 10
    ref.close()
    ours.close()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1"])
def test_disabled_mode_with_reset_mask_matches_gymnasium(env_id):
    ref, ours = make_pair(env_id, Mode.DISABLED, seed=5)
    ref_obs, _ = ref.reset(seed=5)
    obs, _ = ours.reset()
    resets = 0
    for a in actions_for(ours, 5):
        ref_obs, ref_rew, ref_term, ref_trunc, _ = ref.step(a)
        obs, rew, term, trunc, _ = ours.step(a)
        np.testing.assert_array_equal(rew, ref_rew)
        np.testing.assert_array_equal(term, ref_term)
        done = term | trunc
        if done.any():
            with pytest.raises(ValueError, match="reset it first"):
                ours.step(a)
            ref_obs, _ = ref.reset(options={"reset_mask": done})
            obs, _ = ours.reset(options={"reset_mask": done})
            resets += 1
        if env_id == "CartPole-v1":  # Acrobot's reset obs may differ by an ulp (see acrobot.h)
            np.testing.assert_array_equal(obs, ref_obs)
        else:
            np.testing.assert_array_equal(obs[~done], ref_obs[~done])
    assert resets >= 3
    ref.close()
    ours.close()


def test_next_step_ignores_the_action_after_an_episode_ends():
    env = flockrl.make_vec("CartPole-v1", 1, seed=0)
    env.reset()
    while True:
        obs, rew, term, trunc, _ = env.step(np.ones(1, dtype=np.int64))
        if term[0] or trunc[0]:
            break
    obs, rew, term, trunc, _ = env.step(np.ones(1, dtype=np.int64))
    assert rew[0] == 0.0 and not term[0] and not trunc[0]
    assert np.all(np.abs(obs) <= 0.05), "the step after the end returns a fresh reset observation"


def test_custom_time_limit_truncates():
    env = flockrl.NativeVecEnv("Pendulum-v1", 2, seed=0, max_episode_steps=7)
    env.reset()
    for t in range(1, 8):
        _, _, term, trunc, _ = env.step(np.zeros((2, 1), dtype=np.float32))
        assert not term.any()
        assert trunc.all() == (t == 7)
