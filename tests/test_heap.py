"""retain_freed_memory: after it, tensors allocated and freed over and over
reuse their pages instead of faulting fresh ones in, on the main thread and
on a thread's own malloc arena (where a learner or actor thread allocates).
Each case runs in a new interpreter: the setting lasts for the process."""

import platform
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")

ROUNDS, BLOCKS, PAGES_PER_BLOCK = 50, 10, 256  # ten 1 MiB tensors, 50 times

PROBE = textwrap.dedent(f"""
    import resource, sys, threading
    import torch
    from flockrl.runtime.heap import retain_freed_memory
    if sys.argv[1] == "retain":
        assert retain_freed_memory() and retain_freed_memory()
    faults = []
    def churn():
        def blocks():
            return [torch.ones({PAGES_PER_BLOCK} * 1024) for _ in range({BLOCKS})]  # every page written
        blocks()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range({ROUNDS}):
            blocks()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    if sys.argv[2] == "thread":
        worker = threading.Thread(target=churn)
        worker.start()
        worker.join()
    else:
        churn()
    print(faults[0])
""")


def page_faults(mode: str, where: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode, where], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.parametrize("where", ["main", "thread"])
def test_freed_tensors_reuse_their_pages(where):
    touched = ROUNDS * BLOCKS * PAGES_PER_BLOCK
    retained = page_faults("retain", where)
    assert retained < touched // 20, f"{retained} page faults for {touched} pages written"


def test_glibc_defaults_fault_them_in_again():
    """The contrast, on a thread's arena, where glibc's defaults fault on
    every round (the main heap's behaviour depends on where ASLR puts it:
    measured, 2 runs in 12 kept their pages there)."""
    touched = ROUNDS * BLOCKS * PAGES_PER_BLOCK
    assert page_faults("default", "thread") > touched // 2
