"""Many writer threads, a sampling thread and an updating thread hammering one
buffer at once, through the Python API (the GIL is released inside)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import flockrl

ROW = 512  # large rows make a copy slow enough to race its overwrite


def row_fields():
    return {"obs": ((ROW,), np.float32), "tag": ((), np.int64), "flag": ((4,), np.uint8)}


def batch_from(values):
    """Every field of row k is derived from values[k]: a torn row is detectable."""
    values = np.asarray(values, dtype=np.int64)
    return {
        "obs": np.repeat(values.astype(np.float32)[:, None], ROW, axis=1),
        "tag": values,
        "flag": np.repeat((values % 251).astype(np.uint8)[:, None], 4, axis=1),
    }


def check_rows(sample):
    tag = sample["tag"]
    assert np.all(sample["obs"] == tag.astype(np.float32)[:, None]), "torn obs"
    assert np.all(sample["flag"] == (tag % 251).astype(np.uint8)[:, None]), "torn flag"


@pytest.mark.parametrize("prioritized", [True, False])
def test_writers_sampler_and_updater_at_once(prioritized):
    cls = flockrl.PrioritizedReplayBuffer if prioritized else flockrl.ReplayBuffer
    buf = cls(256, row_fields(), seed=0)
    buf.add(**batch_from(np.arange(32)))
    stop = threading.Event()
    errors: list[BaseException] = []
    written = [0, 0, 0]
    samples = [0]

    def writer(w):
        rng = np.random.default_rng(w)
        next_value = 1_000_000 * (w + 1)
        try:
            while not stop.is_set():
                n = int(rng.integers(1, 64))
                kw = batch_from(np.arange(next_value, next_value + n) % 16_000_000)
                if prioritized:
                    kw["priorities"] = rng.uniform(0, 3, size=n)
                buf.add(**kw)
                next_value += n
                written[w] += n
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    def sampler():
        try:
            while not stop.is_set():
                s = buf.sample(64, 0.5) if prioritized else buf.sample(64)
                check_rows(s)
                if prioritized:
                    w = s["weights"]
                    assert np.all(w > 0) and np.all(w <= 1.0) and np.all(np.isfinite(w))
                samples[0] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def updater():
        rng = np.random.default_rng(9)
        try:
            while not stop.is_set():
                s = buf.sample(32, 0.4)
                check_rows(s)
                buf.update_priorities(s["handles"], rng.uniform(0, 5, size=32))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)] + [threading.Thread(target=sampler)]
    if prioritized:
        threads.append(threading.Thread(target=updater))
    for t in threads:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    st = buf.stats
    assert st["adds"] + st["dropped"] == 32 + sum(written)
    assert len(buf) == 256 and samples[0] > 10
    if prioritized:
        leaves, total, minimum = buf._core.tree_state()
        # Quiescent again: the tree equals its leaves, with no drift.
        assert total == pytest.approx(leaves.sum(), rel=1e-12)
        assert minimum == leaves[leaves > 0].min()
        assert st["updates"] > 0
    check_rows(buf.sample(256, 0.5) if prioritized else buf.sample(256))
