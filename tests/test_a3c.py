"""A3C: the actor-critic loss against a reference written with
torch.distributions, the shared optimizer's state surviving a checkpoint,
each sync mode's lag invariant in a real run, and a short run that must
clearly beat a random policy."""

import io

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.algos.a3c import A3CConfig, A3CLearner, actor_critic_loss, average  # noqa: E402
from flockrl.algos.a3c_trainer import A3CTrainer  # noqa: E402
from flockrl.algos.actor_critic import ActorCritic  # noqa: E402
from flockrl.gradients import Adam, SharedOptimizer  # noqa: E402

OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)


def test_loss_matches_the_n_step_reference():
    c = A3CConfig(gamma=0.9, ent_coef=0.01)
    net = ActorCritic(OBS, gym.spaces.Discrete(2), (8,))
    g = torch.Generator().manual_seed(0)
    T, N = 5, 3
    obs = torch.randn(T, N, 4, generator=g)
    with torch.no_grad():
        _, values = net(obs.flatten(0, 1))
    rollout = {"obs": obs.numpy(), "action": torch.randint(0, 2, (T, N), generator=g).numpy(),
               "reward": torch.randn(T, N, generator=g).numpy(), "value": values.reshape(T, N).numpy(),
               "done": np.zeros((T, N), bool), "last_value": torch.randn(N, generator=g).numpy()}
    rollout["done"][2, 1] = True
    loss, _ = actor_critic_loss(net, rollout, c)
    # n-step returns by hand: R_t = r_t + gamma * R_{t+1}, R_T = V(s_T), cut at the episode end.
    returns = np.zeros((T, N))
    running = rollout["last_value"].astype(np.float64)
    for t in reversed(range(T)):
        running = rollout["reward"][t] + c.gamma * running * (1 - rollout["done"][t])
        returns[t] = running
    logits, v = net(obs.flatten(0, 1))
    dist = torch.distributions.Categorical(logits=logits)
    adv = torch.from_numpy(returns.reshape(-1)).float() - values
    expected = (-(dist.log_prob(torch.from_numpy(rollout["action"]).flatten()) * adv).mean()
                + c.vf_coef * ((torch.from_numpy(returns.reshape(-1)).float() - v) ** 2).mean()
                - c.ent_coef * dist.entropy().mean())
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_average_is_weighted_by_steps():
    a, b = [torch.tensor([1.0, 2.0])], [torch.tensor([4.0, 8.0])]
    torch.testing.assert_close(average([a, b], [1, 3])[0], torch.tensor([3.25, 6.5]))


def test_federated_average_is_the_sample_weighted_mean():
    learner = A3CLearner(A3CConfig(), OBS, gym.spaces.Discrete(2))
    states = []
    for seed in range(3):
        torch.manual_seed(seed)
        states.append(ActorCritic(OBS, gym.spaces.Discrete(2), (64, 64)).state_dict())
    samples = [100, 300, 600]
    learner.federated_average(states, samples)
    for name, got in learner.net.state_dict().items():
        want = sum(n * s[name].double() for n, s in zip(samples, states)) / sum(samples)
        torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-7, msg=name)
    assert learner.updates == 1


def test_shared_optimizer_state_round_trips():
    net = torch.nn.Linear(3, 2)
    opt = SharedOptimizer(net, Adam(lr=0.1))
    for _ in range(3):
        opt.push([torch.ones(2, 3), torch.ones(2)])
    saved = opt.state_dict()
    copy = torch.nn.Linear(3, 2)
    copy.load_state_dict(net.state_dict())
    restored = SharedOptimizer(copy, Adam(lr=0.1))
    restored.load_state_dict(saved)
    assert restored.updates == 3
    opt.push([torch.ones(2, 3), torch.ones(2)])
    restored.push([torch.ones(2, 3), torch.ones(2)])
    torch.testing.assert_close(copy.weight, net.weight)  # the 4th Adam step continues identically


def short_run(**overrides):
    config = A3CConfig(**{"total_steps": 4096, "eval_interval": 0, "eval_episodes": 3, **overrides})
    trainer = A3CTrainer(config, log=io.StringIO())
    return trainer, trainer.train()


@pytest.mark.parametrize("sync", ["async", "coordinator", "sync", "bounded", "fedavg"])
def test_every_sync_mode_trains_and_keeps_its_lag_bound(sync):
    trainer, result = short_run(sync=sync, num_actors=3, envs_per_actor=2)
    assert result.env_steps >= 4096 and result.updates > 0 and not result.interrupted
    if sync == "sync":
        assert trainer.metrics.max_policy_lag == 0
    if sync == "bounded":
        assert trainer.metrics.max_policy_lag <= 1


def test_a3c_learns_cartpole_clearly_better_than_random():
    """A random policy averages about 22 on CartPole-v1."""
    _, result = short_run(sync="sync", total_steps=20_480, eval_episodes=10)
    assert result.final_eval["mean"] >= 150
