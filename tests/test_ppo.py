"""PPO: the update against a reference written with torch.distributions,
rollouts' truncation bootstrap against a replay of the same env, every sync
mode's invariant in a real run, and a short run that must clearly beat a
random policy."""

import copy
import io

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.algos.actor_critic import ActorCritic  # noqa: E402
from flockrl.algos.advantages import gae  # noqa: E402
from flockrl.algos.ppo import PPOConfig, PPOLearner  # noqa: E402
from flockrl.algos.ppo_trainer import PPOTrainer  # noqa: E402
from flockrl.envs import make_vec  # noqa: E402
from flockrl.runtime.metrics import Metrics  # noqa: E402
from flockrl.runtime.rollout import RolloutWorker  # noqa: E402

OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
IMAGES = gym.spaces.Box(0, 255, (4, 36, 36), np.uint8)  # the smallest a Nature CNN takes


def fake_rollout(net, T=8, N=4, seed=0, obs_space=OBS):
    g = torch.Generator().manual_seed(seed)
    if obs_space.dtype == np.uint8:
        obs = torch.randint(0, 256, (T, N, *obs_space.shape), generator=g, dtype=torch.uint8)
    else:
        obs = torch.randn(T, N, *obs_space.shape, generator=g)
    with torch.no_grad():
        params, values = net(obs.flatten(0, 1))
        actions, log_probs = net.dist.sample(params, g)
    # Behaviour log-probs off by noise, so ratios are not 1 and clipping acts.
    behaviour = log_probs + 0.3 * torch.randn(log_probs.shape, generator=g)
    return {"obs": obs.numpy(), "action": actions.reshape(T, N, *actions.shape[1:]).numpy(),
            "log_prob": behaviour.reshape(T, N).numpy(), "value": values.reshape(T, N).numpy(),
            "reward": torch.randn(T, N, generator=g).numpy(), "done": (torch.rand(T, N, generator=g) < 0.1).numpy(),
            "last_value": torch.randn(N, generator=g).numpy(), "version": 1, "actor": 0}


def log_probs_and_dist(net, r):
    params, values = net(torch.from_numpy(r["obs"]).flatten(0, 1))
    if net.discrete:
        dist = torch.distributions.Categorical(logits=params)
        actions = torch.from_numpy(r["action"].reshape(-1))
    else:
        dist = torch.distributions.Independent(torch.distributions.Normal(params[0], params[1].exp()), 1)
        actions = torch.from_numpy(r["action"].reshape(-1, r["action"].shape[-1]))
    return dist.log_prob(actions), dist, values


def reference_loss(net, r, c, clip, proximal):
    """Decoupled PPO (Hilton et al. 2021, eq. 2): the ratio to the proximal
    policy, clipped, weighted by min(1, proximal / behaviour)."""
    advantages, returns = gae(r["reward"], r["value"], r["done"], r["last_value"], c.gamma, c.gae_lambda)
    adv = torch.from_numpy(advantages.reshape(-1))
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    log_prob, dist, values = log_probs_and_dist(net, r)
    weight = torch.exp(proximal - torch.from_numpy(r["log_prob"].reshape(-1))).clamp(max=1.0)
    ratio = torch.exp(log_prob - proximal)
    surrogate = (weight * torch.min(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv)).mean()
    old_values, target = torch.from_numpy(r["value"].reshape(-1)), torch.from_numpy(returns.reshape(-1))
    clipped = old_values + torch.clamp(values - old_values, -c.clip_value, c.clip_value)
    value_loss = torch.max((values - target) ** 2, (clipped - target) ** 2).mean()
    return -surrogate + c.vf_coef * value_loss - c.ent_coef * dist.entropy().mean()


@pytest.mark.parametrize("action_space", [gym.spaces.Discrete(3), gym.spaces.Box(-1, 1, (2,), np.float32)])
@pytest.mark.parametrize("obs_space", [OBS, IMAGES], ids=["mlp", "nature_cnn"])
def test_update_equals_a_reference_adam_step(action_space, obs_space):
    """The MLP's hand-written backprop and the CNN's autograd path both
    equal autograd through the whole loss."""
    # Two epochs of one full-batch step each: the second step's ratios have
    # moved away from 1, so clipping acts.
    c = PPOConfig(epochs=2, minibatch_size=32, ent_coef=0.01, clip_value=0.1, total_steps=1000, lr=0.03,
                  learner_precision="float32")
    torch.manual_seed(0)
    learner = PPOLearner(c, obs_space, action_space, torch.device("cpu"))
    assert learner.net.network == ("nature_cnn" if obs_space is IMAGES else "mlp")
    reference = copy.deepcopy(learner.net)
    rollout = fake_rollout(learner.net, obs_space=obs_space)  # behaviour log-probs off by noise, as from older weights
    env_steps = 250  # a quarter through: lr and clip annealed to 3/4
    stats = learner.update([rollout], env_steps)
    assert stats["lr"] == pytest.approx(0.75 * c.lr) and stats["clip_range"] == pytest.approx(0.75 * c.clip_range)
    assert 0 < stats["clip_fraction"] < 1 and 0 < stats["behaviour_weight"] < 1  # both branches exercised
    with torch.no_grad():
        proximal = log_probs_and_dist(reference, rollout)[0]
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.75 * c.lr, eps=1e-5)
    for _ in range(2):
        optimizer.zero_grad()
        reference_loss(reference, rollout, c, 0.75 * c.clip_range, proximal).backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), c.max_grad_norm)
        optimizer.step()
    for (name, got), want in zip(learner.net.named_parameters(), reference.parameters()):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=name)


