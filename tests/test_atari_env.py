"""ALE ids through make_vec: the observations of gymnasium's own Atari
pipeline (AtariPreprocessing + FrameStackObservation) under ALE's
deterministic settings, game scores equal to the sum of raw rewards over
whole games, life-loss episodes that end training episodes but not games,
clipped rewards, seeding, and clear errors."""

import sys

import gymnasium as gym
import numpy as np
import pytest

import flockrl
from flockrl.envs import atari

ale_py = pytest.importorskip("ale_py")

GAME = "ALE/Breakout-v5"
# ALE's deterministic settings, under which its vector env equals gymnasium's pipeline.
DETERMINISTIC = {"noop_max": 0, "use_fire_reset": False, "reward_clipping": False, "repeat_action_probability": 0.0,
                 "life_loss_info": False}


def gymnasium_pipeline(num_envs: int) -> gym.vector.VectorEnv:
    pytest.importorskip("cv2")  # gymnasium's AtariPreprocessing resizes with OpenCV
    gym.register_envs(ale_py)

    def make() -> gym.Env:
        env = gym.make(GAME, frameskip=1, repeat_action_probability=0.0)
        env = gym.wrappers.AtariPreprocessing(env, noop_max=0, frame_skip=4, screen_size=84)
        return gym.wrappers.FrameStackObservation(env, 4, padding_type="zero")

    return gym.vector.SyncVectorEnv([make for _ in range(num_envs)])


def test_observations_rewards_and_game_scores_equal_gymnasiums_pipeline():
    n = 3
    ref = gymnasium_pipeline(n)
    env = flockrl.make_vec(GAME, n, num_threads=2, **DETERMINISTIC)
    assert env.single_observation_space == ref.single_observation_space
    assert env.single_action_space == ref.single_action_space
    obs, _ = env.reset(seed=7)
    ref_obs, _ = ref.reset(seed=7)
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    ref_return = np.zeros(n)
    games = 0
    for t in range(800):  # random Breakout games last ~150-300 steps: several end here
        actions = rng.integers(0, 4, n)
        obs, rewards, terminated, truncated, infos = env.step(actions)
        ref_obs, ref_rewards, ref_terminated, ref_truncated, _ = ref.step(actions)
        np.testing.assert_array_equal(obs, ref_obs, err_msg=f"step {t}")
        np.testing.assert_array_equal(rewards, ref_rewards)
        np.testing.assert_array_equal(terminated, ref_terminated)
        np.testing.assert_array_equal(truncated, ref_truncated)
        ref_return += ref_rewards
        ended = ref_terminated | ref_truncated
        np.testing.assert_array_equal(infos.get("_episode", np.zeros(n, bool)), ended)
        if ended.any():  # the game score: every raw reward of the game
            np.testing.assert_array_equal(infos["episode"]["r"][ended], ref_return[ended])
            games += int(ended.sum())
            ref_return[ended] = 0
    assert games >= 3
    env.close()
    ref.close()


def test_a_life_loss_ends_the_training_episode_not_the_game():
    """Two envs on the same seeds and actions, one with the training
    defaults: the emulator runs the same game in both; the defaults add
    terminations where a life was lost, clip the rewards and report the
    game's whole unclipped score when the game ends."""
    n, same = 4, gym.vector.AutoresetMode.SAME_STEP
    env = flockrl.make_vec(GAME, n, seed=3, autoreset_mode=same, repeat_action_probability=0.0)
    plain = flockrl.make_vec(GAME, n, seed=3, autoreset_mode=same, life_loss_info=False, reward_clipping=False)
    obs, info = env.reset()
    plain_obs, _ = plain.reset()
    lives = info["lives"].copy()
    score, life_losses, games = np.zeros(n), 0, 0
    rng = np.random.default_rng(1)
    for _ in range(1500):
        actions = rng.integers(0, 4, n)
        next_obs, rewards, terminated, truncated, infos = env.step(actions)
        plain_next, raw, game_over, plain_truncated, plain_infos = plain.step(actions)
        np.testing.assert_array_equal(next_obs, plain_next)  # the same games
        np.testing.assert_array_equal(rewards, np.clip(raw, -1, 1))
        score += raw
        lost = (infos["lives"] < lives) & ~game_over
        np.testing.assert_array_equal(terminated, game_over | lost)
        np.testing.assert_array_equal(truncated, plain_truncated)
        life_losses += int(lost.sum())
        # After a lost life the game goes on: the stack shifts by one frame.
        np.testing.assert_array_equal(next_obs[lost, :-1], obs[lost, 1:])
        if game_over.any():
            np.testing.assert_array_equal(infos["_episode"], game_over | plain_truncated)
            np.testing.assert_array_equal(infos["episode"]["r"][game_over], score[game_over])
            # final_obs: the reset envs' last frames; everyone else's observation.
            np.testing.assert_array_equal(infos["_final_obs"], game_over)
            np.testing.assert_array_equal(infos["final_obs"][~game_over], next_obs[~game_over])
            np.testing.assert_array_equal(infos["final_obs"][game_over, :-1], obs[game_over, 1:])
            assert not next_obs[game_over, :-1].any()  # a new game's stack is zero-padded
            score[game_over] = 0
            games += int(game_over.sum())
        obs, lives = next_obs, infos["lives"].copy()
    assert games >= 4 and life_losses >= 4 * games - 4
    env.close()
    plain.close()


