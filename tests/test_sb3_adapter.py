"""flockrl.sb3_vec_env: Stable-Baselines3's VecEnv conventions over the
native stepper, tested with SB3 itself as the client. The native envs are
bit-exact with gymnasium's, so SB3's PPO trained on the adapter and on SB3's
own DummyVecEnv of Monitor-wrapped gymnasium envs, with the same seeds, must
see the same episodes: the same returns and lengths in the same order."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import flockrl

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecCheckNan, VecEnv, VecNormalize  # noqa: E402


class EpisodeLog(BaseCallback):
    """(env index, return, length) of every episode, in the order SB3 sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[tuple[int, float, int]] = []

    def _on_step(self) -> bool:
        for i, info in enumerate(self.locals["infos"]):
            if "episode" in info:
                self.episodes.append((i, info["episode"]["r"], info["episode"]["l"]))
        return True


def dummy_vec_env(env_id: str, num_envs: int, seed: int) -> DummyVecEnv:
    env = DummyVecEnv([lambda: Monitor(gym.make(env_id)) for _ in range(num_envs)])
    env.seed(seed)
    return env


def train_ppo(env: VecEnv, steps: int) -> tuple[list[tuple[int, float, int]], np.ndarray]:
    log = EpisodeLog()
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=2, seed=3, device="cpu")
    model.learn(total_timesteps=steps, callback=log)
    return log.episodes, np.concatenate([p.detach().numpy().ravel() for p in model.policy.parameters()])


# Terminations (CartPole), time limits (Pendulum: 200 steps, Acrobot: 500), Box and Discrete actions.
@pytest.mark.parametrize("env_id, num_envs, steps", [("CartPole-v1", 4, 2048), ("Pendulum-v1", 4, 1024),
                                                     ("Acrobot-v1", 2, 2048)])
def test_sb3_ppo_sees_the_same_episodes_as_on_dummy_vec_env(env_id, num_envs, steps):
    ours, our_weights = train_ppo(flockrl.sb3_vec_env(env_id, num_envs, seed=11), steps)
    theirs, their_weights = train_ppo(dummy_vec_env(env_id, num_envs, seed=11), steps)
    assert len(ours) >= 4 and ours == theirs
    np.testing.assert_array_equal(our_weights, their_weights)  # and so learned the same


def test_step_and_reset_follow_sb3_conventions():
    env = flockrl.sb3_vec_env("CartPole-v1", 3, seed=0)
    reference = dummy_vec_env("CartPole-v1", 3, seed=0)
    assert env.observation_space == reference.observation_space and env.action_space == reference.action_space
    obs, expected = env.reset(), reference.reset()
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32 and obs.shape == (3, 4)
    np.testing.assert_array_equal(obs, expected)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(300):
        actions = rng.integers(0, 2, 3)
        obs, rewards, dones, infos = env.step(actions)
        r_obs, r_rewards, r_dones, r_infos = reference.step(actions)
        np.testing.assert_array_equal(obs, r_obs)
        assert rewards.dtype == r_rewards.dtype == np.float32 and dones.dtype == r_dones.dtype == np.bool_
        np.testing.assert_array_equal(rewards, r_rewards)
        np.testing.assert_array_equal(dones, r_dones)
        assert isinstance(infos, list) and len(infos) == 3
        for info, r_info in zip(infos, r_infos):
            assert info["TimeLimit.truncated"] == r_info["TimeLimit.truncated"]
            assert ("terminal_observation" in info) == ("terminal_observation" in r_info)
            if "terminal_observation" in info:
                ended += 1
                np.testing.assert_array_equal(info["terminal_observation"], r_info["terminal_observation"])
                assert (info["episode"]["r"], info["episode"]["l"]) == (r_info["episode"]["r"], r_info["episode"]["l"])
    assert ended >= 10
    env.close()


def test_sb3_wrappers_and_evaluation_work_on_it():
    env = VecNormalize(VecCheckNan(flockrl.sb3_vec_env("Pendulum-v1", 2, seed=1), raise_exception=True))
    env.reset()
    for _ in range(250):  # across an episode end (200 steps)
        env.step(np.random.default_rng(0).uniform(-2, 2, (2, 1)).astype(np.float32))
    assert env.obs_rms.count > 400
    model = sb3.PPO("MlpPolicy", flockrl.sb3_vec_env("CartPole-v1", 2, seed=2), n_steps=32, device="cpu", seed=0)
    mean, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=4, warn=True)  # warns unless Monitor-like
    assert mean > 0
    assert model.get_env().get_attr("render_mode") == [None, None]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="expected a native env id .* got 'LunarLander-v3'"):
        flockrl.sb3_vec_env("LunarLander-v3", 2)
    env = flockrl.sb3_vec_env("CartPole-v1", 2)
    with pytest.raises(AttributeError, match="not 'gravity'"):
        env.get_attr("gravity")
    env.set_options({"low": -0.1})
    with pytest.raises(ValueError, match="native envs take no reset options"):
        env.reset()
    with pytest.raises(RuntimeError, match="step_wait\\(\\) without step_async"):
        env.step_wait()
