"""flush_denormals: denormal floats become zero inside the block, on the
calling thread (and threads it starts), and the previous setting comes back."""

import threading

import pytest

torch = pytest.importorskip("torch")

from flockrl.runtime.denormals import denormals_flushed, flush_denormals  # noqa: E402

SMALLEST_DENORMAL = 1.4e-45  # float32 bit pattern 1


def test_flushes_inside_and_restores_after():
    assert not denormals_flushed()
    x = torch.tensor([SMALLEST_DENORMAL], dtype=torch.float32)
    assert x.item() > 0.0
    with flush_denormals():
        assert denormals_flushed()
        assert (x * 1.0).item() == 0.0
    assert not denormals_flushed()
    assert (x * 1.0).item() > 0.0


def test_keeps_a_setting_made_before():
    torch.set_flush_denormal(True)
    try:
        with flush_denormals():
            pass
        assert denormals_flushed()
    finally:
        torch.set_flush_denormal(False)


def test_running_threads_keep_their_setting_and_new_ones_inherit():
    seen, entered = [], threading.Event()

    def check() -> None:
        entered.wait()
        seen.append(denormals_flushed())

    running = threading.Thread(target=check)
    running.start()
    with flush_denormals():
        entered.set()
        running.join()
        started_inside = threading.Thread(target=check)  # POSIX threads inherit the FP environment
        started_inside.start()
        started_inside.join()
    assert seen == [False, True]
