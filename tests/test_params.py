"""ParamStore: round trips, reduced precision against torch's own rounding,
layout checks, lifecycle (close, crash reclaim, Ctrl-C, fork) and
permissions. Cross-process torn-read checks live in test_params_concurrency.py."""

import gc
import os
import signal
import stat
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl import ParamStore  # noqa: E402


@pytest.fixture
def name():
    n = f"test-{uuid.uuid4().hex[:12]}"
    yield n
    gc.collect()  # a test that failed midway leaves nothing behind
    path = f"/dev/shm/flockrl.{n}"
    if os.path.exists(path):
        os.unlink(path)


def make_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Linear(32, 3)
    )


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k


def test_round_trip_includes_buffers(name):
    learner, actor = make_net(0), make_net(1)
    learner.train()
    learner(torch.randn(16, 4))  # moves BatchNorm statistics and num_batches_tracked
    with ParamStore.create(name, learner) as store:
        assert store.version == 1 and store.is_owner
        reader = ParamStore.attach(name, actor)
        assert not reader.is_owner
        assert reader.pull(actor) == 1
        assert_same_state(learner, actor)
        assert "1.running_mean" in reader.tensor_names and "1.num_batches_tracked" in reader.tensor_names


def test_pull_copies_only_newer_versions(name):
    learner, actor = make_net(0), make_net(1)
    store = ParamStore.create(name, learner)
    reader = ParamStore.attach(name, actor)
    assert reader.pull(actor) == 1
    assert reader.pull(actor) is None  # nothing newer
    with torch.no_grad():
        for p in learner.parameters():
            p.add_(1.0)
    assert store.publish(learner) == 2
    with torch.no_grad():
        actor[0].weight.zero_()
    assert reader.pull(actor, newer_than=2) is None
    assert actor[0].weight.abs().sum() == 0  # untouched when nothing was copied
    assert reader.pull(actor) == 2
    assert_same_state(learner, actor)
    # Another module pulled through the same handle has its own memory.
    other = make_net(2)
    assert reader.pull(other) == 2
    assert reader.pull(other) is None
    assert reader.pull(other, newer_than=0) == 2
    store.close()


def test_numpy_mapping_and_non_contiguous_tensors(name):
    src = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "t": torch.arange(6.0).reshape(2, 3).t()}
    assert not src["t"].is_contiguous()
    store = ParamStore.create(name, src)
    dst = {"w": np.zeros((3, 4), np.float32), "t": torch.zeros(3, 2).t().contiguous().t()}
    assert not dst["t"].is_contiguous()
    reader = ParamStore.attach(name, dst)
    assert reader.pull(dst) == 1
    np.testing.assert_array_equal(dst["w"], src["w"])
    assert torch.equal(dst["t"], src["t"])
    dst["w"].setflags(write=False)
    store.publish(src)
    with pytest.raises(ValueError, match="read-only"):
        reader.pull(dst)
    store.close()


SPECIALS = np.array(
    [0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, 1e-40, -1e-45, 3.4e38, 65504.0, 65520.0, 1e-8,
     1.00390625, 1.01171875, 1.0009765625, 1.00048828125, 1.00146484375, 6.1e-5, 5.96e-8],
    dtype=np.float32,
)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_matches_torch_rounding(name, dtype):
    gen = torch.Generator().manual_seed(0)
    values = torch.cat(
        [torch.from_numpy(SPECIALS), torch.randn(100_000, generator=gen) * 100,
         torch.randint(-(2**31), 2**31 - 1, (100_000,), generator=gen, dtype=torch.int32).view(torch.float32)]
    )
    src = {"x": values, "steps": torch.tensor([7, 8], dtype=torch.int64), "h": values[:10].double()}
    store = ParamStore.create(name, src, broadcast_dtype=dtype)
    assert store.nbytes == values.numel() * 2 + 16 + 80  # float32 halved, others raw
    dst = {"x": torch.zeros_like(values), "steps": torch.zeros(2, dtype=torch.int64), "h": torch.zeros(10).double()}
    reader = ParamStore.attach(name, dst)
    assert reader.pull(dst) == 1
    expected = values.to(dtype).float()
    same = (dst["x"].view(torch.int32) == expected.view(torch.int32)) | (dst["x"].isnan() & expected.isnan())
    assert bool(same.all()), dst["x"][~same][:5]
    if dtype == torch.bfloat16:  # torch's bfloat16 NaN is 0x7FC0 whatever the payload
        assert bool((dst["x"][expected.isnan()].view(torch.int32) == 0x7FC00000).all())
    assert torch.equal(dst["steps"], src["steps"])
    assert torch.equal(dst["h"].view(torch.int64), src["h"].view(torch.int64))
    store.close()


