"""SAC: the squashed-Gaussian log-probability against torch.distributions,
the fused twin critics against two plain MLPs, whole updates against a
reference written from the paper's equations in plain torch (separate
critics, torch.distributions, torch.optim.Adam), and a short training run
that must clearly beat a random policy."""

import copy
import io

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import distributions as D  # noqa: E402

from flockrl.algos.sac import SACConfig, SACLearner  # noqa: E402
from flockrl.algos.sac_trainer import SACTrainer  # noqa: E402
from flockrl.nets.continuous import SquashedGaussianActor, TwinQ, squashed_log_prob  # noqa: E402

ACTION_SPACE = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))
OBS_SPACE = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)


def test_squashed_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_std = torch.randn(64, 3, dtype=torch.float64) * 2, torch.randn(64, 3, dtype=torch.float64)
    noise = torch.randn(64, 3, dtype=torch.float64)
    u = mean + log_std.exp() * noise
    dist = D.TransformedDistribution(D.Normal(mean, log_std.exp()), [D.TanhTransform(cache_size=1)])
    y = dist.transforms[0](u)  # cached: log_prob inverts it exactly
    expected = dist.log_prob(y).sum(dim=1)
    torch.testing.assert_close(squashed_log_prob(u, noise, log_std), expected, rtol=1e-10, atol=1e-10)


def test_squashed_log_prob_is_finite_where_tanh_saturates():
    u = torch.tensor([[30.0, -30.0]])
    out = squashed_log_prob(u, torch.zeros_like(u), torch.zeros_like(u))
    assert torch.isfinite(out).all()  # log(1 - tanh(u)^2) would be log(0)


def test_twin_q_equals_two_plain_critics_forward_and_backward():
    torch.manual_seed(1)
    twin = TwinQ(3, 2, (16, 8))
    plain = [twin.critic(0), twin.critic(1)]
    obs, act = torch.randn(10, 3), torch.randn(10, 2)
    q = twin(obs, act)
    x = torch.cat([obs, act], dim=1)
    for i in range(2):
        torch.testing.assert_close(q[i], plain[i](x).squeeze(1))
    (q[0].square().sum() + 3 * q[1].sum()).backward()
    (plain[0](x).square().sum() + 3 * plain[1](x).sum()).backward()
    linears = [[m for m in p if isinstance(m, torch.nn.Linear)] for p in plain]
    for layer, (w, b) in enumerate(zip(twin.weights, twin.biases)):
        for i in range(2):
            torch.testing.assert_close(w.grad[i], linears[i][layer].weight.grad.t())
            torch.testing.assert_close(b.grad[i, 0], linears[i][layer].bias.grad)


class ReferenceSAC:
    """SAC from the papers' equations in plain torch, in SB3's order: two
    nn.Sequential critics, torch.distributions for the policy, one
    torch.optim.Adam per part."""

    def __init__(self, learner: SACLearner, config: SACConfig):
        self.c = config
        self.actor = copy.deepcopy(learner.actor)
        self.critics = [learner.critic.critic(i) for i in range(2)]
        self.targets = [learner.critic_target.critic(i) for i in range(2)]
        self.log_alpha = learner.log_ent_coef.detach().clone().requires_grad_(True)
        self.center, self.half = learner.scale.center, learner.scale.half
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_opt = torch.optim.Adam([p for q in self.critics for p in q.parameters()], lr=config.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=config.lr)
        self.target_entropy = -float(ACTION_SPACE.shape[0])

    def policy(self, obs, noise):
        mean, log_std = self.actor(obs)
        dist = D.TransformedDistribution(D.Normal(mean, log_std.exp()), [D.TanhTransform(cache_size=1)])
        a = dist.transforms[0](mean + log_std.exp() * noise)
        return a, dist.log_prob(a).sum(dim=1)

    def q(self, nets, obs, action):
        x = torch.cat([obs, action], dim=1)
        return [net(x).squeeze(1) for net in nets]

    def update(self, batch, noise):
        obs, next_obs = batch["obs"], batch["next_obs"]
        action = (batch["action"] - self.center) / self.half
        a_pi, logp = self.policy(obs, noise[0])
        alpha = self.log_alpha.exp().detach()
        alpha_loss = -(self.log_alpha * (logp + self.target_entropy).detach()).mean()
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()
        with torch.no_grad():
            a_next, logp_next = self.policy(next_obs, noise[1])
            q_next = torch.min(*self.q(self.targets, next_obs, a_next)) - alpha * logp_next
            y = batch["reward"] + batch["discount"] * q_next
        q1, q2 = self.q(self.critics, obs, action)
        w = batch.get("weights", torch.ones_like(y))
        critic_loss = (w * 0.5 * ((q1 - y) ** 2 + (q2 - y) ** 2)).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        for q in self.critics:
            q.requires_grad_(False)
        actor_loss = (alpha * logp - torch.min(*self.q(self.critics, obs, a_pi))).mean()
        for q in self.critics:
            q.requires_grad_(True)
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        with torch.no_grad():
            for target, online in zip(self.targets, self.critics):
                for t, o in zip(target.parameters(), online.parameters()):
                    t.mul_(1 - self.c.tau).add_(self.c.tau * o)
        return critic_loss, actor_loss, alpha, (q1 - y).abs().add((q2 - y).abs()) / 2


