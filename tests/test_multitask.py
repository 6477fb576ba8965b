"""Multi-task envs: each task's envs step exactly as that env alone would
(padded observation plus task id), invalid actions are refused, the policy
never picks an action a task lacks, and a short run reports per-task
returns."""

import io

import gymnasium as gym
import numpy as np
import pytest

from flockrl.envs import make_vec

torch = pytest.importorskip("torch")

IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]
MULTI = "+".join(IDS)


def test_tasks_step_as_their_own_envs():
    same = gym.vector.AutoresetMode.SAME_STEP
    env = make_vec(MULTI, 7, seed=5, autoreset_mode=same)
    assert env.single_observation_space.shape == (6 + 3,) and env.single_action_space.n == 3
    alone = [make_vec(i, int((env.task_of_env == t).sum()), seed=5 + 1000 * t, autoreset_mode=same)
             for t, i in enumerate(IDS)]
    obs, _ = env.reset()
    for a in alone:
        a.reset()
    rng = np.random.default_rng(0)
    for step in range(600):  # long enough for CartPole episodes to end (SAME_STEP final_obs)
        actions = np.array([rng.integers(0, env.action_mask[t].sum()) for t in env.task_of_env])
        obs, rewards, term, trunc, infos = env.step(actions)
        for t, a in enumerate(alone):
            idx = np.flatnonzero(env.task_of_env == t)
            o, r, te, tr, info = a.step(actions[idx])
            width = o.shape[1]
            np.testing.assert_array_equal(obs[idx, :width], o)
            assert not obs[idx, width:6].any()  # padding
            np.testing.assert_array_equal(obs[idx, 6:], np.eye(3)[[t] * len(idx)])
            np.testing.assert_array_equal(rewards[idx], r)
            np.testing.assert_array_equal(term[idx], te)
            np.testing.assert_array_equal(trunc[idx], tr)
            if (te | tr).any():
                done = np.flatnonzero(te | tr)
                np.testing.assert_array_equal(infos["final_obs"][idx[done], :width], info["final_obs"][done])
                assert infos["_final_obs"][idx[done]].all()
    env.close()


def test_invalid_actions_and_ids_are_clear_errors():
    env = make_vec(MULTI, 3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="CartPole-v1 has actions 0..1, got 2 for env 0"):
        env.step(np.array([2, 0, 0]))
    with pytest.raises(ValueError, match="expected at least one env per task"):
        make_vec(MULTI, 2)
    with pytest.raises(ValueError, match="expected Box observations and Discrete actions"):
        make_vec("CartPole-v1+Pendulum-v1", 2)


def test_masked_policy_never_picks_a_missing_action():
    from flockrl.algos.actor_critic import ActorCritic

    env = make_vec(MULTI, 300)
    net = ActorCritic(env.single_observation_space, env.single_action_space, (16,), action_mask=env.action_mask)
    obs, _ = env.reset(seed=1)
    actions, log_probs, _ = net.act(torch.from_numpy(obs), torch.Generator().manual_seed(0))
    assert (actions[torch.from_numpy(env.task_of_env == 0)] < 2).all()
    params, _ = net(torch.from_numpy(obs))
    probs = torch.softmax(params, dim=1)
    assert torch.all(probs[torch.from_numpy(env.task_of_env == 0), 2] == 0)
    assert torch.isfinite(net.dist.entropy(params)).all() and torch.isfinite(log_probs).all()
    assert "logit_bias" in net.state_dict()  # published and checkpointed with the weights


def test_multitask_run_reports_each_task(tmp_path):
    from flockrl.algos.ppo import PPOConfig
    from flockrl.algos.ppo_trainer import PPOTrainer

    config = PPOConfig(env="+".join(IDS), total_steps=6144, envs_per_actor=6, eval_interval=0, eval_episodes=6)
    result = PPOTrainer(config, run_dir=tmp_path, log=io.StringIO()).train()
    final = result.final_eval
    assert set(final) >= {f"mean/{t}" for t in IDS}
    assert final["mean/MountainCar-v0"] == -200.0  # not solved this early, but measured apart from the others
    header = (tmp_path / "progress.csv").read_text().splitlines()[0]
    assert all(f"return_mean/{t}" in header for t in IDS)
    assert (tmp_path / "eval.csv").read_text().splitlines()[0].endswith(",".join(f"mean/{t}" for t in IDS))
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "flockrl", "eval", str(tmp_path / "checkpoint.pt"), "--episodes", "3"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(f"  {t}: " in out.stdout for t in IDS)  # each task's return on its own line


def test_multitask_configs_need_an_env_per_task():
    from flockrl.algos.ppo import PPOConfig

    with pytest.raises(ValueError, match=r"config envs_per_actor: expected at least one per task .* \(3\), got 2"):
        PPOConfig(env="+".join(IDS), envs_per_actor=2)
