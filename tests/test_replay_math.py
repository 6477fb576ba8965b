"""Prioritized replay against the paper's formulas, computed in NumPy.

Schaul et al. 2016: P(i) = p_i^a / sum_k p_k^a, stratified sampling over B
equal segments of the total, IS weights (N P(i))^-b normalised by the
whole-buffer maximum (N P_min)^-b.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import flockrl

FIELDS = {"obs": ((2,), np.float32), "act": ((), np.int64)}
ALPHA, EPS = 0.6, 1e-3


def filled_buffer(priorities, capacity=None, seed=0):
    n = len(priorities)
    buf = flockrl.PrioritizedReplayBuffer(capacity or n, FIELDS, alpha=ALPHA, eps=EPS, seed=seed)
    obs = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)
    buf.add(obs=obs, act=np.arange(n), priorities=np.asarray(priorities, dtype=np.float64))
    return buf


def reference_probabilities(priorities):
    leaves = (np.asarray(priorities, dtype=np.float64) + EPS) ** ALPHA
    return leaves / leaves.sum()


def slots_of(sample):
    return sample["act"]  # act = the insertion index, which is the slot while nothing wrapped


def test_sampling_frequencies_match_p_i():
    rng = np.random.default_rng(0)
    priorities = rng.pareto(1.0, size=64) * 10  # heavily skewed
    buf = filled_buffer(priorities)
    counts = np.zeros(64)
    for _ in range(400):
        np.add.at(counts, slots_of(buf.sample(256, beta=0.4)), 1)
    expected = reference_probabilities(priorities) * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # And a wrong distribution (uniform) is clearly rejected by the same test.
    assert stats.chisquare(counts, np.full(64, counts.sum() / 64)).pvalue < 1e-12


def test_importance_weights_equal_the_numpy_reference():
    rng = np.random.default_rng(1)
    priorities = rng.uniform(0, 5, size=100)
    buf = filled_buffer(priorities)
    for beta in (0.0, 0.4, 1.0):
        s = buf.sample(64, beta=beta)
        probs = reference_probabilities(priorities)
        n = len(priorities)
        expected = (n * probs[slots_of(s)]) ** -beta / (n * probs.min()) ** -beta
        np.testing.assert_allclose(s["weights"], expected, rtol=1e-12, atol=0)
        assert s["weights"].dtype == np.float64 and s["weights"].max() <= 1.0


def test_stratified_draws_fall_in_their_segments():
    rng = np.random.default_rng(2)
    priorities = rng.uniform(0, 1, size=1000)
    buf = filled_buffer(priorities)
    leaves = (priorities + EPS) ** ALPHA
    upper = np.cumsum(leaves)
    lower = upper - leaves
    total = upper[-1]
    for batch in (1, 7, 256):
        s = slots_of(buf.sample(batch))
        seg_lo = np.arange(batch) * total / batch
        seg_hi = (np.arange(batch) + 1) * total / batch
        # Item i's mass interval [lower, upper) meets segment i.
        assert np.all(lower[s] < seg_hi * (1 + 1e-12)) and np.all(upper[s] > seg_lo * (1 - 1e-12)), batch


def test_rows_come_back_intact():
    buf = filled_buffer(np.ones(50))
    s = buf.sample(200)
    np.testing.assert_array_equal(s["obs"][:, 0], s["act"])
    np.testing.assert_array_equal(s["obs"][:, 1], -s["act"])


def test_tree_sums_equal_recomputed_sums_after_many_updates():
    rng = np.random.default_rng(3)
    initial = rng.uniform(0, 1, size=512)
    buf = filled_buffer(initial, capacity=600)
    truth = np.zeros(600)
    truth[:512] = (initial + EPS) ** ALPHA
    for _ in range(300):
        s = buf.sample(32)
        p = rng.uniform(0, 10, size=32)
        assert buf.update_priorities(s["handles"], p) == 0
        for slot, value in zip(slots_of(s), p):  # last of duplicates wins
            truth[slot] = (value + EPS) ** ALPHA
    leaves, total, minimum = buf._core.tree_state()
    np.testing.assert_allclose(leaves, truth, rtol=1e-14)
    assert total == pytest.approx(truth.sum(), rel=1e-13)
    assert minimum == pytest.approx(truth[:512].min(), rel=1e-14)  # empty slots do not count


def test_new_items_get_the_raw_max_priority_seen():
    buf = filled_buffer([0.5, 0.25])
    s = buf.sample(2)
    buf.update_priorities(s["handles"][:1], [7.0])
    assert buf.max_priority == 7.0 + EPS
    buf2 = flockrl.PrioritizedReplayBuffer(4, FIELDS, alpha=ALPHA, eps=EPS, seed=0)
    buf2.add(obs=np.zeros((1, 2), np.float32), act=np.array([0]))
    assert buf2._core.tree_state()[0][0] == 1.0  # initial max priority 1, 1**alpha
    buf2.update_priorities(buf2.sample(1)["handles"], [7.0])
    buf2.add(obs=np.zeros((1, 2), np.float32), act=np.array([1]))
    # alpha applied once to the raw maximum (TorchRL #3925 applied it twice)
    assert buf2._core.tree_state()[0][1] == pytest.approx((7.0 + EPS) ** ALPHA, rel=1e-15)


def test_stale_handles_are_skipped_and_counted():
    buf = flockrl.PrioritizedReplayBuffer(4, FIELDS, alpha=ALPHA, eps=EPS, seed=0)
    buf.add(obs=np.zeros((4, 2), np.float32), act=np.arange(4))
    old = buf.sample(8)["handles"]
    buf.add(obs=np.ones((2, 2), np.float32), act=np.array([10, 11]))  # overwrites slots 0, 1
    before = buf._core.tree_state()[0].copy()
    stale_expected = int(np.sum((old & (2**47 - 1)) < 2))
    assert buf.update_priorities(old, np.full(8, 100.0)) == stale_expected
    leaves = buf._core.tree_state()[0]
    np.testing.assert_array_equal(leaves[:2], before[:2])  # the new items kept their priority
    assert buf.stats["stale_updates"] == stale_expected


def test_uniform_buffer_samples_uniformly_over_filled_items():
    buf = flockrl.ReplayBuffer(100, FIELDS, seed=0)
    buf.add(obs=np.zeros((60, 2), np.float32), act=np.arange(60))
    counts = np.bincount(np.concatenate([buf.sample(256)["act"] for _ in range(200)]), minlength=100)
    assert counts[60:].sum() == 0
    assert stats.chisquare(counts[:60]).pvalue > 1e-3


def test_sampling_is_reproducible_with_a_seed():
    a = filled_buffer(np.arange(1, 20.0), seed=42)
    b = filled_buffer(np.arange(1, 20.0), seed=42)
    c = filled_buffer(np.arange(1, 20.0), seed=43)
    sa, sb, sc = (x.sample(16)["act"] for x in (a, b, c))
    np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(sa, sc)