def random_batch(rng, size=32, weights=False):
    batch = {"obs": torch.as_tensor(rng.normal(size=(size, 3)), dtype=torch.float32),
             "next_obs": torch.as_tensor(rng.normal(size=(size, 3)), dtype=torch.float32),
             "action": torch.as_tensor(rng.uniform(ACTION_SPACE.low, ACTION_SPACE.high, (size, 2)),
                                       dtype=torch.float32),
             "reward": torch.as_tensor(rng.normal(size=size), dtype=torch.float32),
             "discount": torch.as_tensor(np.where(rng.random(size) < 0.2, 0.0, 0.99), dtype=torch.float32)}
    if weights:
        batch["weights"] = torch.as_tensor(rng.uniform(0.1, 1.0, size), dtype=torch.float32)
    return batch


@pytest.mark.parametrize("prioritized", [False, True])
def test_sac_updates_equal_the_reference(prioritized):
    torch.manual_seed(2)
    c = SACConfig(hidden_sizes=(32, 32), lr=3e-3, tau=0.05, prioritized=prioritized, ent_coef=0.5)
    learner = SACLearner(c, OBS_SPACE, ACTION_SPACE, torch.device("cpu"))
    ref = ReferenceSAC(learner, c)
    rng = np.random.default_rng(3)
    for _ in range(5):
        batch = random_batch(rng, weights=prioritized)
        noise = (torch.randn(32, 2), torch.randn(32, 2))
        out = learner.update(batch, noise)
        critic_loss, actor_loss, alpha, td = ref.update(batch, noise)
        torch.testing.assert_close(out["critic_loss"], critic_loss.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out["actor_loss"], actor_loss.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out["ent_coef"], alpha.squeeze(0), rtol=1e-6, atol=1e-7)
        if prioritized:
            np.testing.assert_allclose(out["priorities"], td.detach().numpy(), rtol=1e-4, atol=1e-6)
    for mine, theirs in zip(learner.actor.parameters(), ref.actor.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
    for i in range(2):
        for name, mine, theirs in (("critic", learner.critic, ref.critics), ("target", learner.critic_target,
                                                                            ref.targets)):
            for p, q in zip(mine.critic(i).parameters(), theirs[i].parameters()):
                torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=f"{name} {i}")
    torch.testing.assert_close(learner.log_ent_coef, ref.log_alpha.detach(), rtol=1e-6, atol=1e-7)
    assert learner.log_ent_coef.item() != np.log(0.5)  # the coefficient was tuned


def test_fixed_entropy_coefficient_stays():
    c = SACConfig(hidden_sizes=(8,), autotune_entropy=False, ent_coef=0.2)
    learner = SACLearner(c, OBS_SPACE, ACTION_SPACE, torch.device("cpu"))
    learner.update(random_batch(np.random.default_rng(0)))
    assert learner.log_ent_coef.exp().item() == pytest.approx(0.2)


def test_actor_actions_stay_in_the_env_bounds():
    actor = SquashedGaussianActor(3, 2, (8,))
    with torch.no_grad():
        actor.mean.bias.fill_(50.0)  # saturated tanh
    from flockrl.algos.sac_trainer import SquashedGaussianPolicy

    policy = SquashedGaussianPolicy(actor, ACTION_SPACE, random_until=0, rng=np.random.default_rng(0))
    actions = policy(np.zeros((16, 3), np.float32), env_steps=10)
    assert actions.dtype == np.float32 and actions.shape == (16, 2)
    assert (actions >= ACTION_SPACE.low).all() and (actions <= ACTION_SPACE.high).all()
    random = SquashedGaussianPolicy(actor, ACTION_SPACE, random_until=100, rng=np.random.default_rng(0))
    actions = random(np.zeros((4000, 3), np.float32), env_steps=10)
    np.testing.assert_allclose(actions.mean(axis=0), (ACTION_SPACE.low + ACTION_SPACE.high) / 2, atol=0.05)


