"""Running observation statistics merge batches exactly."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from flockrl.algos.running_norm import RunningNorm  # noqa: E402


def test_merged_statistics_equal_numpy_over_all_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=3.0, scale=[1.0, 10.0], size=(n, 2)) for n in (1, 7, 100, 33)]
    norm = RunningNorm((2,))
    for b in batches:
        norm.update(b)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(norm.mean.numpy(), everything.mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.var.numpy(), everything.var(0), rtol=1e-10)
    assert norm.count.item() == len(everything)
    x = torch.tensor([[3.0, 3.0], [1e6, -1e6]])
    out = norm(x).numpy()
    np.testing.assert_allclose(out[0], (3.0 - everything.mean(0)) / np.sqrt(everything.var(0) + 1e-8), rtol=1e-5)
    np.testing.assert_array_equal(out[1], [10.0, -10.0])  # clipped


def test_identity_before_any_statistics():
    x = torch.randn(4, 3)
    assert torch.equal(RunningNorm((3,))(x), x)