def test_next_step_autoreset_after_a_game_and_not_after_a_life():
    n = 2
    env = flockrl.make_vec(GAME, n, seed=11)
    obs, info = env.reset()
    rng = np.random.default_rng(2)
    lengths = np.zeros(n, dtype=np.int64)
    saw_life_loss = saw_game_over = False
    ended_before = np.zeros(n, bool)
    for _ in range(1500):
        obs, rewards, terminated, truncated, infos = env.step(rng.integers(0, 4, n))
        # The step after a game's end is the reset step: reward 0, not counted in the next game.
        assert not rewards[ended_before].any() and not terminated[ended_before].any()
        lengths += ~ended_before
        ended = infos.get("_episode", np.zeros(n, bool))
        saw_life_loss |= bool((terminated & ~ended).any())
        if ended.any():
            saw_game_over = True
            np.testing.assert_array_equal(infos["episode"]["l"][ended], lengths[ended])
            lengths[ended] = 0
        ended_before = ended
    assert saw_life_loss and saw_game_over
    env.close()


def test_seeding_is_make_vecs():
    a = flockrl.make_vec(GAME, 2, seed=5)
    b = flockrl.make_vec(GAME, 2)
    obs_a, _ = a.reset()
    obs_b, _ = b.reset(seed=5)
    for _ in range(50):  # noops at reset, then identical games
        actions = np.array([1, 3])
        obs_a, *_ = a.step(actions)
        obs_b, *_ = b.step(actions)
        np.testing.assert_array_equal(obs_a, obs_b)
    assert a.num_threads == 2 and flockrl.make_vec(GAME, 3, num_threads=1).num_threads == 1
    a.close()
    b.close()


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="'ALE/Breakot-v5' is not an Atari game.*ALE/Breakout-v5"):
        flockrl.make_vec("ALE/Breakot-v5")
    with pytest.raises(ValueError, match="unknown keyword.*'sticky'.*expected some of"):
        flockrl.make_vec(GAME, sticky=0.25)
    with pytest.raises(TypeError, match="noop_max: expected an int, got float"):
        flockrl.make_vec(GAME, noop_max=2.5)
    with pytest.raises(ValueError, match="repeat_action_probability: expected a number in \\[0, 1\\], got 2"):
        flockrl.make_vec(GAME, repeat_action_probability=2)
    with pytest.raises(ValueError, match="autoreset_mode: ALE envs support NextStep and SameStep"):
        flockrl.make_vec(GAME, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    env = flockrl.make_vec(GAME, 2, seed=0)
    with pytest.raises(ValueError, match="call reset"):
        env.step(np.array([0, 0]))
    env.reset()
    with pytest.raises(ValueError, match=r"actions\[1\] = 4: expected an action of Discrete\(4\) for ALE/Breakout-v5"):
        env.step(np.array([0, 4]))
    with pytest.raises(TypeError, match="actions: expected integers"):
        env.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"actions: expected shape \(2,\), got \(3,\)"):
        env.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="options: Atari envs accept only 'reset_mask'"):
        env.reset(options={"low": 0})
    env.close()


def test_missing_or_old_ale_py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # import fails
    with pytest.raises(ImportError, match='Atari envs need ale-py: pip install "flockrl\\[atari\\]"'):
        flockrl.make_vec(GAME)
    monkeypatch.setitem(sys.modules, "ale_py", ale_py)
    monkeypatch.setattr(ale_py, "__version__", "0.11.2")
    with pytest.raises(ImportError, match="ale-py >= 0.12.1.*found 0.11.2"):
        atari.require_ale_py()


def test_partial_resets_restart_only_those_games():
    env = flockrl.make_vec(GAME, 3, seed=0, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = env.reset()
    for _ in range(20):
        obs, *_ = env.step(np.array([1, 2, 3]))
    mask = np.array([False, True, False])
    again, _ = env.reset(options={"reset_mask": mask})
    assert not again[1, :-1].any()  # a fresh stack
    np.testing.assert_array_equal(again[~mask], obs[~mask])
    env.close()
