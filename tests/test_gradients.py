"""SharedOptimizer: hogwild and coordinator updates against torch.optim run
on one thread, publishing to a ParamStore, and concurrent pushes."""

import threading
import uuid

import pytest

torch = pytest.importorskip("torch")

from flockrl import ParamStore, SharedOptimizer  # noqa: E402
from flockrl.gradients import SGD, Adam, RMSprop  # noqa: E402

RULES = [
    (SGD(lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05, foreach=False)),
    (RMSprop(lr=7e-3, alpha=0.99, eps=0.1), lambda ps: torch.optim.RMSprop(ps, lr=7e-3, alpha=0.99, eps=0.1,
                                                                          foreach=False)),
    (Adam(lr=1e-2, betas=(0.9, 0.99), eps=1e-6), lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.99),
                                                                            eps=1e-6, foreach=False)),
]


def make_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))


def gradient_batches(n, seed=1):
    gen = torch.Generator().manual_seed(seed)
    shapes = [p.shape for p in make_net().parameters()]
    return [[torch.randn(s, generator=gen) for s in shapes] for _ in range(n)]


@pytest.mark.parametrize("mode", ["hogwild", "coordinator"])
@pytest.mark.parametrize("rule,reference", RULES, ids=["sgd", "rmsprop", "adam"])
def test_single_threaded_updates_equal_torch_optim(mode, rule, reference):
    shared, expected = make_net(), make_net()
    ref = reference(list(expected.parameters()))
    with SharedOptimizer(shared, rule, mode=mode) as opt:
        for grads in gradient_batches(6):
            opt.push(grads)
            for p, g in zip(expected.parameters(), grads):
                p.grad = g.clone()
            ref.step()
        opt.flush()
        assert opt.updates == 6
    for a, b in zip(shared.parameters(), expected.parameters()):
        assert torch.equal(a, b)


def test_push_accepts_a_module_with_grads():
    shared, worker = make_net(), make_net(5)
    worker(torch.randn(4, 3)).sum().backward()
    worker[2].bias.grad = None  # a parameter without a gradient counts as zero
    expected = [p.detach().add(p2.grad if p2.grad is not None else torch.zeros_like(p), alpha=-0.1)
                for p, p2 in zip(shared.parameters(), worker.parameters())]
    SharedOptimizer(shared, SGD(lr=0.1)).push(worker)
    for p, e in zip(shared.parameters(), expected):
        assert torch.equal(p.detach(), e)


@pytest.mark.parametrize("mode", ["hogwild", "coordinator"])
def test_updates_are_published_every_k(mode):
    shared, actor = make_net(), make_net(3)
    name = f"test-grad-{uuid.uuid4().hex[:12]}"
    with ParamStore.create(name, shared) as store:
        reader = ParamStore.attach(name, actor)
        with SharedOptimizer(shared, RMSprop(), mode=mode, store=store, publish_every=2) as opt:
            batches = gradient_batches(5)
            for grads in batches[:4]:
                opt.push(grads)
            opt.flush()
            assert store.version == 1 + 2  # created as version 1, then after updates 2 and 4
            assert reader.pull(actor) == 3
            for a, b in zip(shared.state_dict().values(), actor.state_dict().values()):
                assert torch.equal(a, b)
            opt.push(batches[4])
            opt.flush()
            assert store.version == 3 and reader.pull(actor) is None


def test_concurrent_pushes_through_the_coordinator_lose_nothing():
    # Integer-valued gradients and lr=1: every sum is exact in float32, so any
    # lost or doubled update shows.
    shared = make_net()
    with torch.no_grad():
        for p in shared.parameters():
            p.zero_()
    shapes = [p.shape for p in shared.parameters()]
    workers, pushes = 4, 50
    with SharedOptimizer(shared, SGD(lr=1.0), mode="coordinator", queue_size=2) as opt:
        def work(w):
            for k in range(pushes):
                opt.push([torch.full(s, float(w * pushes + k)) for s in shapes])

        threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        opt.flush()
        assert opt.updates == workers * pushes
    total = sum(range(workers * pushes))
    for p in shared.parameters():
        assert bool((p == -total).all())


def test_hogwild_pushes_run_concurrently_and_count():
    # SGD with all-one gradients: each update subtracts lr from every weight.
    # Hogwild may lose an update to a race, never invent one.
    shared, start = make_net(), make_net()
    opt = SharedOptimizer(shared, SGD(lr=2.0**-10), mode="hogwild")
    ones = [torch.ones_like(p) for p in shared.parameters()]
    threads = [threading.Thread(target=lambda: [opt.push(ones) for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert opt.updates == 200
    for p, q in zip(shared.state_dict().values(), start.state_dict().values()):
        steps = (q - p) / 2.0**-10
        assert bool((steps <= 200 + 1e-3).all()) and bool((steps >= 1 - 1e-3).all())
        assert float(steps.mean()) > 150  # lost updates are rare, not the rule


def test_coordinator_errors_reach_the_workers():
    shared = make_net()
    store = ParamStore.create(f"test-grad-{uuid.uuid4().hex[:12]}", shared)
    opt = SharedOptimizer(shared, SGD(), mode="coordinator", store=store)
    store.close()  # publishing will now fail on the coordinator thread
    opt.push(gradient_batches(1)[0])
    with pytest.raises(RuntimeError, match="coordinator thread failed") as info:
        opt.flush()
    assert "is closed" in str(info.value.__cause__)
    with pytest.raises(RuntimeError, match="coordinator thread failed"):
        opt.close()


def test_bad_arguments():
    net = make_net()
    with pytest.raises(ValueError, match="mode: expected one of hogwild, coordinator, got 'sync'"):
        SharedOptimizer(net, SGD(), mode="sync")
    with pytest.raises(TypeError, match="rule: expected"):
        SharedOptimizer(net, torch.optim.SGD)
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module"):
        SharedOptimizer([1], SGD())
    with pytest.raises(ValueError, match="lr: expected a finite number > 0, got -1"):
        SGD(lr=-1)
    with pytest.raises(ValueError, match="alpha: expected a number in"):
        RMSprop(alpha=1.0)
    with pytest.raises(ValueError, match="publish_every: expected an int >= 1"):
        SharedOptimizer(net, SGD(), publish_every=0)
    opt = SharedOptimizer(net, SGD())
    with pytest.raises(ValueError, match="grads: expected 4 tensors"):
        opt.push([torch.zeros(1)])
    grads = gradient_batches(1)[0]
    grads[1] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"grads\[1\]: expected shape \(16,\) torch.float32, got \(3,\)"):
        opt.push(grads)
