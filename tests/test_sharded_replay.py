"""Replay sharded over Ray actors against one buffer's math: items drawn
with probability p_i^alpha / (sum over every shard), weights normalised by
the smallest p^alpha of any shard, priorities routed back to the right
shard, and a killed shard restored from its saved state."""

import io
import os
import signal

import numpy as np
import pytest
from scipy import stats

from flockrl.distributed.sharded_replay import ReplayShard, ShardedReplay, stratified_counts

ALPHA, EPS = 0.6, 1e-6
FIELDS = {"id": ((), np.int64), "reward": ((), np.float32)}


def test_stratified_counts_are_proportional_and_tight():
    rng = np.random.default_rng(0)
    weights = np.array([5.0, 0.0, 1.0, 2.5, 0.5])
    batch = 64
    counts = np.array([stratified_counts(weights, batch, rng) for _ in range(20_000)])
    assert (counts.sum(axis=1) == batch).all()
    assert (counts[:, 1] == 0).all()  # an empty shard is never drawn from
    expected = batch * weights / weights.sum()
    np.testing.assert_allclose(counts.mean(axis=0), expected, atol=0.05)
    assert (np.abs(counts - expected) < 2).all()  # stratified: never far from the expectation


def _shards(ray, sizes, priorities, tmp_path=None):
    """Shards holding items 0..sum(sizes)-1 with the given priorities."""
    remote = ray.remote(ReplayShard).options(num_cpus=0, max_restarts=-1)
    shards, start = [], 0
    for k, size in enumerate(sizes):
        path = None if tmp_path is None else str(tmp_path / f"replay.bin.{k}")
        shard = remote.remote(k, 1000, FIELDS, True, ALPHA, k, path, False)
        ids = np.arange(start, start + size)
        ray.get(shard.add.remote({"id": ids, "reward": np.zeros(size, np.float32)}, priorities[ids]))
        shards.append(shard)
        start += size
    return shards


def test_sampling_probabilities_equal_one_buffer_over_all_shards(ray_cluster):
    ray = ray_cluster
    rng = np.random.default_rng(1)
    sizes = [10, 30, 20]  # the shards' masses are far from proportional to their sizes
    priorities = np.concatenate([rng.uniform(5, 10, 10), rng.uniform(0, 1, 30), rng.uniform(1, 3, 20)])
    replay = ShardedReplay(ray, _shards(ray, sizes, priorities), prioritized=True, seed=0, log=None)
    draws = np.concatenate([replay.sample(64, beta=0.5)["id"] for _ in range(300)])
    mass = (priorities + EPS) ** ALPHA
    expected = mass / mass.sum() * len(draws)
    observed = np.bincount(draws, minlength=len(priorities))
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # Size-proportional shard draws (the obvious mistake) would fail the same test.
    by_size = np.concatenate([mass[s:e] / mass[s:e].sum() * n for s, e, n in
                              zip([0, 10, 40], [10, 40, 60], np.array(sizes) / 60 * len(draws))])
    assert stats.chisquare(observed, by_size).pvalue < 1e-6


def test_weights_are_normalised_by_the_smallest_priority_of_any_shard(ray_cluster):
    ray = ray_cluster
    priorities = np.array([4.0, 2.0, 8.0, 0.5, 3.0, 6.0])
    replay = ShardedReplay(ray, _shards(ray, [3, 3], priorities), prioritized=True, seed=2, log=None)
    beta = 0.7
    batch = replay.sample(32, beta=beta)
    mass = (priorities + EPS) ** ALPHA
    np.testing.assert_allclose(batch["weights"], (mass.min() / mass[batch["id"]]) ** beta, rtol=1e-12)
    assert batch["handles"].shape == (32, 2)
    assert set(batch["handles"][:, 0]) <= {0, 1}
    assert "masses" not in batch


def test_priority_updates_reach_the_shard_that_holds_the_item(ray_cluster):
    ray = ray_cluster
    priorities = np.ones(8)
    shards = _shards(ray, [4, 4], priorities)
    replay = ShardedReplay(ray, shards, prioritized=True, seed=3, log=None)
    batch = replay.sample(16, beta=0.4)
    new = priorities.copy()
    new[batch["id"]] = batch["id"] + 1.0  # item i gets priority i + 1 (duplicates agree)
    replay.update_priorities(batch["handles"], batch["id"] + 1.0)
    replay.sample(1)  # sends the updates, applied before the shards draw
    for k, shard in enumerate(shards):
        total, least, size, _ = ray.get(shard.mass.remote())
        mine = (new[4 * k:4 * k + 4] + EPS) ** ALPHA
        assert size == 4
        assert total == pytest.approx(mine.sum(), rel=1e-12)
        assert least == pytest.approx(mine.min(), rel=1e-12)


def test_uniform_shards_sample_every_item_equally(ray_cluster):
    ray = ray_cluster
    remote = ray.remote(ReplayShard).options(num_cpus=0)
    shards = [remote.remote(k, 100, FIELDS, False, 0.0, k, None, False) for k in range(2)]
    ray.get(shards[0].add.remote({"id": np.arange(5), "reward": np.zeros(5, np.float32)}, None))
    ray.get(shards[1].add.remote({"id": np.arange(5, 25), "reward": np.zeros(20, np.float32)}, None))
    replay = ShardedReplay(ray, shards, prioritized=False, seed=4, log=None)
    draws = np.concatenate([replay.sample(50)["id"] for _ in range(200)])
    assert stats.chisquare(np.bincount(draws, minlength=25)).pvalue > 1e-3
    assert "weights" not in replay.sample(8)


def test_a_killed_shard_comes_back_with_its_saved_items(ray_cluster, tmp_path):
    ray = ray_cluster
    priorities = np.arange(1.0, 11.0)
    shards = _shards(ray, [6, 4], priorities, tmp_path)
    log = io.StringIO()
    replay = ShardedReplay(ray, shards, prioritized=True, seed=5, log=log)
    assert replay.save(tmp_path / "replay.bin") == 10
    ray.get(shards[1].add.remote({"id": np.array([99]), "reward": np.zeros(1, np.float32)}, np.array([1.0])))
    replay.sample(8)  # the learner has seen the shard's process
    pid = ray.get(shards[1].info.remote())["pid"]
    os.kill(pid, signal.SIGKILL)  # the shard's process dies; Ray restarts it
    draws = np.concatenate([replay.sample(64)["id"] for _ in range(20)])
    assert replay.restarts == 1
    assert "replay shard 1 died and was restarted by Ray with 4 items (its last saved state)" in log.getvalue()
    info = ray.get(shards[1].info.remote())
    assert info["restarted"] and info["restored"] == 4 and info["size"] == 4  # item 99 came after the save
    assert set(draws) == set(range(10))
