"""RatioGate (the Ray backend's samples-per-insert rule) against Reverb's
SampleToInsertRatio arithmetic, with timeouts of 0 so nothing waits."""

import threading

from flockrl.distributed.ratio_gate import RatioGate


def test_samples_wait_for_min_size_then_follow_the_ratio():
    gate = RatioGate(samples_per_insert=4.0, min_size=100, error_buffer=256.0)
    assert not gate.wait_sample(64, timeout=0)  # nothing inserted yet
    gate.inserted_(99)
    assert not gate.wait_sample(64, timeout=0)
    gate.inserted_(1)  # diff = 100 * 4 - 0 = 400 = the centre: a sample may take it down to 400 - 256
    assert gate.wait_sample(64, timeout=0) and gate.wait_sample(64, timeout=0) and gate.wait_sample(64, timeout=0)
    assert gate.sampled == 192
    assert not gate.wait_sample(128, timeout=0)  # 400 - 192 - 128 = 80 < 144
    assert gate.wait_sample(64, timeout=0)  # 400 - 256 = 144: just allowed
    assert gate.sampled == 256


def test_inserts_wait_when_too_far_ahead_of_sampling():
    gate = RatioGate(samples_per_insert=4.0, min_size=10, error_buffer=100.0)
    assert gate.wait_insert(1000, timeout=0)  # below min_size inserts always go
    gate.inserted_(10)  # diff = 40 = the centre; the bound is 140
    assert gate.wait_insert(25, timeout=0)  # 40 + 100 = 140
    assert not gate.wait_insert(26, timeout=0)
    gate.inserted_(25)  # diff = 140
    assert gate.wait_sample(100, timeout=0)  # diff 40
    assert gate.wait_insert(25, timeout=0)


def test_no_ratio_means_inserts_never_wait():
    gate = RatioGate(samples_per_insert=0.0, min_size=5, error_buffer=1.0)
    assert gate.wait_insert(10**9, timeout=0)
    assert not gate.wait_sample(8, timeout=0)
    gate.inserted_(5)
    assert gate.wait_sample(8, timeout=0) and gate.wait_sample(8, timeout=0)


def test_close_wakes_a_waiter_and_refuses_later_waits():
    gate = RatioGate(samples_per_insert=1.0, min_size=10, error_buffer=10.0)
    result = []
    waiter = threading.Thread(target=lambda: result.append(gate.wait_sample(1, timeout=30)))
    waiter.start()
    gate.close()
    waiter.join(timeout=10)
    assert result == [False]
    gate.inserted_(100)
    assert not gate.wait_sample(1, timeout=0) and not gate.wait_insert(1, timeout=0)


def test_an_insert_wakes_a_waiting_sample():
    gate = RatioGate(samples_per_insert=1.0, min_size=10, error_buffer=10.0)
    result = []
    waiter = threading.Thread(target=lambda: result.append(gate.wait_sample(1, timeout=30)))
    waiter.start()
    gate.inserted_(10)
    waiter.join(timeout=30)
    assert result == [True]
