"""Replay-buffer benchmarks: flockrl against cpprb (when it imports).

Run with ``python -m pytest benchmarks/ --benchmark-only``. Each buffer is
filled to its capacity first (``CAPACITY`` items, fewer for wide rows). One
round is a pass over a pool of ``POOL`` pre-drawn inputs:

* ``add``: ``POOL`` calls adding 64 transitions each, so transitions/s =
  ops/s * ``extra_info["transitions_per_round"]``;
* ``sample_update``: ``POOL`` times sample 256 (beta 0.4) and update those
  256 priorities, so batches/s = ops/s * ``extra_info["batches_per_round"]``.

Cases are grouped by operation and D, so each group compares the libraries
side by side. ``python -m flockrl.bench_replay`` has the full scenarios,
with 1M items, TorchRL and the threaded one.
"""

import gc

import pytest

from flockrl.bench_replay import (
    ADD,
    ADD_BATCH,
    CPPRB,
    FLOCKRL,
    PRIORITIZED,
    SAMPLE,
    add_pool,
    available,
    make_subject,
    priority_pool,
)

POOL = 16  # calls per round, each with its own pre-drawn input
DIMS = (4, 1024)
CAPACITY = {4: 100_000, 1024: 20_000}  # 20k rows of D=1024 take 160 MB


@pytest.fixture
def make_round():
    """Builds a filled prioritized buffer and returns a function making POOL
    calls of one operation on it; the buffer is freed after the test."""
    subjects = []

    def make(library, dim, op):
        if available(library, PRIORITIZED) is not None:
            pytest.skip(available(library, PRIORITIZED))
        subject = make_subject(library, PRIORITIZED, dim, CAPACITY[dim])
        subjects.append(subject)
        if op == ADD:
            call, inputs = subject.add, [subject.convert(b) for b in add_pool(dim, count=POOL)]
        else:
            call, inputs = subject.sample, [subject.convert_priorities(p) for p in priority_pool(count=POOL)]

        def one_round():
            for x in inputs:
                call(x)

        return one_round

    yield make
    subjects.clear()
    gc.collect()


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("library", (FLOCKRL, CPPRB))
def test_add(benchmark, make_round, library, dim):
    benchmark.group = f"add {ADD_BATCH}, D={dim}"
    benchmark.extra_info["transitions_per_round"] = POOL * ADD_BATCH
    benchmark(make_round(library, dim, ADD))


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("library", (FLOCKRL, CPPRB))
def test_sample_update(benchmark, make_round, library, dim):
    benchmark.group = f"sample+update 256, D={dim}"
    benchmark.extra_info["batches_per_round"] = POOL
    benchmark(make_round(library, dim, SAMPLE))
