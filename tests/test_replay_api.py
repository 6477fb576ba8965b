"""Replay buffer construction, sizes and bad input: clear errors, never UB."""

from __future__ import annotations

import numpy as np
import pytest

import flockrl

FIELDS = {"obs": ((4,), np.float32), "act": ((), np.int64), "rew": ((), np.float32), "done": ((), bool)}


def batch(n, **over):
    b = {
        "obs": np.zeros((n, 4), np.float32),
        "act": np.zeros(n, np.int64),
        "rew": np.zeros(n, np.float32),
        "done": np.zeros(n, bool),
    }
    b.update(over)
    return b


def test_nbytes_is_known_before_allocating():
    # 4 floats + int64 + float + bool, each row padded to 8-byte words: 16 + 8 + 8 + 8 = 40.
    uniform = flockrl.ReplayBuffer.nbytes_for(1000, FIELDS)
    assert uniform == 1000 * 40 + 1000 * 8  # rows + slot words
    # 7 words are padded to 8 so that a row never straddles two cache lines
    wider = {**FIELDS, "next_obs": ((4,), np.float32)}
    assert flockrl.ReplayBuffer.nbytes_for(1000, wider) == 1000 * 64 + 1000 * 8
    prio = flockrl.PrioritizedReplayBuffer.nbytes_for(1000, FIELDS)
    # + an 8-ary tree, each level padded to groups of 8: sums over 1000 leaves
    # and 125, 16, 2, 1 nodes (1000 + 128 + 16 + 8 + 8), mins over the internal ones
    assert prio == uniform + (1160 + 160) * 8
    assert flockrl.PrioritizedReplayBuffer(1000, FIELDS).nbytes == prio


def test_add_casts_compatible_dtypes_and_accepts_lists():
    buf = flockrl.ReplayBuffer(10, FIELDS, seed=0)
    buf.add(obs=np.ones((2, 4)), act=[1, 2], rew=[0.5, 1.5], done=[True, False])  # float64 -> float32 is same-kind
    s = buf.sample(20)
    assert s["obs"].dtype == np.float32 and s["act"].dtype == np.int64 and s["done"].dtype == np.bool_
    assert set(s["act"]) == {1, 2}
    assert len(buf) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (batch(2, act=np.zeros(2, np.float32)), TypeError, "act: expected dtype int64 .* got float32"),
        (batch(2, obs=np.zeros((2, 3), np.float32)), ValueError, "obs: expected shape \\('batch', 4\\), got \\(2, 3\\)"),
        (batch(2, rew=np.zeros(3, np.float32)), ValueError, "rew: expected the batch size of obs \\(2\\), got 3"),
        ({k: v for k, v in batch(2).items() if k != "done"}, ValueError, "missing \\['done'\\]"),
        (batch(2, extra=np.zeros(2)), ValueError, "unknown \\['extra'\\]"),
        (batch(11), ValueError, "expected a batch of 1 to capacity=10 items, got 11"),
        (batch(0), ValueError, "got 0"),
        (batch(2, done=np.zeros(2, np.float32)), TypeError, "done: expected dtype bool"),
    ],
)
def test_bad_add(kwargs, error, message):
    buf = flockrl.PrioritizedReplayBuffer(10, FIELDS, seed=0)
    with pytest.raises(error, match=message):
        buf.add(**kwargs)
    assert len(buf) == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0])
def test_bad_priorities(bad):
    buf = flockrl.PrioritizedReplayBuffer(10, FIELDS, seed=0)
    with pytest.raises(ValueError, match="priorities\\[1\\] = .*expected a finite number >= 0"):
        buf.add(priorities=[1.0, bad], **batch(2))
    buf.add(**batch(2))
    s = buf.sample(2)
    with pytest.raises(ValueError, match="priorities\\[0\\] = .*expected a finite number >= 0"):
        buf.update_priorities(s["handles"], [bad, 1.0])
    with pytest.raises(ValueError, match="priorities: expected shape \\(2,\\)"):
        buf.update_priorities(s["handles"], [1.0])
    with pytest.raises(ValueError, match="priorities: expected shape \\(2,\\)"):
        buf.add(priorities=[1.0], **batch(2))


def test_foreign_and_forged_handles_are_rejected():
    a = flockrl.PrioritizedReplayBuffer(10, FIELDS, seed=0)
    b = flockrl.PrioritizedReplayBuffer(10, FIELDS, seed=0)
    a.add(**batch(3))
    b.add(**batch(3))
    hb = b.sample(4)["handles"]
    with pytest.raises(ValueError, match="handles\\[0\\] = .* was not issued by this buffer"):
        a.update_priorities(hb, np.ones(4))
    ha = a.sample(2)["handles"]
    with pytest.raises(ValueError, match="not issued"):
        a.update_priorities(ha + 100, np.ones(2))  # a position never written
    with pytest.raises(ValueError, match="not issued"):
        a.update_priorities(np.array([-1, 0]), np.ones(2))
    with pytest.raises(TypeError, match="handles: expected the int64 handles"):
        a.update_priorities(ha.astype(np.float64), np.ones(2))
    assert a.update_priorities(np.zeros(0, np.int64), np.zeros(0)) == 0


