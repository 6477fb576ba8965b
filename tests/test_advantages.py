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
