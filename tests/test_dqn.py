"""DQN: targets and updates against NumPy references and hand-computed
values, Ape-X's exploration formula, and a short training run that must
clearly beat a random policy."""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.algos.dqn import DQNConfig, DQNLearner, QNetwork, apex_epsilons, td_targets  # noqa: E402
from flockrl.algos.dqn_trainer import DQNTrainer  # noqa: E402
from flockrl.runtime.evaluate import evaluate  # noqa: E402


def test_td_targets_match_numpy():
    rng = np.random.default_rng(0)
    reward, next_t, next_o = rng.normal(size=32), rng.normal(size=(32, 3)), rng.normal(size=(32, 3))
    discount = np.where(rng.random(32) < 0.2, 0.0, 0.99**3)  # 3-step returns, some past a terminal
    t = [torch.from_numpy(x) for x in (reward, discount, next_t, next_o)]
    vanilla = td_targets(t[0], t[1], t[2], None).numpy()
    double = td_targets(*t).numpy()
    np.testing.assert_allclose(vanilla, reward + discount * next_t.max(axis=1), rtol=1e-12)
    picked = next_t[np.arange(32), next_o.argmax(axis=1)]
    np.testing.assert_allclose(double, reward + discount * picked, rtol=1e-12)
    assert not np.allclose(vanilla, double)  # the two rules differ on this data


def test_dueling_head_is_value_plus_centred_advantages():
    net = QNetwork(4, 3, (8,), dueling=True)
    obs = torch.randn(5, 4)
    x = net.body(obs)
    adv, value = net.head(x), net.value(x)
    expected = value + adv - adv.mean(dim=1, keepdim=True)
    assert torch.allclose(net(obs), expected)


@pytest.mark.parametrize("tau", [1.0, 0.25])
def test_target_updates_hard_and_polyak(tau):
    c = DQNConfig(hidden_sizes=(4,), tau=tau)
    learner = DQNLearner(c, 2, 2, torch.device("cpu"))
    with torch.no_grad():
        for p in learner.online.parameters():
            p.fill_(1.0)
        for p in learner.target.parameters():
            p.fill_(-1.0)
    learner.update_target()
    expected = -1.0 + tau * (1.0 - -1.0)  # hard: 1; Polyak: -1 + 0.25 * 2 = -0.5
    for p in learner.target.parameters():
        assert torch.all(p == expected)


def test_target_network_follows_the_interval():
    c = DQNConfig(hidden_sizes=(8,), target_update_interval=3)
    learner = DQNLearner(c, 4, 2, torch.device("cpu"))
    batch = {"obs": torch.randn(16, 4), "next_obs": torch.randn(16, 4), "action": torch.randint(0, 2, (16,)),
             "reward": torch.randn(16), "discount": torch.full((16,), 0.99)}
    before = [p.clone() for p in learner.target.parameters()]
    learner.update(batch)
    learner.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(before, learner.target.parameters()))
    learner.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(learner.online.parameters(), learner.target.parameters()))


def test_update_matches_a_plain_torch_reference():
    """Double DQN with Huber loss, clipping and Adam, written out with torch's
    per-tensor optimizer and clip_grad_norm_ on separate network copies."""
    c = DQNConfig(hidden_sizes=(16, 16), target_update_interval=2, max_grad_norm=0.01, lr=1e-2)
    torch.manual_seed(0)
    learner = DQNLearner(c, 4, 3, torch.device("cpu"))
    online, target = QNetwork(4, 3, c.hidden_sizes), QNetwork(4, 3, c.hidden_sizes)
    online.load_state_dict(learner.online.state_dict())
    target.load_state_dict(learner.target.state_dict())
    opt = torch.optim.Adam(online.parameters(), lr=c.lr, foreach=False)
    for step in range(1, 6):
        batch = {"obs": torch.randn(16, 4), "next_obs": torch.randn(16, 4), "action": torch.randint(0, 3, (16,)),
                 "reward": torch.randn(16), "discount": torch.full((16,), 0.99)}
        loss = learner.update(batch)["loss"]
        q = online(batch["obs"]).gather(1, batch["action"][:, None]).squeeze(1)
        with torch.no_grad():
            y = td_targets(batch["reward"], batch["discount"], target(batch["next_obs"]), online(batch["next_obs"]))
        ref_loss = torch.nn.functional.smooth_l1_loss(q, y)
        opt.zero_grad()
        ref_loss.backward()
        torch.nn.utils.clip_grad_norm_(online.parameters(), c.max_grad_norm)
        opt.step()
        if step % c.target_update_interval == 0:
            target.load_state_dict(online.state_dict())
        torch.testing.assert_close(loss, ref_loss.detach())
        for net, ref in ((learner.online, online), (learner.target, target)):
            for p, r in zip(net.parameters(), ref.parameters()):
                torch.testing.assert_close(p, r, rtol=1e-5, atol=1e-6)


