"""NativeVecEnv as a gymnasium VectorEnv: spaces, seeding, buffers, threads,
async stepping, registration, the Python-env fallback and bad input."""

from __future__ import annotations

import os
import threading
import time

import gymnasium as gym
import numpy as np
import pytest

import flockrl


@pytest.mark.parametrize("env_id", flockrl.NATIVE_ENV_IDS)
def test_spaces_and_metadata_match_gymnasium(env_id):
    ref = gym.make(env_id)
    env = flockrl.make_vec(env_id, 5)
    assert env.single_observation_space == ref.observation_space
    assert env.single_action_space == ref.action_space
    assert env.observation_space == gym.vector.utils.batch_space(ref.observation_space, 5)
    assert env.action_space == gym.vector.utils.batch_space(ref.action_space, 5)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert env.max_episode_steps == ref.spec.max_episode_steps
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (5, *ref.observation_space.shape) and info == {}
    assert env.observation_space.contains(obs)
    env.close()
    assert env.closed


def test_gym_make_vec_reaches_the_native_env():
    env = gym.make_vec("flockrl/CartPole-v1", num_envs=3)
    assert isinstance(env, flockrl.NativeVecEnv)
    assert env.spec.id == "flockrl/CartPole-v1"
    ref = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
    np.testing.assert_array_equal(env.reset(seed=4)[0], ref.reset(seed=4)[0])


def test_seeding_semantics_match_gymnasium():
    ref = gym.make_vec("MountainCar-v0", num_envs=3, vectorization_mode="sync")
    env = flockrl.make_vec("MountainCar-v0", 3)
    # An int seeds env i with seed + i; a list seeds each env; None continues.
    np.testing.assert_array_equal(env.reset(seed=10)[0], ref.reset(seed=10)[0])
    np.testing.assert_array_equal(env.reset()[0], ref.reset()[0])
    np.testing.assert_array_equal(env.reset(seed=[7, None, 2**70])[0], ref.reset(seed=[7, None, 2**70])[0])
    # make_vec(seed=s) is the same as a first reset(seed=s).
    np.testing.assert_array_equal(flockrl.make_vec("MountainCar-v0", 3, seed=10).reset()[0], ref.reset(seed=10)[0])


def test_reset_mask_with_seed_reseeds_only_the_masked_envs():
    ref = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
    env = flockrl.make_vec("CartPole-v1", 3)
    np.testing.assert_array_equal(env.reset(seed=1)[0], ref.reset(seed=1)[0])
    mask = np.array([False, True, False])
    np.testing.assert_array_equal(
        env.reset(seed=50, options={"reset_mask": mask})[0], ref.reset(seed=50, options={"reset_mask": mask})[0]
    )
    # The unmasked envs kept their streams: their next resets agree too.
    np.testing.assert_array_equal(env.reset()[0], ref.reset()[0])


def test_a_rejected_reset_changes_nothing():
    env = flockrl.make_vec("CartPole-v1", 3, seed=0)
    twin = flockrl.make_vec("CartPole-v1", 3, seed=0)
    with pytest.raises(ValueError, match="first reset\\(\\) must reset every env"):
        env.reset(seed=99, options={"reset_mask": np.array([True, False, False])})
    np.testing.assert_array_equal(env.reset()[0], twin.reset()[0])
    with pytest.raises(ValueError, match="reset_mask: expected shape"):
        env.reset(seed=99, options={"reset_mask": np.ones(2, dtype=bool)})
    np.testing.assert_array_equal(env.reset()[0], twin.reset()[0])


def test_seed_list_with_none_never_means_a_fixed_seed():
    a = flockrl.make_vec("CartPole-v1", 2, seed=[5, None]).reset()[0]
    b = flockrl.make_vec("CartPole-v1", 2, seed=[5, None]).reset()[0]
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[1], b[1])
    c = flockrl.make_vec("CartPole-v1", 2).reset(seed=[None, 5])[0]
    d = flockrl.make_vec("CartPole-v1", 2).reset(seed=[None, 5])[0]
    np.testing.assert_array_equal(c[1], d[1])
    assert not np.array_equal(c[0], d[0])


