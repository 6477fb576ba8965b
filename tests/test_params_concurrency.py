"""Torn-read checks for the parameter store: a writer publishes continuously,
every version a pattern derived from its number; readers in other processes
(and in threads) pull thousands of snapshots and check every word of each."""

import os
import subprocess
import sys
import textwrap
import threading
import uuid

import pytest

from flockrl import ParamStore

SIZES = (3, 1000, 65537, 250_000)  # float32 words per tensor, 1.3 MB per snapshot

PATTERN = """
import numpy as np

SIZES = {sizes!r}
BASE = [np.random.default_rng(i).integers(0, 2**32, n, dtype=np.uint32) for i, n in enumerate(SIZES)]

def key(v):
    return np.uint32((v * 0x9E3779B97F4A7C15 >> 32) & 0xFFFFFFFF)

def fill(tensors, v):
    for t, base in zip(tensors.values(), BASE):
        np.bitwise_xor(base, key(v), out=t.view(np.uint32))
        t.view(np.uint32)[:] &= 0x3FFFFFFF  # no NaN patterns

def torn_tensor(tensors, v):
    for i, (t, base) in enumerate(zip(tensors.values(), BASE)):
        if not np.array_equal(t.view(np.uint32), (base ^ key(v)) & 0x3FFFFFFF):
            return i
    return None

def empty():
    return {{f"t{{i}}": np.zeros(n, np.float32) for i, n in enumerate(SIZES)}}
""".format(sizes=SIZES)

WRITER = PATTERN + """
import sys
from flockrl import ParamStore
tensors = empty()
fill(tensors, 1)
store = ParamStore.create(sys.argv[1], tensors, num_buffers=int(sys.argv[2]))
print("ready", flush=True)
import select
v = 1
while not select.select([sys.stdin], [], [], 0)[0]:  # until the parent writes or closes stdin
    v += 1
    fill(tensors, v)
    assert store.publish(tensors) == v
store.close()
print(v, flush=True)
"""

READER = PATTERN + """
import sys, time
from flockrl import ParamStore
tensors = empty()
store = ParamStore.attach(sys.argv[1], tensors)
want, verified, last, deadline = int(sys.argv[2]), 0, 0, time.monotonic() + 300
while verified < want and time.monotonic() < deadline:
    v = store.pull(tensors)
    if v is None:
        continue
    assert v > last, (v, last)
    bad = torn_tensor(tensors, v)
    if bad is not None:
        print(f"torn snapshot: version {v}, tensor {bad}", flush=True)
        sys.exit(1)
    verified, last = verified + 1, v
print(verified, store.stats["retries"], flush=True)
"""


def spawn(code, *args):
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("num_buffers", [2, 3])
def test_reader_processes_never_see_a_torn_snapshot(num_buffers):
    name = f"test-torn-{uuid.uuid4().hex[:12]}"
    want = 1000
    writer = spawn(WRITER, name, num_buffers)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        readers = [spawn(READER, name, want) for _ in range(3)]
        results = [r.communicate(timeout=600) for r in readers]
        for r, (out, err) in zip(readers, results):
            assert r.returncode == 0, out + err
            verified, _retries = map(int, out.split())
            assert verified == want, out
    finally:
        out, err = writer.communicate(input="stop\n", timeout=600)
    assert writer.returncode == 0, err
    assert int(out) > want  # the writer kept publishing while readers checked
    assert not os.path.exists(f"/dev/shm/flockrl.{name}")


def test_reader_threads_never_see_a_torn_snapshot():
    scope: dict = {}
    exec(PATTERN, scope)  # the same pattern helpers, in-process
    fill, torn_tensor, empty = scope["fill"], scope["torn_tensor"], scope["empty"]
    name = f"test-torn-threads-{uuid.uuid4().hex[:12]}"
    tensors = empty()
    fill(tensors, 1)
    store = ParamStore.create(name, tensors, num_buffers=2)
    stop = threading.Event()
    failures: list = []
    counts: list = []

    def read():
        mine = empty()
        reader = ParamStore.attach(name, mine)  # one handle per thread, as actors have
        verified = 0
        while verified < 500 and not stop.is_set():
            v = reader.pull(mine)
            if v is not None:
                bad = torn_tensor(mine, v)
                if bad is not None:
                    failures.append((v, bad))
                    return
                verified += 1
        counts.append(verified)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    v = 1
    while any(t.is_alive() for t in threads) and v < 200_000:
        v += 1
        fill(tensors, v)
        store.publish(tensors)
    stop.set()
    for t in threads:
        t.join()
    store.close()
    assert not failures
    assert counts == [500, 500, 500]
