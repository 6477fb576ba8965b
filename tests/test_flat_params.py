"""FlatParameters against torch's own per-tensor path: the same gradients,
clipping and Adam steps give the same weights."""

import copy

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from flockrl.flat_params import FlatParameters  # noqa: E402


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))


@pytest.mark.parametrize("max_norm", [0.05, 1e6])  # clipping every step, and never
def test_matches_torch_clip_and_adam(max_norm):
    reference, net = mlp(), mlp()
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-2)
    flat = FlatParameters(net)
    opt = torch.optim.Adam([flat.param], lr=1e-2)
    for step in range(20):
        x, y = torch.randn(8, 5), torch.randn(8, 3)
        ref_opt.zero_grad()
        nn.functional.mse_loss(reference(x), y).backward()
        ref_norm = nn.utils.clip_grad_norm_(reference.parameters(), max_norm)
        ref_opt.step()
        flat.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        norm = flat.clip_grad_norm_(max_norm)
        opt.step()
        torch.testing.assert_close(norm, ref_norm)
        for p, q in zip(net.parameters(), reference.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_module_parameters_and_gradients_share_the_flat_buffers():
    net = mlp()
    before = copy.deepcopy(net.state_dict())
    flat = FlatParameters(net)
    for name, p in net.named_parameters():
        assert torch.equal(p, before[name])  # flattening keeps the values
    net(torch.randn(4, 5)).sum().backward()
    storage = flat.param.grad.untyped_storage().data_ptr()
    assert all(p.grad.untyped_storage().data_ptr() == storage for p in net.parameters())
    total = sum(p.grad.abs().sum() for p in net.parameters())
    torch.testing.assert_close(flat.param.grad.abs().sum(), total)
    with torch.no_grad():
        flat.param.add_(1.0)
    for name, p in net.named_parameters():
        torch.testing.assert_close(p, before[name] + 1.0)


def test_zero_grad_reattaches_gradients_set_to_none():
    net = mlp()
    flat = FlatParameters(net)
    net.zero_grad(set_to_none=True)
    flat.zero_grad()
    net(torch.randn(4, 5)).sum().backward()
    assert flat.param.grad.abs().sum() > 0


def test_rejects_a_module_without_trainable_parameters():
    with pytest.raises(ValueError, match="expected parameters that require grad"):
        FlatParameters(mlp().requires_grad_(False))
