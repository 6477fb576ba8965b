"""SAC's and TD3's networks differentiated by hand (flockrl.nets.continuous:
TwinQ.backward and action_grad, the actors' backward) against autograd on
the same forward pass, in float32 and under bfloat16 autocast."""

import pytest

torch = pytest.importorskip("torch")

from flockrl.nets.continuous import LOG_STD_MAX, DeterministicActor, SquashedGaussianActor, TwinQ  # noqa: E402

OBS_DIM, ACT_DIM, BATCH = 5, 3, 40


def autograd_grads(module, loss):
    module.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in module.parameters()]


def assert_grads_equal(module, want, **tolerance):
    for (name, p), w in zip(module.named_parameters(), want):
        torch.testing.assert_close(p.grad, w, msg=lambda m: f"{name}: {m}", **tolerance)


def inputs(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, OBS_DIM, generator=g), torch.rand(BATCH, ACT_DIM, generator=g) * 2 - 1


def test_twin_q_backward_equals_autograd():
    torch.manual_seed(0)
    twin = TwinQ(OBS_DIM, ACT_DIM, (16, 8))
    obs, action = inputs(1)
    weights = torch.randn(2, BATCH)
    want = autograd_grads(twin, (twin(obs, action) * weights).sum())
    with torch.no_grad():
        tape = twin.forward_tape(obs, action)
    torch.testing.assert_close(tape[-1].squeeze(2), twin(obs, action).detach())
    twin.zero_grad(set_to_none=False)
    twin.backward(tape, weights)
    assert_grads_equal(twin, want)


@pytest.mark.parametrize("count", [1, 2])
def test_twin_q_action_grad_equals_autograd_and_leaves_the_weights(count):
    torch.manual_seed(2)
    twin = TwinQ(OBS_DIM, ACT_DIM, (16, 8))
    obs, action = inputs(3)
    action.requires_grad_(True)
    weights = torch.randn(count, BATCH)
    (twin(obs, action)[:count] * weights).sum().backward()
    twin.zero_grad(set_to_none=True)
    with torch.no_grad():
        tape = twin.forward_tape(obs, action, count)
        torch.testing.assert_close(tape[-1].squeeze(2), twin(obs, action)[:count])
    torch.testing.assert_close(twin.action_grad(tape, weights), action.grad)
    assert all(p.grad is None for p in twin.parameters())


def test_squashed_gaussian_sample_backward_equals_autograd():
    torch.manual_seed(4)
    actor = SquashedGaussianActor(OBS_DIM, ACT_DIM, (16, 12))
    with torch.no_grad():
        actor.log_std.bias[0] = 3 * LOG_STD_MAX  # one dim clamped: no gradient through its clamp
        actor.mean.weight.mul_(8)  # some actions near tanh's saturation
    obs, _ = inputs(5)
    noise, grad_action, grad_log_prob = torch.randn(BATCH, ACT_DIM), torch.randn(BATCH, ACT_DIM), torch.randn(BATCH)
    action, log_prob = actor.sample(obs, noise)
    want = autograd_grads(actor, (action * grad_action).sum() + (log_prob * grad_log_prob).sum())
    with torch.no_grad():
        taped_action, taped_log_prob, tape = actor.sample_tape(obs, noise)
    torch.testing.assert_close(taped_action, action.detach())
    torch.testing.assert_close(taped_log_prob, log_prob.detach())
    actor.sample_backward(tape, grad_action, grad_log_prob)
    assert_grads_equal(actor, want)
    assert actor.log_std.weight.grad[0].abs().max() == 0  # the clamped dimension


def test_sample_backward_of_the_first_rows_of_a_longer_tape():
    """SAC tapes obs and next_obs in one pass and differentiates the loss of
    the obs rows only: the same gradients as a pass over those rows alone."""
    torch.manual_seed(10)
    actor = SquashedGaussianActor(OBS_DIM, ACT_DIM, (16, 12))
    obs, _ = inputs(11)
    other, noise, other_noise = torch.randn(7, OBS_DIM), torch.randn(BATCH, ACT_DIM), torch.randn(7, ACT_DIM)
    grad_action, grad_log_prob = torch.randn(BATCH, ACT_DIM), torch.randn(BATCH)
    action, log_prob = actor.sample(obs, noise)
    want = autograd_grads(actor, (action * grad_action).sum() + (log_prob * grad_log_prob).sum())
    with torch.no_grad():
        tape = actor.sample_tape(torch.cat([obs, other]), torch.cat([noise, other_noise]))[2]
    actor.sample_backward(tape, grad_action, grad_log_prob)
    assert_grads_equal(actor, want)


def test_deterministic_actor_backward_equals_autograd():
    torch.manual_seed(6)
    actor = DeterministicActor(OBS_DIM, ACT_DIM, (16, 12))
    obs, _ = inputs(7)
    grad_action = torch.randn(BATCH, ACT_DIM)
    want = autograd_grads(actor, (actor(obs) * grad_action).sum())
    with torch.no_grad():
        action, tape = actor.forward_tape(obs)
    torch.testing.assert_close(action, actor(obs).detach())
    actor.backward(tape, grad_action)
    assert_grads_equal(actor, want)


def test_bfloat16_autocast_backward_equals_autograd_under_autocast():
    """learner_precision="bfloat16" runs the same passes under autocast
    (bfloat16 hidden layers, float32 output layers): the gradients are
    autograd's of that forward pass, stored in float32."""
    torch.manual_seed(8)
    twin, actor = TwinQ(OBS_DIM, ACT_DIM, (64, 64)), SquashedGaussianActor(OBS_DIM, ACT_DIM, (64, 64))
    obs, action = inputs(9)
    weights, noise = torch.randn(2, BATCH), torch.randn(BATCH, ACT_DIM)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want_twin = autograd_grads(twin, (twin(obs, action) * weights).sum())
        want_actor = autograd_grads(actor, actor.sample(obs, noise)[1].sum())
        with torch.no_grad():
            twin.backward(twin.forward_tape(obs, action), weights)
            actor.sample_backward(actor.sample_tape(obs, noise)[2], torch.zeros(BATCH, ACT_DIM), torch.ones(BATCH))
    for module, want in ((twin, want_twin), (actor, want_actor)):
        for p, w in zip(module.parameters(), want):
            assert p.grad.dtype == torch.float32
            assert (p.grad - w).norm() <= 1e-2 * w.norm()  # the same bfloat16 products, up to rounding order
