"""Replay of stacked frames (``frame_stack``): every sampled observation
equals, element for element, what a naive reference that stores every
stacked obs and next obs holds, over random episodes of random lengths,
zero- and first-frame padding, wrap-around, several writer threads,
n-step transitions, uniform and prioritized sampling and save/load; real
Atari streams; the memory target; evictions; and bad input."""

from __future__ import annotations

import threading
import time

import gymnasium as gym
import numpy as np
import pytest

import flockrl
from flockrl import NStepAccumulator, PrioritizedReplayBuffer, ReplayBuffer

K, H, W = 4, 7, 6
STACKS = ("obs", "next_obs")


def fields(frame=(H, W), stack=K):
    return {"obs": ((stack, *frame), np.uint8), "next_obs": ((stack, *frame), np.uint8), "id": ((), np.int64),
            "discount": ((), np.float32)}


class StackingEnv:
    """num_envs streams of random frames stacked K deep, as ALE stacks them:
    a reset gives a stack padded with zeros (or with its first frame),
    episodes end at random; a 'lost life' (no reset) continues the stack."""

    def __init__(self, num_envs, rng, padding="zero", end_probability=0.05):
        self.n, self.rng, self.padding, self.p = num_envs, rng, padding, end_probability
        self.stacks = np.zeros((num_envs, K, H, W), np.uint8)
        for i in range(num_envs):
            self._reset(i)

    def _reset(self, i):
        first = self.rng.integers(0, 256, (H, W), dtype=np.uint8)
        self.stacks[i] = 0 if self.padding == "zero" else first
        self.stacks[i, -1] = first

    def step(self):
        """(obs, next_obs, terminated): next_obs is the true last stack of an
        ended episode; self.stacks then holds the new episode's first."""
        obs = self.stacks.copy()
        self.stacks[:, :-1] = self.stacks[:, 1:]
        self.stacks[:, -1] = self.rng.integers(0, 256, (self.n, H, W), dtype=np.uint8)
        # Now and then a frame repeats, as static Atari screens do.
        repeat = self.rng.random(self.n) < 0.1
        self.stacks[repeat, -1] = self.stacks[repeat, -2]
        next_obs = self.stacks.copy()
        terminated = self.rng.random(self.n) < self.p
        for i in np.flatnonzero(terminated):
            self._reset(i)
        return obs, next_obs, terminated


def check_sample(buffer, reference, batch_size=128, **kwargs):
    batch = buffer.sample(batch_size, **kwargs)
    for j, item in enumerate(batch["id"]):
        obs, next_obs = reference[int(item)]
        np.testing.assert_array_equal(batch["obs"][j], obs, err_msg=f"item {item}")
        np.testing.assert_array_equal(batch["next_obs"][j], next_obs, err_msg=f"item {item}")
    return batch


def write_streams(buffer, reference, lock, rng, steps, num_envs, id_base, n_step=1, padding="zero"):
    """One writer: `steps` steps of num_envs streams, n-step transitions."""
    env = StackingEnv(num_envs, rng, padding)
    acc = NStepAccumulator(n_step, 0.9, num_envs)
    next_id = id_base
    for _ in range(steps):
        obs, next_obs, terminated = env.step()
        tr = acc.push(obs, np.zeros(num_envs, np.int64), np.ones(num_envs), next_obs, terminated,
                      np.zeros(num_envs, bool))
        count = len(tr["env"])
        if not count:
            continue
        ids = np.arange(next_id, next_id + count)
        next_id += count
        with lock:
            for j, item in enumerate(ids):
                reference[int(item)] = (tr["obs"][j].copy(), tr["next_obs"][j].copy())
        buffer.add(obs=tr["obs"], next_obs=tr["next_obs"], id=ids, discount=tr["discount"], env=tr["env"])


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("padding", ["zero", "first"])
def test_samples_equal_a_naive_reference(cls, n_step, padding):
    rng = np.random.default_rng(0)
    buffer = cls(300, fields(), frame_stack=STACKS, seed=1)
    reference = {}
    write_streams(buffer, reference, threading.Lock(), rng, steps=400, num_envs=5, id_base=0, n_step=n_step,
                  padding=padding)  # 2000 transitions through a 300-item ring: it wraps around
    assert len(buffer) == 300
    for _ in range(5):
        batch = check_sample(buffer, reference, **({"beta": 0.5} if cls is PrioritizedReplayBuffer else {}))
        if cls is PrioritizedReplayBuffer:
            buffer.update_priorities(batch["handles"], rng.uniform(0, 2, len(batch["id"])))
    stats = buffer.stats
    assert stats["evictions"] == 0
    # About one new frame per step, far fewer than the 2K of naive stacks.
    assert stats["frames"] < 1.3 * stats["adds"]