def test_dropping_an_env_with_a_step_in_flight_is_safe():
    import gc

    for close_first in (False, True):
        env = flockrl.make_vec("Acrobot-v1", 200_000, seed=0, num_threads=2)
        env.reset()
        env.step_async(np.zeros(200_000, dtype=np.int64))
        if close_first:
            env.close()
        del env
        gc.collect()


def test_close_from_another_thread_while_waiting_is_refused_or_waits():
    env = flockrl.make_vec("Acrobot-v1", 100_000, seed=0, num_threads=2)
    env.reset()
    for _ in range(5):
        env.step_async(np.zeros(100_000, dtype=np.int64))
        outcome = []

        def closer():
            try:
                env.close()
                outcome.append("closed")
            except ValueError as e:
                outcome.append(str(e))

        t = threading.Thread(target=closer)
        waiter_error = None
        t.start()
        try:
            env.step_wait()
        except ValueError as e:
            waiter_error = str(e)
        t.join(timeout=60)
        assert not t.is_alive(), "close() and step_wait() deadlocked"
        if env.closed:
            return
        assert waiter_error is None and outcome and "another thread" in outcome[0]


def test_stepping_in_a_forked_child_works():
    """A forked child inherits the env but not the parent's worker threads."""
    import multiprocessing as mp

    env = flockrl.make_vec("CartPole-v1", 8192, seed=0, num_threads=2)
    env.reset()
    env.step(np.zeros(8192, dtype=np.int64))  # the parent's pool exists now

    def child():
        obs = env.step(np.zeros(8192, dtype=np.int64))[0]
        os._exit(0 if obs.shape == (8192, 4) else 1)

    proc = mp.get_context("fork").Process(target=child)
    proc.start()
    proc.join(timeout=60)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the forked child hung stepping an inherited env")
    assert proc.exitcode == 0
    env.step(np.zeros(8192, dtype=np.int64))  # the parent's pool still works


def test_unseeded_envs_differ():
    a = flockrl.make_vec("CartPole-v1", 2).reset()[0]
    b = flockrl.make_vec("CartPole-v1", 2).reset()[0]
    assert not np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


def test_results_do_not_depend_on_the_number_of_threads():
    n = 4096  # large enough for the stepper to split across threads
    actions = np.random.default_rng(0).integers(0, 3, size=(300, n))
    outs = []
    for threads in (1, 2, 3):
        env = flockrl.make_vec("Acrobot-v1", n, seed=1, num_threads=threads)
        obs = [env.reset()[0]]
        for a in actions:
            step = env.step(a)
            obs.append(np.concatenate([step[0], step[1][:, None], step[2][:, None], step[3][:, None]], axis=1))
        outs.append(np.stack(obs[1:]))
        assert env.num_threads == threads
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


@pytest.mark.parametrize("copy", [True, False])
def test_step_async_equals_step(copy):
    n = 8192
    sync = flockrl.make_vec("CartPole-v1", n, seed=3, num_threads=2)
    asyn = flockrl.make_vec("CartPole-v1", n, seed=3, num_threads=2, copy=copy)
    sync.reset()
    asyn.reset()
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = rng.integers(0, 2, size=n)
        expected = sync.step(a)
        asyn.step_async(a)
        a[:] = 1 - a  # the env copied the actions: changing them now must not matter
        got = asyn.step_wait()
        for x, y in zip(expected[:4], got[:4]):
            np.testing.assert_array_equal(x, y)


def test_step_async_state_machine_raises_on_misuse():
    env = flockrl.make_vec("CartPole-v1", 2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="no step in flight"):
        env.step_wait()
    env.step_async(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="in flight"):
        env.step_async(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="in flight"):
        env.step(np.zeros(2, dtype=np.int64))
    env.step_wait()
    with pytest.raises(ValueError, match="no step in flight"):
        env.step_wait()
    env.step_async(np.zeros(2, dtype=np.int64))
    env.close()  # waits for the step in flight
    with pytest.raises(ValueError, match="closed"):
        env.step(np.zeros(2, dtype=np.int64))


def test_copy_false_reuses_two_buffers():
    env = flockrl.make_vec("CartPole-v1", 4, seed=0, copy=False)
    env.reset()
    a = np.zeros(4, dtype=np.int64)
    first, second, third = (env.step(a)[0] for _ in range(3))
    assert first is third and first is not second
    env_copy = flockrl.make_vec("CartPole-v1", 4, seed=0)
    env_copy.reset()
    outs = [env_copy.step(a)[0] for _ in range(2)]
    assert outs[0] is not outs[1] and not np.shares_memory(outs[0], outs[1])