def test_bad_sample_and_construction():
    buf = flockrl.PrioritizedReplayBuffer(10, FIELDS, seed=0)
    with pytest.raises(ValueError, match="the buffer is empty"):
        buf.sample(4)
    buf.add(**batch(1))
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1, got 0"):
        buf.sample(0)
    with pytest.raises(ValueError, match="beta: expected a finite number >= 0"):
        buf.sample(2, beta=-1)
    with pytest.raises(TypeError, match="priorities= needs a PrioritizedReplayBuffer"):
        flockrl.ReplayBuffer(10, FIELDS).add(priorities=[1.0], **batch(1))
    for fields, error, message in [
        ({}, TypeError, "non-empty dict"),
        ({"obs": (4,)}, TypeError, "expected a \\(shape, dtype\\) pair"),
        ({"obs": ((4,), np.complex64)}, TypeError, "expected a dtype among float32"),
        ({"obs": ((0,), np.float32)}, ValueError, "positive dimensions"),
        ({"weights": ((), np.float32)}, ValueError, "names must be identifiers other than"),
    ]:
        with pytest.raises(error, match=message):
            flockrl.ReplayBuffer(10, fields)
    with pytest.raises(ValueError, match="capacity: expected an int >= 1, got 0"):
        flockrl.ReplayBuffer(0, FIELDS)
    with pytest.raises(ValueError, match="alpha: expected a finite number >= 0"):
        flockrl.PrioritizedReplayBuffer(10, FIELDS, alpha=float("nan"))
    with pytest.raises(ValueError, match="seed: expected None or an int"):
        flockrl.ReplayBuffer(10, FIELDS, seed=-3)


def test_priorities_that_would_break_the_sums_are_refused():
    big = flockrl.PrioritizedReplayBuffer(4, FIELDS, alpha=1.0, eps=0.0, seed=0)
    with pytest.raises(ValueError, match="overflows the sum of priorities"):
        big.add(priorities=[1e308], **batch(1))
    tiny = flockrl.PrioritizedReplayBuffer(4, FIELDS, alpha=2.0, eps=0.0, seed=0)
    with pytest.raises(ValueError, match="underflows to 0"):
        tiny.add(priorities=[1e-200], **batch(1))
    zero = flockrl.PrioritizedReplayBuffer(4, FIELDS, eps=0.0, seed=0)
    zero.add(priorities=[0.0, 0.0], **batch(2))
    with pytest.raises(ValueError, match="every priority is 0"):
        zero.sample(2)


def test_stale_updates_do_not_raise_the_max_priority():
    buf = flockrl.PrioritizedReplayBuffer(2, FIELDS, eps=0.0, seed=0)
    buf.add(**batch(2))
    old = buf.sample(2)["handles"]
    buf.add(**batch(2))  # overwrites both
    assert buf.update_priorities(old, [1e6, 1e6]) == 2
    assert buf.max_priority == 1.0


def test_inputs_are_never_silently_reinterpreted():
    buf = flockrl.ReplayBuffer(10, {"x": ((2,), np.float32), "i": ((), np.int32)}, seed=0)
    # Big-endian float32 has the same numpy type number: it must be converted, not copied raw.
    buf.add(x=np.array([[1.0, 2.0]], dtype=">f4"), i=np.array([7], dtype=np.int32))
    np.testing.assert_array_equal(buf.sample(1)["x"], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="i: values outside int32's range"):
        buf.add(x=np.zeros((1, 2), np.float32), i=np.array([2**40 + 5]))
    with pytest.raises(TypeError, match="batch_size: expected an int, got float"):
        buf.sample(2.7)
    with pytest.raises(TypeError, match="unexpected keyword argument 'rate_limter'"):
        flockrl.ReplayBuffer(10, FIELDS, rate_limter=None)
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpha'"):
        flockrl.ReplayBuffer(10, FIELDS, alpha=0.5)
    with pytest.raises(TypeError, match="expected a \\(shape, dtype\\) pair"):
        flockrl.ReplayBuffer(10, {"x": ((4.9,), np.float32)})
    with pytest.raises(ValueError, match="names must be identifiers other than"):
        flockrl.ReplayBuffer(10, {"timeout": ((), np.float32)})
    with pytest.raises(ValueError, match="too large to address"):
        flockrl.ReplayBuffer(3, {"x": ((2**62,), np.float32)})
    with pytest.raises(ValueError, match="path: expected a non-empty file name without NUL"):
        buf.save("bad\0name")


def test_weights_never_exceed_one():
    rng = np.random.default_rng(0)
    buf = flockrl.PrioritizedReplayBuffer(100, FIELDS, seed=0)
    buf.add(priorities=rng.uniform(0, 5, 100), **batch(100))
    for _ in range(50):
        s = buf.sample(32, beta=1.0)
        assert np.all(s["weights"] <= 1.0) and np.all(np.isfinite(s["weights"]))
        buf.update_priorities(s["handles"], rng.uniform(0, 5, 32))