def test_several_writer_threads_and_a_sampler_concurrently():
    buffer = PrioritizedReplayBuffer(500, fields(), frame_stack=STACKS, seed=2)
    reference, lock = {}, threading.Lock()
    writers = [threading.Thread(target=write_streams, args=(buffer, reference, lock, np.random.default_rng(w), 300,
                                                            4, w * 10**6, 3)) for w in range(3)]
    for t in writers:
        t.start()
    checked = 0
    while any(t.is_alive() for t in writers) or checked == 0:
        time.sleep(0.002)  # let the writers run
        if len(buffer) >= 64:
            # Writers fill the reference before they add, so every item drawn is in it.
            check_sample(buffer, reference, 64, beta=0.4)
            checked += 1
    for t in writers:
        t.join()
    check_sample(buffer, reference, beta=0.4)
    assert checked > 0 and buffer.stats["evictions"] == 0


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_save_and_load_keep_every_frame(tmp_path, cls):
    rng = np.random.default_rng(3)
    buffer = cls(200, fields(), frame_stack=STACKS, seed=4)
    reference, lock = {}, threading.Lock()
    write_streams(buffer, reference, lock, rng, 150, 3, 0, 2)
    buffer.save(tmp_path / "frames.bin")
    restored = cls(200, fields(), frame_stack=STACKS, seed=5)
    restored.load(tmp_path / "frames.bin")
    check_sample(restored, reference)
    # Writing goes on after a load, the writer's memory of frames renewed.
    buffer.load(tmp_path / "frames.bin")
    write_streams(buffer, reference, lock, rng, 150, 3, 10**6, 2)
    check_sample(buffer, reference)
    with pytest.raises(ValueError, match="frame_capacity .* differs"):
        cls(200, fields(), frame_stack=STACKS, frame_capacity=999).load(tmp_path / "frames.bin")
    with pytest.raises(ValueError, match="differs"):
        cls(200, fields()).load(tmp_path / "frames.bin")  # a buffer without frame stacks


