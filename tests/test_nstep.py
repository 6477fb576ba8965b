"""n-step transitions against a plain per-env Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from flockrl.nstep import NStepAccumulator


def reference_transitions(episodes_per_env, n, gamma):
    """episodes_per_env[e] = list of episodes; an episode = (steps, terminated)
    with steps = [(obs, action, reward, next_obs)]. Returns sorted tuples."""
    out = []
    for episodes in episodes_per_env:
        for steps, terminated in episodes:
            for t in range(len(steps)):
                m = min(n, len(steps) - t)
                ret = 0.0
                for k in range(m):
                    ret += gamma**k * steps[t + k][2]
                ends_episode = t + m == len(steps)
                discount = 0.0 if (ends_episode and terminated) else gamma**m
                out.append((steps[t][0], steps[t][1], ret, steps[t + m - 1][3], discount))
    return sorted(out)


def run_random(n, gamma, num_envs=5, steps=400, seed=0, invalid_after_end=True):
    rng = np.random.default_rng(seed)
    acc = NStepAccumulator(n, gamma, num_envs)
    episodes = [[] for _ in range(num_envs)]
    current = [[] for _ in range(num_envs)]
    emitted = []
    skip = np.zeros(num_envs, dtype=bool)
    for t in range(steps):
        obs = np.array([[e, t] for e in range(num_envs)], dtype=np.float32)  # unique id per step
        next_obs = obs + 0.5
        action = rng.integers(0, 4, size=num_envs)
        reward = rng.normal(size=num_envs)
        terminated = rng.random(num_envs) < 0.05
        truncated = ~terminated & (rng.random(num_envs) < 0.03)
        valid = ~skip if invalid_after_end else np.ones(num_envs, dtype=bool)
        out = acc.push(obs, action, reward, next_obs, terminated, truncated, valid=valid)
        np.testing.assert_array_equal(out["env"], out["obs"][:, 0])  # each transition's env (obs[0] is its id)
        emitted += [
            (tuple(o), a, r, tuple(no), d)
            for o, a, r, no, d in zip(out["obs"], out["action"], out["reward"], out["next_obs"], out["discount"])
        ]
        for e in range(num_envs):
            if not valid[e]:
                continue
            current[e].append((tuple(obs[e]), action[e], reward[e], tuple(next_obs[e])))
            if terminated[e] or truncated[e]:
                episodes[e].append((current[e], bool(terminated[e])))
                current[e] = []
        skip = valid & (terminated | truncated)
    return sorted(emitted), episodes, current, acc


@pytest.mark.parametrize("n", [1, 3, 5])
@pytest.mark.parametrize("gamma", [0.99, 0.5])
def test_matches_reference_across_episode_ends(n, gamma):
    emitted, episodes, current, acc = run_random(n, gamma, seed=n)
    # Unfinished episodes hold back their last < n steps; the reference
    # covers finished episodes plus the complete windows of unfinished ones.
    expected = reference_transitions(episodes, n, gamma)
    for e, steps in enumerate(current):
        if len(steps) >= n:
            partial = reference_transitions([[(steps, False)]], n, gamma)
            expected += [tr for tr in partial if tr[4] == gamma**n]  # only full-horizon windows are out yet
    expected.sort()
    assert len(emitted) == len(expected)
    assert acc.pending() == sum(min(len(s), n - 1) for s in current)
    for got, want in zip(emitted, expected):
        assert got[0] == want[0] and got[1] == want[1] and got[3] == want[3]
        assert got[2] == pytest.approx(want[2], rel=1e-12, abs=1e-12)
        assert got[4] == pytest.approx(want[4], rel=1e-15)


def test_terminal_stops_bootstrapping_and_truncation_does_not():
    acc = NStepAccumulator(3, 0.9, 2)
    step0 = np.array([[0.0], [10.0]])  # env 0 and env 1
    acc.push(step0, np.zeros(2), [1.0, 1.0], step0 + 1, [False, False], [False, False])
    out = acc.push(step0 + 1, np.zeros(2), [2.0, 2.0], step0 + 2, [True, False], [False, True])
    got = {float(o[0]): (r, float(no[0]), d) for o, r, no, d in zip(out["obs"], out["reward"], out["next_obs"], out["discount"])}
    assert got == {
        0.0: (pytest.approx(2.8), 2.0, 0.0),  # terminated: no bootstrap
        1.0: (pytest.approx(2.0), 2.0, 0.0),
        10.0: (pytest.approx(2.8), 12.0, pytest.approx(0.81)),  # truncated: bootstrap from the last obs
        11.0: (pytest.approx(2.0), 12.0, pytest.approx(0.9)),
    }
    assert acc.pending() == 0


def test_bad_input():
    with pytest.raises(ValueError, match="n: expected an int >= 1, got 0"):
        NStepAccumulator(0, 0.99, 2)
    with pytest.raises(ValueError, match="gamma: expected a number in \\[0, 1\\]"):
        NStepAccumulator(3, 1.5, 2)
    acc = NStepAccumulator(3, 0.99, 2)
    with pytest.raises(ValueError, match="reward: expected shape \\(2,\\), got \\(3,\\)"):
        acc.push(np.zeros((2, 4)), np.zeros(2), np.zeros(3), np.zeros((2, 4)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="leading dimension of 2"):
        acc.push(np.zeros((3, 4)), np.zeros(2), np.zeros(2), np.zeros((3, 4)), np.zeros(2), np.zeros(2))


def test_later_pushes_cannot_be_truncated_to_the_first_pushes_dtype():
    acc = NStepAccumulator(2, 0.9, 1)
    acc.push(np.zeros((1, 2), np.int64), np.zeros(1, np.int64), [0.0], np.zeros((1, 2), np.int64), [False], [False])
    with pytest.raises(TypeError, match="obs: expected dtype int64 as in the first push, got float64"):
        acc.push(np.full((1, 2), 0.7), np.zeros(1, np.int64), [0.0], np.full((1, 2), 0.7), [False], [False])