def test_a_bfloat16_cnn_gradient_points_where_float32s_does():
    """Autocast rounds the convolutions' inputs to 8 significant bits: the
    gradient differs from float32's in its last digits, not in direction."""
    grads = {}
    for precision in ("float32", "bfloat16"):
        c = PPOConfig(epochs=1, minibatch_size=32, total_steps=1000, learner_precision=precision)
        torch.manual_seed(0)
        learner = PPOLearner(c, IMAGES, gym.spaces.Discrete(3), torch.device("cpu"))
        learner.optimizer.step = lambda: None  # keep the gradient, leave the weights
        learner.update([fake_rollout(learner.net, obs_space=IMAGES)], 0)
        grads[precision] = learner.flat.param.grad.clone()
    cosine = torch.nn.functional.cosine_similarity(grads["float32"], grads["bfloat16"], dim=0)
    assert cosine > 0.99 and not torch.equal(grads["float32"], grads["bfloat16"])


def test_rollout_bootstraps_truncated_episodes_only():
    """Pendulum truncates every episode at step 200: the rollout's reward
    there is the env's plus gamma * V(final obs); everywhere else it is the
    env's own, as a replay of the same actions in a fresh env shows."""
    space = gym.spaces.Box(-8, 8, (3,), np.float32)
    net = ActorCritic(space, gym.spaces.Box(-2, 2, (1,), np.float32), (8,))
    with torch.no_grad():  # V(s) = 5 everywhere
        net.value[-1].weight.zero_()
        net.value[-1].bias.fill_(5.0)
    env = make_vec("Pendulum-v1", 2, seed=3, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    r = RolloutWorker(env, net, Metrics(), gamma=0.9, seed=3).collect(201, version=1)
    replay = make_vec("Pendulum-v1", 2, seed=3, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    replay.reset()
    raw = np.stack([replay.step(np.clip(a, -2, 2))[1] for a in r["action"]])
    assert r["done"][199].all() and r["done"].sum() == 2
    np.testing.assert_allclose(r["reward"][199], raw[199] + 0.9 * 5.0, rtol=1e-6)
    np.testing.assert_allclose(np.delete(r["reward"], 199, axis=0), np.delete(raw, 199, axis=0), rtol=1e-6)
    np.testing.assert_allclose(r["last_value"], 5.0)


def short_run(**overrides):
    config = PPOConfig(**{"total_steps": 4096, "eval_interval": 0, "eval_episodes": 3, **overrides})
    trainer = PPOTrainer(config, log=io.StringIO())
    return trainer, trainer.train()


@pytest.mark.parametrize("sync, max_lag", [("sync", 1), ("async", 1), ("bounded", 1), ("bounded", 2)])
def test_every_sync_mode_trains_and_keeps_its_lag_bound(sync, max_lag):
    trainer, result = short_run(sync=sync, max_lag=max_lag, num_actors=3, envs_per_actor=2, rollout_steps=16)
    assert result.env_steps >= 4096 and result.updates > 0 and not result.interrupted
    if sync == "sync":
        assert trainer.metrics.max_policy_lag == 0
    elif sync == "bounded":
        assert trainer.metrics.max_policy_lag <= max_lag


def test_continuous_actions_train_and_act_within_bounds():
    trainer, result = short_run(env="Pendulum-v1", rollout_steps=64, minibatch_size=128, epochs=2)
    assert np.isfinite(result.final_eval["mean"])
    actions = trainer.greedy_action(np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32) * 100)
    assert actions.shape == (16, 1) and np.all(np.abs(actions) <= 2.0)


def test_normalize_obs_statistics_travel_with_the_weights():
    trainer, _ = short_run(normalize_obs=True)
    norm = trainer.learner.net.obs_norm
    assert norm.count.item() == 4096  # every observation the learner trained on
    assert "obs_norm.mean" in trainer.learner.net.state_dict()  # so the ParamStore and checkpoints carry it


def test_ppo_learns_cartpole_clearly_better_than_random():
    """A random policy averages about 22 on CartPole-v1."""
    _, result = short_run(total_steps=24_576, eval_episodes=10)
    assert result.final_eval["mean"] >= 150
