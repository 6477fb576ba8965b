"""Replay checkpoints: a round trip restores everything, and bad files fail
cleanly without touching the buffer."""

from __future__ import annotations

import os

import numpy as np
import pytest

import flockrl
from flockrl import SampleToInsertRatio

FIELDS = {"obs": ((3,), np.float32), "act": ((), np.int64), "done": ((), bool)}


def filled(capacity=50, n=80, seed=0, **kw):
    buf = flockrl.PrioritizedReplayBuffer(capacity, FIELDS, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    for start in range(0, n, 16):  # wraps: overwritten slots, generations > 0
        k = min(16, n - start)
        buf.add(
            obs=rng.standard_normal((k, 3)).astype(np.float32),
            act=np.arange(start, start + k),
            done=rng.random(k) < 0.2,
            priorities=rng.uniform(0, 4, k),
        )
    s = buf.sample(20)
    buf.update_priorities(s["handles"], rng.uniform(0, 9, 20))
    return buf


POSITION = 2**47 - 1  # the insertion-number bits of a handle


def same_samples(a, b, n=5):
    """Identical draws: the same items (by insertion number), rows and weights."""
    for _ in range(n):
        if isinstance(a, flockrl.PrioritizedReplayBuffer):
            sa, sb = a.sample(32, beta=0.7), b.sample(32, beta=0.7)
        else:
            sa, sb = a.sample(32), b.sample(32)
        for key in sa:
            if key == "handles":
                np.testing.assert_array_equal(sa[key] & POSITION, sb[key] & POSITION)
            else:
                np.testing.assert_array_equal(sa[key], sb[key])


def test_round_trip_restores_items_priorities_counters_and_the_stream(tmp_path):
    original = filled()
    path = tmp_path / "replay.bin"
    original.save(path)
    restored = flockrl.PrioritizedReplayBuffer(50, FIELDS, seed=123)
    restored.load(path)
    assert len(restored) == len(original) == 50
    assert restored.stats == original.stats
    assert restored.max_priority == original.max_priority
    leaves_a, total_a, min_a = original._core.tree_state()
    leaves_b, total_b, min_b = restored._core.tree_state()
    np.testing.assert_array_equal(leaves_a, leaves_b)
    assert (total_a, min_a) == (total_b, min_b)
    # The same sampling stream: a resumed run draws exactly what it would have.
    same_samples(original, restored)
    # Handles issued before the load are refused (they may name items of
    # another timeline); handles drawn after it work.
    old = original.sample(4)["handles"]
    new = restored.sample(4)["handles"]
    np.testing.assert_array_equal(old & POSITION, new & POSITION)
    with pytest.raises(ValueError, match="was not issued by this buffer"):
        restored.update_priorities(old, np.ones(4))
    assert restored.update_priorities(new, np.ones(4)) == 0
    original.update_priorities(old, np.ones(4))
    # And adds continue at the same position.
    for buf in (original, restored):
        buf.add(obs=np.zeros((3, 3), np.float32), act=np.array([7, 8, 9]), done=np.zeros(3, bool))
    same_samples(original, restored)


def test_uniform_and_rate_limited_buffers_round_trip(tmp_path):
    limiter = SampleToInsertRatio(2.0, 10, 100.0)
    a = flockrl.ReplayBuffer(60, FIELDS, seed=1, rate_limiter=limiter)
    a.add(obs=np.ones((20, 3), np.float32), act=np.arange(20), done=np.zeros(20, bool))
    a.sample(8)
    a.save(tmp_path / "u.bin")
    b = flockrl.ReplayBuffer(60, FIELDS, seed=2, rate_limiter=limiter)
    b.load(tmp_path / "u.bin")
    assert b.stats == a.stats
    # The limiter's counts came along: 20 inserts and 8 samples make diff 32,
    # so an add of 48 (+96) would pass max_diff 2 * 10 + 100 = 120; from zero
    # counts it fits.
    fresh = flockrl.ReplayBuffer(60, FIELDS, seed=2, rate_limiter=limiter)
    batch = {"obs": np.ones((48, 3), np.float32), "act": np.arange(48), "done": np.zeros(48, bool)}
    assert not b.add(timeout=0, **batch)
    assert fresh.add(timeout=0, **batch)
    same_samples(a, b, n=2)


def test_truncated_and_foreign_files_fail_cleanly(tmp_path):
    buf = filled()
    path = tmp_path / "replay.bin"
    buf.save(path)
    data = path.read_bytes()
    target = filled(seed=5)
    before = target.sample(8)["handles"]
    for bad, message in [
        (data[: len(data) // 2], "truncated or corrupt"),
        (data[:-1] + bytes([data[-1] ^ 1]), "truncated or corrupt"),
        (b"not a checkpoint at all, just some bytes", "not a flockrl replay checkpoint"),
        (b"", "not a flockrl replay checkpoint"),
    ]:
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=message):
            target.load(path)
    # Nothing changed: the same handles are still valid and the length is intact.
    assert target.update_priorities(before, np.ones(8)) == 0 and len(target) == 50
    with pytest.raises(OSError, match="cannot read"):
        target.load(tmp_path / "missing.bin")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: flockrl.PrioritizedReplayBuffer(51, FIELDS), "capacity differs: the checkpoint has 50, this buffer 51"),
        (lambda: flockrl.ReplayBuffer(50, FIELDS), "kind differs: the checkpoint has prioritized, this buffer uniform"),
        (lambda: flockrl.PrioritizedReplayBuffer(50, FIELDS, alpha=0.7), "alpha differs"),
        (
            lambda: flockrl.PrioritizedReplayBuffer(50, {**FIELDS, "act": ((), np.int32)}),
            "dtype of 'act' differs",
        ),
        (lambda: flockrl.PrioritizedReplayBuffer(50, {"obs": ((3,), np.float32)}), "number of fields differs"),
    ],
)
def test_incompatible_buffers_are_named(tmp_path, make, message):
    filled().save(tmp_path / "r.bin")
    with pytest.raises(ValueError, match=message):
        make().load(tmp_path / "r.bin")


def test_a_failed_save_leaves_the_previous_file_and_no_temporary(tmp_path):
    """The second save runs out of room (a file size limit) half way."""
    import resource
    import subprocess
    import sys

    path = tmp_path / "replay.bin"
    filled(seed=1).save(path)
    first = path.read_bytes()
    script = (
        "import resource, signal, sys, numpy as np, flockrl\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(first) // 2}, {len(first) // 2}))\n"
        "b = flockrl.PrioritizedReplayBuffer(50, {'obs': ((3,), np.float32), 'act': ((), np.int64), 'done': ((), bool)})\n"
        "b.add(obs=np.ones((50, 3), np.float32), act=np.arange(50), done=np.zeros(50, bool))\n"
        "try:\n"
        f"    b.save({str(path)!r})\n"
        "except OSError:\n"
        "    sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 3, result.stderr
    assert path.read_bytes() == first
    assert os.listdir(tmp_path) == ["replay.bin"]
    assert resource  # the child sets the limit; this process keeps its own
