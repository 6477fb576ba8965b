"""The sync modes' invariants, with actor threads of very different speeds:
sync trains every update on one rollout per actor, all of the learner's
current version; bounded never lets a rollout lag more than max_lag
versions; async lets lag grow (the contrast shows the scenario does
produce lag)."""

import threading
import time

import pytest

from flockrl.runtime.sync import Closed, RolloutExchange


def run_scenario(mode, *, updates=30, max_lag=1, actor_seconds=(0.0, 0.0, 0.05), learner_seconds=0.005):
    """Actors with the given per-rollout times; a learner that 'trains' for
    learner_seconds per update (ten updates per slow rollout). Returns the list of gathered batches (lists of
    (actor, version, learner version at gather))."""
    exchange = RolloutExchange(mode, len(actor_seconds), max_lag=max_lag)
    store = {"version": 1}
    exchange.published(1)
    batches = []

    def actor(index):
        try:
            while True:
                version = exchange.begin(index, lambda: store["version"])
                time.sleep(actor_seconds[index])
                exchange.submit(index, {"actor": index, "version": version})
        except Closed:
            pass

    threads = [threading.Thread(target=actor, args=(i,), daemon=True) for i in range(len(actor_seconds))]
    for t in threads:
        t.start()
    try:
        while len(batches) < updates:
            rollouts = exchange.gather(1, timeout=5.0)
            assert rollouts is not None, "the learner starved"
            batches.append([(r["actor"], r["version"], exchange.version) for r in rollouts])
            time.sleep(learner_seconds)
            store["version"] += 1
            exchange.published(store["version"])
    finally:
        exchange.close()
        for t in threads:
            t.join(timeout=5.0)
    assert not any(t.is_alive() for t in threads), "close() left an actor waiting"
    return batches


def test_sync_one_rollout_per_actor_all_of_the_current_version():
    for batch in run_scenario("sync"):
        assert sorted(actor for actor, _, _ in batch) == [0, 1, 2]
        assert {version for _, version, _ in batch} == {batch[0][2]}


@pytest.mark.parametrize("max_lag", [1, 2])
def test_bounded_lag_never_exceeds_the_bound(max_lag):
    batches = run_scenario("bounded", max_lag=max_lag)
    lags = [learner - version for batch in batches for _, version, learner in batch]
    assert max(lags) <= max_lag
    assert any(actor == 2 for batch in batches for actor, _, _ in batch)  # the slow actor's data is used


def test_async_lets_the_slow_actor_lag():
    batches = run_scenario("async")
    slow_lags = [learner - version for batch in batches for actor, version, learner in batch if actor == 2]
    assert slow_lags and max(slow_lags) > 2


def test_bad_modes_are_rejected():
    with pytest.raises(ValueError, match="sync: expected one of sync, async, bounded, got 'fast'"):
        RolloutExchange("fast", 2)
    with pytest.raises(ValueError, match="max_lag: expected >= 1 for bounded"):
        RolloutExchange("bounded", 2, max_lag=0)


def test_close_wakes_the_learner():
    exchange = RolloutExchange("async", 1)
    threading.Timer(0.05, exchange.close).start()
    with pytest.raises(Closed):
        exchange.gather(1)
