"""Replay batches as torch tensors, and priorities given as tensors."""

from __future__ import annotations

import numpy as np
import pytest

import flockrl

torch = pytest.importorskip("torch")

FIELDS = {"obs": ((3,), np.float32), "act": ((), np.int64), "done": ((), bool), "pix": ((2, 2), np.uint8)}


def filled(seed):
    buf = flockrl.PrioritizedReplayBuffer(64, FIELDS, seed=seed)
    rng = np.random.default_rng(0)
    buf.add(
        obs=rng.standard_normal((64, 3)).astype(np.float32),
        act=np.arange(64),
        done=rng.random(64) < 0.3,
        pix=rng.integers(0, 255, (64, 2, 2)).astype(np.uint8),
        priorities=rng.uniform(0, 2, 64),
    )
    return buf


def test_sample_on_cpu_device_returns_the_same_data_as_tensors():
    as_numpy = filled(7).sample(32, beta=0.5)
    as_torch = filled(7).sample(32, beta=0.5, device="cpu")
    expected_dtypes = {"obs": torch.float32, "act": torch.int64, "done": torch.bool, "pix": torch.uint8,
                       "handles": torch.int64, "weights": torch.float64}
    for key, dtype in expected_dtypes.items():
        assert isinstance(as_torch[key], torch.Tensor) and as_torch[key].dtype == dtype, key
        assert as_torch[key].device.type == "cpu"
        if key != "handles":  # each buffer has its own handle tag
            np.testing.assert_array_equal(as_torch[key].numpy(), as_numpy[key])


def test_uniform_sample_on_device():
    buf = flockrl.ReplayBuffer(8, {"x": ((), np.int64)}, seed=0)
    buf.add(x=np.arange(8))
    out = buf.sample(4, device=torch.device("cpu"))
    assert set(out) == {"x", "handles"} and out["x"].dtype == torch.int64


def test_update_priorities_accepts_tensors_even_with_grad():
    buf = filled(1)
    before = buf.max_priority
    s = buf.sample(16, device="cpu")
    td = torch.rand(16, requires_grad=True) * 3
    assert buf.update_priorities(s["handles"], td.abs()) == 0
    largest = float(td.detach().abs().max())
    assert buf.max_priority == pytest.approx(max(before, largest + 1e-6))
