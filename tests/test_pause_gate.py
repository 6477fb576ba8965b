"""The pause gate: a paused block runs only when no writer is inside a
passage, and writers wait while it runs."""

import threading
import time

from flockrl.runtime.pause_gate import PauseGate


def test_pause_waits_for_writers_and_holds_them_off():
    gate = PauseGate()
    inside, log = threading.Event(), []
    release = threading.Event()

    def writer():
        with gate.passage():
            inside.set()
            release.wait()
            log.append("write 1 done")
        with gate.passage():
            log.append("write 2")

    t = threading.Thread(target=writer)
    t.start()
    inside.wait()

    def learner():
        with gate.paused():
            log.append("paused")
            time.sleep(0.05)  # the writer, released meanwhile, must not enter its second passage
            log.append("resuming")

    p = threading.Thread(target=learner)
    p.start()
    time.sleep(0.05)
    assert log == []  # the pause waits for the writer inside
    release.set()
    p.join(5)
    t.join(5)
    assert log == ["write 1 done", "paused", "resuming", "write 2"]