def test_broadcast_dtype_is_checked(name):
    with pytest.raises(ValueError, match="broadcast_dtype"):
        ParamStore.create(name, make_net(), broadcast_dtype=torch.float64)


def test_layout_mismatch_names_the_first_differing_tensor(name):
    store = ParamStore.create(name, make_net())
    wider = torch.nn.Sequential(
        torch.nn.Linear(4, 33), torch.nn.BatchNorm1d(33), torch.nn.ReLU(), torch.nn.Linear(33, 3)
    )
    with pytest.raises(ValueError, match=r"tensor '0.weight': the store has shape \(32, 4\) float32, "
                                         r"the module has shape \(33, 4\) float32"):
        ParamStore.attach(name, wider)
    with pytest.raises(ValueError, match="'0.weight'.*float32.*float64"):
        ParamStore.attach(name, make_net().double())
    shorter = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.BatchNorm1d(32))
    with pytest.raises(ValueError, match="the module lacks tensor '3.weight'"):
        ParamStore.attach(name, shorter)
    longer = torch.nn.Sequential(*make_net(), torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="the module has tensor '4.weight' that the store lacks"):
        ParamStore.attach(name, longer)
    # Publishing a different module is refused the same way.
    with pytest.raises(ValueError, match="'0.weight'"):
        store.publish(wider)
    store.close()


def test_bad_arguments(name):
    with pytest.raises(FileNotFoundError, match="no shared-memory segment"):
        ParamStore.attach(name, make_net())
    for bad in ["", "a/b", ".hidden", "x" * 201, "sp ace"]:
        with pytest.raises(ValueError, match="shared-memory name"):
            ParamStore.create(bad, make_net())
    with pytest.raises(TypeError, match="name: expected a str"):
        ParamStore.create(3, make_net())
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module or a mapping"):
        ParamStore.create(name, [torch.zeros(3)])
    with pytest.raises(TypeError, match=r"module\['w'\]: expected a torch.Tensor or numpy.ndarray, got list"):
        ParamStore.create(name, {"w": [1.0]})
    for bad in [1, 9]:
        with pytest.raises(ValueError, match="num_buffers: expected 2 to 8"):
            ParamStore.create(name, make_net(), num_buffers=bad)
    assert not os.path.exists(f"/dev/shm/flockrl.{name}")


def test_only_the_owner_publishes_and_closed_stores_refuse(name):
    net = make_net()
    store = ParamStore.create(name, net)
    reader = ParamStore.attach(name, make_net())
    with pytest.raises(RuntimeError, match="only its owner"):
        reader.publish(net)
    store.close()
    store.close()  # idempotent
    with pytest.raises(ValueError, match="is closed"):
        store.publish(net)
    assert "closed" in repr(store)
    # The reader keeps the last snapshot and learns the owner is gone.
    assert not reader.owner_alive
    assert reader.pull(make_net()) == 1


def test_segment_is_private_and_removed_on_close(name):
    store = ParamStore.create(name, make_net())
    path = f"/dev/shm/flockrl.{name}"
    mode = os.stat(path).st_mode
    assert stat.S_IMODE(mode) == 0o600
    del store  # garbage collection closes the owner's store
    assert not os.path.exists(path)