def test_real_atari_streams_through_an_actor():
    """ALE's own stacks (zero padding at a new game, stacks carried across
    lost lives) from an Actor with 3-step transitions."""
    pytest.importorskip("ale_py")
    torch = pytest.importorskip("torch")
    from flockrl.runtime.actor import Actor
    from flockrl.runtime.metrics import Metrics

    env = flockrl.make_vec("ALE/Breakout-v5", 4, seed=0, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    shape = env.single_observation_space.shape
    buffer = PrioritizedReplayBuffer(2000, {**fields(shape[1:], shape[0]), "action": ((), np.int64)},
                                     frame_stack=STACKS, seed=0)
    reference = {}
    rng = np.random.default_rng(0)

    class RandomPolicy:
        module = torch.nn.Linear(1, 1)

        def __call__(self, obs, env_steps):
            return rng.integers(0, 4, len(obs))

    def sink(tr):
        ids = np.arange(len(reference), len(reference) + len(tr["env"]))
        for j, item in enumerate(ids):
            reference[int(item)] = (tr["obs"][j].copy(), tr["next_obs"][j].copy())
        return buffer.add(obs=tr["obs"], next_obs=tr["next_obs"], id=ids, discount=tr["discount"],
                          action=tr["action"], env=tr["env"])

    actor = Actor(env, RandomPolicy(), None, sink, Metrics(), n_step=3, gamma=0.99)
    for _ in range(700):  # 2800 transitions, several games
        actor.step()
    env.close()
    for _ in range(4):
        check_sample(buffer, reference, beta=0.4)
    stats = buffer.stats
    assert stats["evictions"] == 0 and stats["frames"] < 1.05 * stats["adds"]


def test_a_million_atari_transitions_fit_the_target():
    atari = {"obs": ((4, 84, 84), np.uint8), "action": ((), np.int64), "reward": ((), np.float32),
             "next_obs": ((4, 84, 84), np.uint8), "discount": ((), np.float32)}
    naive = ReplayBuffer.nbytes_for(1_000_000, atari)
    framed = PrioritizedReplayBuffer.nbytes_for(1_000_000, atari, frame_stack=STACKS)
    assert naive > 56e9 and framed <= 7.5e9
    buffer = ReplayBuffer(10_000, atari, frame_stack=STACKS)  # what nbytes_for says is what it takes
    assert buffer.nbytes == ReplayBuffer.nbytes_for(10_000, atari, frame_stack=STACKS)


def test_too_few_frames_evict_items_and_never_return_wrong_frames():
    rng = np.random.default_rng(6)
    buffer = PrioritizedReplayBuffer(400, fields(), frame_stack=STACKS, frame_capacity=150, seed=7)
    reference = {}
    write_streams(buffer, reference, threading.Lock(), rng, 200, 2, 0)
    for _ in range(3):
        batch = check_sample(buffer, reference, 64, beta=0.4)
    assert buffer.stats["evictions"] > 0  # items whose frames were overwritten: drawn again, then never
    ids = set(int(i) for i in batch["id"])
    assert min(ids) >= max(reference) - 150  # only the newest transitions still have their frames


def test_bad_frame_stacks_are_clear_errors():
    with pytest.raises(ValueError, match="frame_stack: 'frames' is not a field"):
        ReplayBuffer(10, fields(), frame_stack=("frames",))
    with pytest.raises(ValueError, match="'id' must have shape \\(stack, ...frame\\)"):
        ReplayBuffer(10, fields(), frame_stack=("id",))
    with pytest.raises(ValueError, match="'next_obs' must have the shape and dtype of 'obs'"):
        ReplayBuffer(10, {**fields(), "next_obs": ((K, H, W + 1), np.uint8)}, frame_stack=STACKS)
    with pytest.raises(TypeError, match="frame_stack: expected a sequence of field names"):
        ReplayBuffer(10, fields(), frame_stack="obs")
    with pytest.raises(ValueError, match="frame_capacity: only a buffer with frame_stack has frames"):
        ReplayBuffer(10, fields(), frame_capacity=20)
    buffer = ReplayBuffer(10, fields(), frame_stack=STACKS)
    obs = np.zeros((2, K, H, W), np.uint8)
    with pytest.raises(ValueError, match=r"env: expected shape \(2,\), got \(3,\)"):
        buffer.add(obs=obs, next_obs=obs, id=[0, 1], discount=[1, 1], env=[0, 1, 2])
    with pytest.raises(ValueError, match=r"env\[1\] = -1: expected an env index"):
        buffer.add(obs=obs, next_obs=obs, id=[0, 1], discount=[1, 1], env=[0, -1])
    with pytest.raises(TypeError, match="env: expected integer env indices"):
        buffer.add(obs=obs, next_obs=obs, id=[0, 1], discount=[1, 1], env=[0.5, 1])
    assert len(buffer) == 0  # nothing went in