def test_apex_epsilons_follow_the_paper():
    eps = apex_epsilons(8)
    assert eps[0] == pytest.approx(0.4) and eps[-1] == pytest.approx(0.4**8)
    assert eps == pytest.approx([0.4 ** (1 + i * 7 / 7) for i in range(8)])
    assert apex_epsilons(1) == [0.4]


def test_epsilon_schedule_is_linear_then_flat():
    c = DQNConfig(total_steps=1000, exploration_fraction=0.5, epsilon_start=1.0, epsilon_final=0.1)
    assert c.epsilon(0) == 1.0 and c.epsilon(250) == pytest.approx(0.55) and c.epsilon(900) == pytest.approx(0.1)


def test_short_training_clearly_beats_a_random_policy():
    rng = np.random.default_rng(0)
    random_returns = evaluate(lambda obs: rng.integers(0, 2, len(obs)), "CartPole-v1", 10, seed=10_000)
    c = DQNConfig(total_steps=6000, learning_starts=500, eval_interval=0, eval_episodes=10)
    result = DQNTrainer(c, log=io.StringIO()).train()
    assert result.env_steps >= 6000 and not result.interrupted
    # Measured over 6 seeds: 104-500 after 6000 steps; random play scores ~22.
    assert result.final_eval["mean"] > 2 * random_returns.mean()


def test_apex_actor_priorities_are_n_step_td_errors():
    from flockrl.algos.dqn_trainer import initial_priorities

    net = QNetwork(4, 3, (8,))
    rng = np.random.default_rng(1)
    tr = {"obs": rng.normal(size=(6, 4)).astype(np.float32), "next_obs": rng.normal(size=(6, 4)).astype(np.float32),
          "action": rng.integers(0, 3, 6), "reward": rng.normal(size=6), "discount": np.array([0.97] * 5 + [0.0])}
    with torch.no_grad():
        q = net(torch.from_numpy(tr["obs"])).double().numpy()
        next_q = net(torch.from_numpy(tr["next_obs"])).double().numpy()
    expected = np.abs(tr["reward"] + tr["discount"] * next_q.max(axis=1) - q[np.arange(6), tr["action"]])
    np.testing.assert_allclose(initial_priorities(net, tr), expected, rtol=1e-5, atol=1e-6)


def test_apex_config():
    from flockrl.algos.dqn import ApexConfig

    c = ApexConfig(num_actors=3)
    assert c.actor_epsilons() == pytest.approx([0.4, 0.4**4.5, 0.4**8])
    with pytest.raises(ValueError, match="Ape-X needs prioritized replay"):
        ApexConfig(prioritized=False)


def test_short_apex_run_without_rate_limit():
    from flockrl.algos.dqn import ApexConfig

    c = ApexConfig(total_steps=3000, num_actors=2, envs_per_actor=2, learning_starts=500, samples_per_insert=0,
                   eval_interval=0, eval_episodes=3)
    result = DQNTrainer(c, log=io.StringIO()).train()
    assert result.env_steps >= 3000 and result.updates > 0 and not result.interrupted