def test_attach_refuses_a_segment_open_to_others(name):
    path = f"/dev/shm/flockrl.{name}"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    os.fchmod(fd, 0o644)
    os.ftruncate(fd, 8192)
    os.close(fd)
    with pytest.raises(ValueError, match="not private to this user"):
        ParamStore.attach(name, make_net())
    with pytest.raises(ValueError, match="not private to this user"):
        ParamStore.create(name, make_net())
    os.unlink(path)


def test_foreign_segment_is_not_taken_over(name):
    path = f"/dev/shm/flockrl.{name}"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.write(fd, b"not a parameter store" * 400)
    os.close(fd)
    with pytest.raises(ValueError, match="not a flockrl parameter store"):
        ParamStore.attach(name, make_net())
    with pytest.raises(ValueError, match="not a flockrl parameter store"):
        ParamStore.create(name, make_net())
    assert os.path.exists(path)  # left alone


def run_python(code, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kwargs,
    )


OWNER = """
    import os, signal, sys, torch
    from flockrl import ParamStore
    store = ParamStore.create({name!r}, torch.nn.Linear(4, 2))
    print("ready", flush=True)
    {then}
"""


def test_crashed_owner_is_reclaimed(name):
    proc = run_python(OWNER.format(name=name, then="os.kill(os.getpid(), signal.SIGKILL)"))
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert os.path.exists(f"/dev/shm/flockrl.{name}")  # a killed owner cannot clean up
    # Readers can still attach to the last snapshot and learn the owner is dead.
    reader = ParamStore.attach(name, torch.nn.Linear(4, 2))
    assert not reader.owner_alive
    store = ParamStore.create(name, torch.nn.Linear(4, 2))  # reclaimed
    assert store.version == 1 and store.owner_alive
    store.close()


def test_reclaim_stale_removes_every_killed_owners_store_and_nothing_else(name):
    killed = [run_python(OWNER.format(name=f"{name}-{i}", then="os.kill(os.getpid(), signal.SIGKILL)"))
              for i in range(2)]
    for proc in killed:
        proc.communicate(timeout=120)
    live = ParamStore.create(f"{name}-live", torch.nn.Linear(4, 2))
    foreign = f"/dev/shm/flockrl.{name}-foreign"  # not a store: too small to hold a header
    with open(foreign, "wb") as f:
        f.write(b"x")
    try:
        removed = ParamStore.reclaim_stale()
        assert f"{name}-0" in removed and f"{name}-1" in removed
        assert f"{name}-live" not in removed and live.version == 1
        assert not any(os.path.exists(f"/dev/shm/flockrl.{name}-{i}") for i in range(2))
        assert os.path.exists(foreign)
    finally:
        live.close()
        os.unlink(foreign)


def test_live_owner_keeps_its_name(name):
    proc = run_python(OWNER.format(name=name, then="sys.stdin.read()"), stdin=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(FileExistsError, match="in use by its owner"):
            ParamStore.create(name, torch.nn.Linear(4, 2))
        assert not ParamStore.reclaim(name)
    finally:
        proc.communicate(input="", timeout=120)
    assert proc.returncode == 0
    assert not os.path.exists(f"/dev/shm/flockrl.{name}")  # normal exit cleaned up


def test_ctrl_c_removes_the_segment(name):
    proc = run_python(OWNER.format(name=name, then="import time; time.sleep(120)"))
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err
    assert not os.path.exists(f"/dev/shm/flockrl.{name}")


def test_forked_child_does_not_remove_the_owners_segment(name):
    store = ParamStore.create(name, make_net())
    pid = os.fork()
    if pid == 0:  # the child inherits the handle; exiting must not unlink
        try:
            store.close()
        finally:
            os._exit(0)  # never return into pytest in the child
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert os.path.exists(f"/dev/shm/flockrl.{name}")
    assert store.publish(make_net()) == 2
    store.close()
