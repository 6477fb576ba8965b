"""TD3: whole updates against a reference written from Fujimoto et al.'s
equations in plain torch (separate critics, torch.optim.Adam), the delay
of actor and target updates counted, exploration noise and bounds, and a
short training run that must clearly beat a random policy."""

import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.algos.td3 import TD3Config, TD3Learner  # noqa: E402
from flockrl.algos.td3_trainer import GaussianNoisePolicy, TD3Trainer  # noqa: E402
from flockrl.nets.continuous import DeterministicActor  # noqa: E402
from test_sac import ACTION_SPACE, OBS_SPACE, random_batch  # noqa: E402


class ReferenceTD3:
    """TD3 in SB3's order: critics every update; every policy_delay-th
    update the actor (against critic 1) and then all targets."""

    def __init__(self, learner: TD3Learner, c: TD3Config):
        self.c = c
        self.actor, self.actor_target = copy.deepcopy(learner.actor), copy.deepcopy(learner.actor_target)
        self.critics = [learner.critic.critic(i) for i in range(2)]
        self.targets = [learner.critic_target.critic(i) for i in range(2)]
        self.center, self.half = learner.scale.center, learner.scale.half
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=c.lr)
        self.critic_opt = torch.optim.Adam([p for q in self.critics for p in q.parameters()], lr=c.lr)
        self.n = 0

    def update(self, batch, noise):
        c = self.c
        self.n += 1
        obs, next_obs = batch["obs"], batch["next_obs"]
        action = (batch["action"] - self.center) / self.half
        with torch.no_grad():
            eps = (noise * c.target_noise).clamp(-c.target_noise_clip, c.target_noise_clip)
            a_next = (self.actor_target(next_obs) + eps).clamp(-1, 1)
            x = torch.cat([next_obs, a_next], dim=1)
            y = batch["reward"] + batch["discount"] * torch.min(*(t(x).squeeze(1) for t in self.targets))
        x = torch.cat([obs, action], dim=1)
        q1, q2 = (q(x).squeeze(1) for q in self.critics)
        w = batch.get("weights", torch.ones_like(y))
        critic_loss = (w * ((q1 - y) ** 2 + (q2 - y) ** 2)).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        actor_loss = None
        if self.n % c.policy_delay == 0:
            actor_loss = -self.critics[0](torch.cat([obs, self.actor(obs)], dim=1)).mean()
            self.actor_opt.zero_grad()
            actor_loss.backward()
            self.actor_opt.step()
            with torch.no_grad():
                for target, online in [*zip(self.targets, self.critics), (self.actor_target, self.actor)]:
                    for t, o in zip(target.parameters(), online.parameters()):
                        t.mul_(1 - c.tau).add_(c.tau * o)
        return critic_loss, actor_loss


@pytest.mark.parametrize("prioritized", [False, True])
def test_td3_updates_equal_the_reference(prioritized):
    torch.manual_seed(4)
    c = TD3Config(hidden_sizes=(32, 24), lr=3e-3, tau=0.05, policy_delay=2, prioritized=prioritized)
    learner = TD3Learner(c, OBS_SPACE, ACTION_SPACE, torch.device("cpu"))
    ref = ReferenceTD3(learner, c)
    rng = np.random.default_rng(5)
    actor_before = [p.clone() for p in learner.actor.parameters()]
    for step in range(1, 7):
        batch = random_batch(rng, weights=prioritized)
        noise = torch.randn(32, 2) * 3  # large: the clip matters
        out = learner.update(batch, noise)
        critic_loss, actor_loss = ref.update(batch, noise)
        torch.testing.assert_close(out["critic_loss"], critic_loss.detach(), rtol=1e-5, atol=1e-6)
        if step == 1:  # the actor waits for policy_delay critic updates
            assert torch.isnan(out["actor_loss"])
            assert all(torch.equal(a, b) for a, b in zip(actor_before, learner.actor.parameters()))
        if actor_loss is not None:
            torch.testing.assert_close(out["actor_loss"], actor_loss.detach(), rtol=1e-5, atol=1e-6)
    assert learner.updates == 6
    for mine, theirs in ((learner.actor, ref.actor), (learner.actor_target, ref.actor_target)):
        for p, q in zip(mine.parameters(), theirs.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    for i in range(2):
        for mine, theirs in ((learner.critic, ref.critics), (learner.critic_target, ref.targets)):
            for p, q in zip(mine.critic(i).parameters(), theirs[i].parameters()):
                torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_exploration_noise_per_actor_and_bounds():
    c = TD3Config(num_actors=3, exploration_noise=0.1, noise_spread=2.0)
    assert [c.actor_noise_scale(i) for i in range(3)] == pytest.approx([0.5, 1.0, 2.0])
    assert TD3Config().actor_noise_scale(0) == 1.0
    actor = DeterministicActor(3, 2, (8,))
    with torch.no_grad():
        actor.out.bias.copy_(torch.tensor([0.0, 50.0]))  # tanh -> [~0, 1]: at the upper bound
        actor.out.weight.zero_()
    policy = GaussianNoisePolicy(actor, ACTION_SPACE, 0.3, random_until=0, rng=np.random.default_rng(0))
    actions = policy(np.zeros((20000, 3), np.float32), env_steps=1)
    assert (actions >= ACTION_SPACE.low).all() and (actions <= ACTION_SPACE.high).all()
    # First dim: mean 0 in [-1, 1] -> env 0 with std 0.3 * half-range 2 = 0.6.
    assert actions[:, 0].mean() == pytest.approx(0.0, abs=0.02)
    assert actions[:, 0].std() == pytest.approx(0.6, rel=0.03)
    assert (actions[:, 1] == ACTION_SPACE.high[1]).mean() > 0.45  # clipped at the bound, not beyond


def test_td3_learns_pendulum_quickly():
    """A random policy scores about -1200; 6k steps from 1k random ones
    must get well above it, whatever the threads' timing."""
    c = TD3Config(total_steps=6000, learning_starts=1000, eval_interval=0, eval_episodes=10, seed=1)
    result = TD3Trainer(c, log=io.StringIO()).train()
    assert result.final_eval["mean"] > -600, result.final_eval