def test_actions_outside_the_bounds_are_a_clear_error():
    learner = SACLearner(SACConfig(hidden_sizes=(8,)), OBS_SPACE, ACTION_SPACE, torch.device("cpu"))
    batch = random_batch(np.random.default_rng(0))
    batch["action"][3] = torch.tensor([2.5, 0.5])
    with pytest.raises(ValueError, match=r"within the env's bounds \[\[-2.0, 0.0\], \[2.0, 1.0\]\], got \[2.5, 0.5\]"):
        learner.update(batch)


def test_discrete_envs_are_a_clear_error():
    with pytest.raises(ValueError, match="SAC needs a continuous .Box. action vector.*use dqn"):
        SACTrainer(SACConfig(env="CartPole-v1"), log=io.StringIO())


def test_sac_learns_pendulum_quickly():
    """SB3's SAC (rl-zoo values) reaches -200 on Pendulum-v1 in about 6k
    steps; a random policy scores about -1200. 5k steps must get well
    above random, whatever the threads' timing."""
    c = SACConfig(total_steps=5000, eval_interval=0, eval_episodes=10, seed=1)
    result = SACTrainer(c, log=io.StringIO()).train()
    assert result.final_eval["mean"] > -600, result.final_eval


def test_bfloat16_learner_tracks_float32_with_float32_outputs():
    """learner_precision=bfloat16: hidden layers in bfloat16, Q-values and
    the policy's parameters from float32 output layers; one update moves
    the weights where float32's does."""
    torch.manual_seed(6)
    c32 = SACConfig(hidden_sizes=(64, 64))
    learners = [SACLearner(c, OBS_SPACE, ACTION_SPACE, torch.device("cpu"))
                for c in (c32, c32.replace({"learner_precision": "bfloat16"}))]
    learners[1].load_state_dict(learners[0].state_dict())
    with learners[1].autocast():
        q = learners[1].critic(torch.randn(4, 3), torch.zeros(4, 2))
        mean, log_std = learners[1].actor(torch.randn(4, 3))
    assert q.dtype == mean.dtype == log_std.dtype == torch.float32
    batch, noise = random_batch(np.random.default_rng(7), size=256), (torch.randn(256, 2), torch.randn(256, 2))
    before = learners[0].critic_flat.param.detach().clone()
    outs = [learner.update(batch, noise) for learner in learners]
    torch.testing.assert_close(outs[1]["critic_loss"], outs[0]["critic_loss"], rtol=0.03, atol=0)
    steps = [learner.critic_flat.param.detach() - before for learner in learners]
    assert torch.nn.functional.cosine_similarity(steps[0], steps[1], dim=0) > 0.95


class RewardsTurnNaN(gym.Wrapper):
    """Pendulum whose rewards become NaN after `after` steps: the critics'
    targets, then their weights, go NaN a few updates later."""

    def __init__(self, after: int):
        super().__init__(gym.make("Pendulum-v1"))
        self.after, self.steps = after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, float("nan") if self.steps > self.after else reward, terminated, truncated, info


def test_nan_weights_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path):
    from flockrl.runtime.checkpoint import load_checkpoint

    env_id = "flockrl-test/PendulumRewardsTurnNaN-v0"
    # NaN rewards from step 701: the checkpoint due at 600 is written after the update in which the
    # actor crossed 600, and the rate limiter lets it step about once per update, so it records 600 or a
    # step or two later: before the NaNs whatever the threads' timing
    gym.register(env_id, entry_point=lambda: RewardsTurnNaN(after=700), max_episode_steps=200)
    try:
        c = SACConfig(env=env_id, total_steps=3000, learning_starts=100, checkpoint_interval=200,
                      eval_interval=0, hidden_sizes=(16, 16), n_step=1)  # rewards reach the replay as they come
        with pytest.raises(FloatingPointError, match="SACLearner (actor|critics): the weights became NaN"):
            SACTrainer(c, run_dir=tmp_path, log=io.StringIO()).train()
    finally:
        gym.registry.pop(env_id)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert 600 <= state["env_steps"] <= 700, state["env_steps"]  # the last checkpoint, before any NaN reward
    weights = [state["learner"][net][name] for net in ("actor", "critic", "critic_target")
               for name in state["learner"][net]]
    assert weights and all(torch.isfinite(w).all() for w in weights)
    # the env fixed, the run goes on from that checkpoint
    fixed = c.replace({"env": "Pendulum-v1", "total_steps": state["env_steps"] + 100})
    assert SACTrainer(fixed, run_dir=tmp_path, log=io.StringIO(), resume=True).train().env_steps >= fixed.total_steps