class _SlowArray:
    """An action batch whose conversion runs Python code (and may switch threads)."""

    def __init__(self, n):
        self.n = n

    def __array__(self, dtype=None, copy=None):
        time.sleep(0.001)  # give other threads the GIL mid-conversion
        return np.zeros(self.n, dtype=np.int64)


def hammer_from_threads(env, make_actions, calls, threads=3):
    """Step `env` from several threads at once; returns (steps, error messages)."""
    errors, steps = [], []

    def hammer():
        for _ in range(calls):
            try:
                env.step(make_actions())
                steps.append(1)
            except ValueError as e:
                errors.append(str(e))

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert len(steps) + len(errors) == threads * calls and steps
    assert all("another thread" in e for e in errors)
    return steps, errors


def test_threads_switching_during_action_conversion_get_an_error_not_a_race():
    env = flockrl.make_vec("CartPole-v1", 8192, seed=0, num_threads=2)
    env.reset()
    _, errors = hammer_from_threads(env, lambda: _SlowArray(8192), calls=20)
    assert errors  # the conversion lets other threads in while the env is busy


def test_two_threads_on_one_env_get_an_error_not_a_race():
    env = flockrl.make_vec("Acrobot-v1", 20000, seed=0, num_threads=1)
    env.reset()
    a = np.zeros(20000, dtype=np.int64)
    hammer_from_threads(env, lambda: a, calls=30)


def test_python_envs_are_delegated_to_gymnasium():
    env = flockrl.make_vec("FrozenLake-v1", 2, seed=3)  # not native: gymnasium's SyncVectorEnv
    ref = gym.make_vec("FrozenLake-v1", num_envs=2, vectorization_mode="sync")
    np.testing.assert_array_equal(env.reset()[0], ref.reset(seed=3)[0])
    for a in np.random.default_rng(0).integers(0, 4, size=(50, 2)):
        np.testing.assert_array_equal(env.step(a)[0], ref.step(a)[0])


# --- bad input: clear errors naming what was expected and what was given ---


def make(env_id="CartPole-v1", n=4, **kw):
    env = flockrl.make_vec(env_id, n, seed=0, **kw)
    env.reset()
    return env


@pytest.mark.parametrize(
    ("actions", "error", "message"),
    [
        (np.zeros(4, dtype=np.float32), TypeError, "expected an integer array for Discrete\\(2\\).*float32"),
        (np.zeros(3, dtype=np.int64), ValueError, "expected shape \\(4,\\), got \\(3,\\)"),
        (np.zeros((4, 1), dtype=np.int64), ValueError, "expected shape \\(4,\\), got \\(4, 1\\)"),
        (np.array([0, 1, 2, 0]), ValueError, "actions\\[2\\] = 2: expected an action of Discrete\\(2\\)"),
        (np.array([0, -1, 0, 0]), ValueError, "actions\\[1\\] = -1"),
        (np.zeros(4, dtype=bool), TypeError, "integer array"),
        ("left", TypeError, "integer array"),
        (object(), TypeError, "integer array"),
    ],
)
def test_bad_discrete_actions(actions, error, message):
    env = make()
    before = env.step(np.zeros(4, dtype=np.int64))[0]
    with pytest.raises(error, match=message):
        env.step(actions)
    # A rejected batch changes nothing: the next step continues from `before`.
    ref = make()
    ref.step(np.zeros(4, dtype=np.int64))
    np.testing.assert_array_equal(env.step(np.ones(4, dtype=np.int64))[0], ref.step(np.ones(4, dtype=np.int64))[0])
    assert before.shape == (4, 4)


@pytest.mark.parametrize(
    ("actions", "error", "message"),
    [
        (np.array([[0.0], [np.nan]], dtype=np.float32), ValueError, "actions\\[1\\] = \\[nan\\]: expected finite"),
        (np.array([[np.inf], [0.0]], dtype=np.float32), ValueError, "actions\\[0\\] = \\[inf\\]"),
        (np.zeros(2, dtype=np.float32), ValueError, "expected shape \\(2, 1\\), got \\(2,\\)"),
        (np.zeros((2, 1), dtype=np.int64), TypeError, "expected a float32 array"),
    ],
)
def test_bad_continuous_actions(actions, error, message):
    env = make("Pendulum-v1", 2)
    with pytest.raises(error, match=message):
        env.step(actions)


