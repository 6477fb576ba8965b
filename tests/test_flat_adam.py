"""FlatAdam against torch.optim.Adam over steps with an annealed learning
rate, and across a state_dict round trip."""

import pytest

torch = pytest.importorskip("torch")

from flockrl.algos.optim import FlatAdam  # noqa: E402


@pytest.mark.parametrize("fused", [True, False], ids=["fused-kernel", "in-place-ops"])
def test_flat_adam_equals_torch_adam_with_annealed_lr(fused):
    g = torch.Generator().manual_seed(0)
    start = torch.randn(100, generator=g)
    mine, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    flat = FlatAdam(mine, lr=1e-2, eps=1e-5)
    if fused and not flat._fused:
        pytest.skip(f"torch {torch.__version__} has no fused Adam kernel on the CPU (2.4 and later have)")
    flat._fused = fused
    reference = torch.optim.Adam([theirs], lr=1e-2, eps=1e-5)
    for step in range(20):
        lr = 1e-2 * (1 - step / 20)
        flat.lr = lr
        reference.param_groups[0]["lr"] = lr
        grad = torch.randn(100, generator=g)
        mine.grad, theirs.grad = grad.clone(), grad.clone()
        flat.step()
        reference.step()
        if step == 9:  # resume halfway from a saved state
            state = flat.state_dict()
            flat = FlatAdam(mine, lr=0.0, eps=1e-5)
            flat._fused = fused
            flat.load_state_dict(state)
    torch.testing.assert_close(mine, theirs)


def test_flat_adam_rejects_a_state_of_another_shape():
    state = FlatAdam(torch.nn.Parameter(torch.zeros(3)), lr=1.0).state_dict()
    with pytest.raises(ValueError, match=r"exp_avg: expected shape \(4,\), got \(3,\)"):
        FlatAdam(torch.nn.Parameter(torch.zeros(4)), lr=1.0).load_state_dict(state)
