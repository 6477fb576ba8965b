"""Backprop by hand (flockrl.algos.mlp_backprop, ActorCritic.backprop and
the distributions' backward) against autograd."""

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.nets import mlp as mlp_backprop  # noqa: E402
from flockrl.algos.actor_critic import ActorCritic  # noqa: E402
from flockrl.nets.mlp import mlp  # noqa: E402
from flockrl.algos.distributions import Categorical, DiagGaussian  # noqa: E402


def autograd_grads(module, loss_of):
    module.zero_grad()
    loss_of().backward()
    return [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_backward_equals_autograd(activation):
    torch.manual_seed(0)
    net = mlp([5, 16, 8, 3], activation, out_gain=1.0)
    x, weights = torch.randn(32, 5), torch.randn(32, 3)
    want = autograd_grads(net, lambda: (net(x) * weights).sum())
    with torch.no_grad():
        activations = mlp_backprop.forward(net, x)
    torch.testing.assert_close(activations[-1], net(x).detach())
    mlp_backprop.backward(net, activations, weights)
    for p, w in zip(net.parameters(), want):
        torch.testing.assert_close(p.grad, w)


def test_categorical_backward_equals_autograd():
    g = torch.Generator().manual_seed(1)
    logits, actions = torch.randn(64, 4, generator=g), torch.randint(0, 4, (64,), generator=g)
    logits[:, 3] = -1e9  # a masked action (multi-task envs) gets no gradient and no nan
    grad_log_prob = torch.randn(64, generator=g)
    leaf = logits.clone().requires_grad_()
    log_prob, entropy = Categorical.log_prob_entropy(leaf, actions)
    ((log_prob * grad_log_prob).sum() + 0.3 * entropy.sum()).backward()
    torch.testing.assert_close(Categorical.backward(logits, actions, grad_log_prob, 0.3), leaf.grad)


def test_gaussian_backward_equals_autograd():
    g = torch.Generator().manual_seed(2)
    mean, log_std = torch.randn(32, 3, generator=g), torch.randn(3, generator=g)
    actions, grad_log_prob = torch.randn(32, 3, generator=g), torch.randn(32, generator=g)
    leaves = (mean.clone().requires_grad_(), log_std.clone().requires_grad_())
    log_prob, entropy = DiagGaussian.log_prob_entropy(leaves, actions)
    ((log_prob * grad_log_prob).sum() - 0.2 * entropy.sum()).backward()
    got = DiagGaussian.backward((mean, log_std), actions, grad_log_prob, -0.2)
    for a, b in zip(got, leaves):
        torch.testing.assert_close(a, b.grad)


@pytest.mark.parametrize("action_space", [gym.spaces.Discrete(3), gym.spaces.Box(-1, 1, (2,), np.float32)])
def test_actor_critic_backprop_equals_autograd(action_space):
    torch.manual_seed(3)
    obs_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    net = ActorCritic(obs_space, action_space, (16, 16), normalize_obs=True)
    obs = torch.randn(32, 4)
    net.obs_norm.update(obs * 3 + 1)
    out_dim = action_space.n if net.discrete else action_space.shape[0]
    grad_out, grad_values = torch.randn(32, out_dim), torch.randn(32)

    def loss():
        params, values = net(obs)
        out = params if net.discrete else params[0]
        extra = 0 if net.discrete else (params[1] ** 2).sum()  # a gradient for log_std too
        return (out * grad_out).sum() + (values * grad_values).sum() + extra

    want = autograd_grads(net, loss)
    params, values, tape = net.forward_for_backprop(obs)
    grad_params = grad_out if net.discrete else (grad_out, 2 * net.log_std.detach())
    net.backprop(tape, grad_params, grad_values)
    for (name, p), w in zip(net.named_parameters(), want):
        torch.testing.assert_close(p.grad, w, msg=name)
