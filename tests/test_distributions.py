"""The policy heads' math against torch.distributions, and their sampling
against the probabilities they claim."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")

from flockrl.algos.distributions import Categorical, DiagGaussian  # noqa: E402


def test_categorical_matches_torch():
    logits = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    actions = torch.randint(0, 5, (64,))
    reference = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(Categorical.log_prob(logits, actions), reference.log_prob(actions))
    torch.testing.assert_close(Categorical.entropy(logits), reference.entropy())
    sampled, log_prob = Categorical.sample(logits, torch.Generator().manual_seed(1))
    torch.testing.assert_close(log_prob, reference.log_prob(sampled))


def test_categorical_samples_follow_the_softmax():
    logits = torch.tensor([[0.0, 1.0, -1.0, 2.0]]).expand(20_000, 4)
    actions, _ = Categorical.sample(logits, torch.Generator().manual_seed(2))
    counts = np.bincount(actions.numpy(), minlength=4)
    expected = torch.softmax(logits[0].double(), 0).numpy() * len(actions)
    assert stats.chisquare(counts, expected).pvalue > 1e-4


def test_gaussian_matches_torch():
    g = torch.Generator().manual_seed(3)
    mean, log_std = torch.randn(32, 3, generator=g), torch.randn(3, generator=g)
    actions = torch.randn(32, 3, generator=g)
    reference = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp()), 1)
    torch.testing.assert_close(DiagGaussian.log_prob((mean, log_std), actions), reference.log_prob(actions))
    torch.testing.assert_close(DiagGaussian.entropy((mean, log_std)), reference.entropy())
    sampled, log_prob = DiagGaussian.sample((mean, log_std), torch.Generator().manual_seed(4))
    torch.testing.assert_close(log_prob, reference.log_prob(sampled))


def test_gaussian_samples_have_the_mean_and_std():
    mean, log_std = torch.tensor([[1.0, -2.0]]).expand(50_000, 2), torch.tensor([0.0, np.log(0.5)])
    actions, _ = DiagGaussian.sample((mean, log_std), torch.Generator().manual_seed(5))
    np.testing.assert_allclose(actions.mean(0).numpy(), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(actions.std(0).numpy(), [1.0, 0.5], rtol=0.02)
