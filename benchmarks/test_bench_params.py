"""Parameter-store benchmarks: publish and pull against memcpy and
load_state_dict of the same weights, grouped by size.

Run with ``python -m pytest benchmarks/ --benchmark-only``; ``flockrl bench
params`` has the full comparison (100M, bf16, multiprocessing.shared_memory,
readers in other processes).
"""

import uuid

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.bench_params import make_model, num_params  # noqa: E402
from flockrl.params import ParamStore  # noqa: E402

SIZES = (1_000_000, 10_000_000)


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s // 1_000_000}M")
def models(request):
    return make_model(request.param, seed=0), make_model(request.param, seed=1)


@pytest.fixture
def stores(models):
    source, target = models
    store = ParamStore.create(f"bench-{uuid.uuid4().hex[:12]}", source)
    reader = ParamStore.attach(store.name, target)
    yield store, reader
    reader.close()
    store.close()


def _group(benchmark, models):
    benchmark.group = f"params {num_params(models[0]) / 1e6:.3g}M"


def test_memcpy(benchmark, models):
    _group(benchmark, models)
    n = num_params(models[0])
    src, dst = np.ones(n, np.float32), np.zeros(n, np.float32)
    benchmark(np.copyto, dst, src)


def test_flockrl_publish(benchmark, models, stores):
    _group(benchmark, models)
    benchmark(stores[0].publish, models[0])


def test_flockrl_pull(benchmark, models, stores):
    _group(benchmark, models)
    benchmark(stores[1].pull, models[1], newer_than=0)


def test_flockrl_pull_unchanged(benchmark, models, stores):
    _group(benchmark, models)
    stores[1].pull(models[1])
    assert benchmark(stores[1].pull, models[1]) is None


def test_load_state_dict_from_shared_memory(benchmark, models):
    _group(benchmark, models)
    shared = {k: v.clone().share_memory_() for k, v in models[0].state_dict().items()}
    benchmark(models[1].load_state_dict, shared)