def test_integer_actions_of_any_width_and_lists_are_accepted():
    env = make()
    for a in (np.zeros(4, dtype=np.int32), np.zeros(4, dtype=np.uint8), [0, 1, 0, 1]):
        env.step(a)


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_continuous_actions_must_be_float32(dtype):
    """gymnasium computes in float64 with float64 actions: a silent cast would
    change the trajectory, so anything but the space's float32 is refused."""
    env = make("Pendulum-v1", 2)
    with pytest.raises(TypeError, match="expected a float32 array for Pendulum-v1's Box\\(float32\\) actions"):
        env.step(np.full((2, 1), 0.3, dtype=dtype))


def test_uint64_actions_beyond_int64_are_reported_as_given():
    env = make()
    with pytest.raises(ValueError, match="actions\\[1\\] = 18446744073709551615: expected an action of Discrete"):
        env.step(np.array([0, 2**64 - 1, 0, 0], dtype=np.uint64))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"env_id": "CartPole-v9"}, ValueError, "expected a native env \\(CartPole-v1, MountainCar-v0"),
        ({"num_envs": 0}, ValueError, "num_envs: expected an int in \\[1, 2147483647\\], got 0"),
        ({"num_envs": 2**70}, ValueError, "num_envs: expected an int in"),
        ({"num_envs": 2.5}, TypeError, "num_envs: expected an int"),
        ({"num_threads": 0}, ValueError, "num_threads: expected an int in \\[1, 1024\\], got 0"),
        ({"num_threads": 2.5}, TypeError, "num_threads: expected an int, got float"),
        ({"num_threads": "2"}, TypeError, "num_threads: expected an int, got str"),
        ({"autoreset_mode": "sometimes"}, ValueError, "autoreset_mode: expected one of"),
        ({"seed": -1}, ValueError, "expected a non-negative int, got -1"),
        ({"seed": 1.5}, TypeError, "seed: expected None, an int or a list"),
    ],
)
def test_bad_construction(kwargs, error, message):
    args = {"env_id": "CartPole-v1", "num_envs": 2, **kwargs}
    with pytest.raises(error, match=message):
        flockrl.make_vec(args.pop("env_id"), args.pop("num_envs"), **args)


def test_bad_reset_and_order_of_calls():
    env = flockrl.make_vec("CartPole-v1", 3, seed=0)
    with pytest.raises(ValueError, match="call reset\\(\\) before the first step"):
        env.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="first reset\\(\\) must reset every env"):
        env.reset(options={"reset_mask": np.array([True, False, False])})
    env.reset()
    with pytest.raises(ValueError, match="expected a list of 3 seeds, got 2"):
        env.reset(seed=[1, 2])
    with pytest.raises(TypeError, match="seed\\[1\\]: expected a non-negative int or None, got str"):
        env.reset(seed=[1, "2", 3])
    with pytest.raises(ValueError, match="accept only 'reset_mask', got \\['low'\\]"):
        env.reset(options={"low": -0.1})
    with pytest.raises(TypeError, match="reset_mask'\\]: expected a numpy array, got list"):
        env.reset(options={"reset_mask": [True, False, True]})
    with pytest.raises(TypeError, match="reset_mask: expected dtype bool, got int64"):
        env.reset(options={"reset_mask": np.ones(3, dtype=np.int64)})
    with pytest.raises(ValueError, match="reset_mask: expected shape \\(3,\\), got \\(2,\\)"):
        env.reset(options={"reset_mask": np.ones(2, dtype=bool)})
    with pytest.raises(ValueError, match="at least one True"):
        env.reset(options={"reset_mask": np.zeros(3, dtype=bool)})
    env.close()
    env.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        env.reset()


def test_unknown_python_env_id_lists_native_ids():
    with pytest.raises(ValueError, match="expected a native env \\(CartPole-v1.*got 'NoSuchEnv-v0'"):
        flockrl.make_vec("NoSuchEnv-v0", 2)
