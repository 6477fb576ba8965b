"""GAE against a reference written from the definition, not the recursion:
A_t = sum_l (gamma*lambda)^l delta_{t+l}, stopping at the episode's end."""

import numpy as np
import pytest

from flockrl.algos.advantages import gae


def gae_by_definition(rewards, values, dones, last_values, gamma, lam):
    T, N = rewards.shape
    advantages = np.zeros((T, N))
    for i in range(N):
        def value_after(t):  # V(s_{t+1}), zero past an episode's end
            if dones[t, i]:
                return 0.0
            return last_values[i] if t == T - 1 else values[t + 1, i]

        deltas = [rewards[t, i] + gamma * value_after(t) - values[t, i] for t in range(T)]
        for t in range(T):
            total, weight = 0.0, 1.0
            for k in range(t, T):
                total += weight * deltas[k]
                if dones[k, i]:
                    break
                weight *= gamma * lam
            advantages[t, i] = total
    return advantages


@pytest.mark.parametrize("lam", [0.0, 0.8, 1.0])
def test_gae_matches_the_definition(lam):
    rng = np.random.default_rng(1)
    T, N = 17, 5
    rewards, values, last = rng.normal(size=(T, N)), rng.normal(size=(T, N)), rng.normal(size=N)
    dones = rng.random((T, N)) < 0.15
    dones[-1, 0] = True  # an episode ending on the rollout's last step
    advantages, returns = gae(rewards, values, dones, last, 0.97, lam)
    expected = gae_by_definition(rewards, values, dones, last, 0.97, lam)
    np.testing.assert_allclose(advantages, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(returns, expected + values, rtol=1e-5, atol=1e-5)
    assert advantages.dtype == np.float32 and returns.dtype == np.float32


def test_gae_extremes_are_td_error_and_monte_carlo():
    rewards = np.array([[1.0], [2.0], [3.0]])
    values = np.array([[0.5], [0.25], [0.125]])
    dones = np.array([[False], [False], [True]])
    last = np.array([100.0])  # ignored: the episode ended
    td, _ = gae(rewards, values, dones, last, 0.5, 0.0)
    np.testing.assert_allclose(td[:, 0], [1 + 0.5 * 0.25 - 0.5, 2 + 0.5 * 0.125 - 0.25, 3 - 0.125])
    _, mc = gae(rewards, values, dones, last, 0.5, 1.0)
    np.testing.assert_allclose(mc[:, 0], [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3])


def test_gae_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"one \[T, N\] shape"):
        gae(np.zeros((3, 2)), np.zeros((3, 1)), np.zeros((3, 2), bool), np.zeros(2), 0.9, 0.9)
    with pytest.raises(ValueError, match=r"last_values of shape \(2,\), got \(3,\)"):
        gae(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2), bool), np.zeros(3), 0.9, 0.9)


def vtrace_by_definition(mu, pi, rewards, values, dones, last_values, gamma, rho_bar, c_bar):
    """v_s = V(x_s) + sum_{t>=s} gamma^{t-s} (prod_{i=s}^{t-1} c_i) delta_t,
    the sum stopping at an episode's end (Espeholt et al. 2018, eq. 1)."""
    T, N = rewards.shape
    ratio = np.exp(pi - mu)
    rho, c = np.minimum(rho_bar, ratio), np.minimum(c_bar, ratio)
    vs, adv = np.zeros((T, N)), np.zeros((T, N))
    for i in range(N):
        def v_next(t):
            return 0.0 if dones[t, i] else (last_values[i] if t == T - 1 else values[t + 1, i])

        delta = [rho[t, i] * (rewards[t, i] + gamma * v_next(t) - values[t, i]) for t in range(T)]
        for s in range(T):
            total, weight = 0.0, 1.0
            for t in range(s, T):
                total += weight * delta[t]
                if dones[t, i]:
                    break
                weight *= gamma * c[t, i]
            vs[s, i] = values[s, i] + total
        for s in range(T):
            if dones[s, i]:
                nxt = 0.0
            else:
                nxt = last_values[i] if s == T - 1 else vs[s + 1, i]
            adv[s, i] = rho[s, i] * (rewards[s, i] + gamma * nxt - values[s, i])
    return vs, adv


@pytest.mark.parametrize("rho_bar, c_bar", [(1.0, 1.0), (2.0, 0.5)])
def test_vtrace_matches_the_definition(rho_bar, c_bar):
    torch = pytest.importorskip("torch")
    from flockrl.algos.advantages import vtrace

    rng = np.random.default_rng(2)
    T, N = 9, 4
    mu, pi = rng.normal(size=(T, N)) - 1, rng.normal(size=(T, N)) - 1  # log-probs, ratios on both sides of 1
    rewards, values, last = rng.normal(size=(T, N)), rng.normal(size=(T, N)), rng.normal(size=N)
    dones = rng.random((T, N)) < 0.2
    got = vtrace(*(torch.from_numpy(x) for x in (mu, pi, rewards, values, dones, last)), 0.95, rho_bar, c_bar)
    want = vtrace_by_definition(mu, pi, rewards, values, dones, last, 0.95, rho_bar, c_bar)
    np.testing.assert_allclose(got[0].numpy(), want[0], rtol=1e-10)
    np.testing.assert_allclose(got[1].numpy(), want[1], rtol=1e-10)


def test_vtrace_on_policy_is_the_n_step_return():
    torch = pytest.importorskip("torch")
    from flockrl.algos.advantages import vtrace

    rng = np.random.default_rng(3)
    T, N = 6, 3
    logp = rng.normal(size=(T, N))
    rewards, values, last = rng.normal(size=(T, N)), rng.normal(size=(T, N)), rng.normal(size=N)
    dones = rng.random((T, N)) < 0.2
    vs, _ = vtrace(*(torch.from_numpy(x) for x in (logp, logp, rewards, values, dones, last)), 0.9)
    _, returns = gae(rewards, values, dones, last, 0.9, 1.0)
    np.testing.assert_allclose(vs.numpy(), returns, rtol=1e-5, atol=1e-5)
