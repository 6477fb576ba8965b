"""The encoders: the choice from the observation space and its errors, the
Nature and IMPALA CNNs against plain forward passes written from the
papers' figures with the same weights, images scaled inside the network
(they arrive as uint8), and the Q-network and actor-critic on images."""

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from flockrl.algos.actor_critic import ActorCritic  # noqa: E402
from flockrl.algos.dqn import QNetwork  # noqa: E402
from flockrl.algos.ppo import PPOConfig, PPOLearner  # noqa: E402
from flockrl.nets import ImpalaCNN, NatureCNN, resolve_network  # noqa: E402
from flockrl.nets.images import image_input  # noqa: E402

ATARI = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
VECTOR = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)


def images(n, space=ATARI, seed=0):
    return torch.randint(0, 256, (n, *space.shape), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_the_network_is_chosen_from_the_observations():
    assert resolve_network("auto", ATARI) == "nature_cnn"
    assert resolve_network("auto", VECTOR) == "mlp"
    assert resolve_network("impala_cnn", ATARI) == "impala_cnn"
    assert resolve_network("mlp", ATARI) == "mlp"  # asked for
    with pytest.raises(ValueError, match="network nature_cnn: expected image observations.*Box"):
        resolve_network("nature_cnn", VECTOR)
    with pytest.raises(ValueError, match="network: expected one of auto, mlp, nature_cnn, impala_cnn, got 'cnn'"):
        resolve_network("cnn", ATARI)
    with pytest.raises(ValueError, match="nature_cnn: expected images of at least 36x36, got \\(4, 20, 20\\)"):
        NatureCNN(gym.spaces.Box(0, 255, (4, 20, 20), np.uint8))


def test_nature_cnn_is_mnih_et_al_with_images_scaled_inside():
    net = NatureCNN(ATARI)
    obs = images(3)
    c1, c2, c3 = (m for m in net.convs if isinstance(m, torch.nn.Conv2d))
    x = obs.float() / 255.0
    x = F.relu(F.conv2d(x, c1.weight, c1.bias, stride=4))  # 32 8x8 filters, stride 4: 20x20
    x = F.relu(F.conv2d(x, c2.weight, c2.bias, stride=2))  # 64 4x4, stride 2: 9x9
    x = F.relu(F.conv2d(x, c3.weight, c3.bias, stride=1))  # 64 3x3, stride 1: 7x7
    assert x.shape == (3, 64, 7, 7)
    want = F.relu(F.linear(x.flatten(1), net.fc.weight, net.fc.bias))  # 512 units
    torch.testing.assert_close(net(obs), want, rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p in net.parameters()) == (4 * 64 * 32 + 32) + (32 * 16 * 64 + 64) + (
        64 * 9 * 64 + 64) + (3136 * 512 + 512)


def test_impala_cnn_is_espeholt_et_al():
    space = gym.spaces.Box(0, 255, (3, 64, 64), np.uint8)
    net = ImpalaCNN(space)
    obs = images(2, space)
    x = obs.float() / 255.0
    layers = iter(net.stages)
    for _ in range(3):
        conv, pool, *blocks = next(layers), next(layers), next(layers), next(layers)
        x = F.max_pool2d(F.conv2d(x, conv.weight, conv.bias, padding=1), 3, stride=2, padding=1)
        for b in blocks:
            inner = F.conv2d(F.relu(x), b.conv0.weight, b.conv0.bias, padding=1)
            x = x + F.conv2d(F.relu(inner), b.conv1.weight, b.conv1.bias, padding=1)
    assert x.shape == (2, 32, 8, 8)
    want = F.relu(F.linear(F.relu(x).flatten(1), net.fc.weight, net.fc.bias))
    # 15 convolutions, summed in another order by the channels-last kernels.
    torch.testing.assert_close(net(obs), want, rtol=1e-4, atol=1e-4)


def test_rgb_frame_stacks_become_channels():
    obs = torch.randint(0, 256, (2, 4, 5, 6, 3), dtype=torch.uint8)  # (batch, frames, H, W, RGB)
    x = image_input(obs)
    assert x.shape == (2, 12, 5, 6) and x.dtype == torch.float32
    for k in range(4):
        for c in range(3):
            torch.testing.assert_close(x[:, 3 * k + c], obs[:, k, :, :, c].float())


def test_q_network_on_images():
    net = QNetwork(ATARI, 6, (256,), dueling=True)
    assert net.network == "nature_cnn"
    obs = images(5)
    q = net(obs)
    assert q.shape == (5, 6)
    features = net.body(obs)
    advantages = net.head(features)
    torch.testing.assert_close(q, net.value(features) + advantages - advantages.mean(dim=1, keepdim=True))
    q[:, 0].sum().backward()  # (the sum over actions has no advantage gradient)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_images_reach_the_learners_network_as_uint8():
    learner = PPOLearner(PPOConfig(epochs=1, minibatch_size=16, total_steps=1000), ATARI, gym.spaces.Discrete(4),
                         torch.device("cpu"))
    seen = []
    trunk_forward = learner.net.trunk.forward
    learner.net.trunk.forward = lambda obs: seen.append(obs.dtype) or trunk_forward(obs)
    rng = np.random.default_rng(0)
    T, N = 4, 4
    rollout = {"obs": rng.integers(0, 256, (T, N, *ATARI.shape), dtype=np.uint8),
               "action": rng.integers(0, 4, (T, N)), "log_prob": np.full((T, N), -1.4, np.float32),
               "value": np.zeros((T, N), np.float32), "reward": rng.normal(size=(T, N)).astype(np.float32),
               "done": np.zeros((T, N), bool), "last_value": np.zeros(N, np.float32), "version": 1, "actor": 0}
    learner.update([rollout], env_steps=0)
    assert seen and set(seen) == {torch.uint8}


def test_normalize_obs_is_refused_for_images():
    with pytest.raises(ValueError, match="normalize_obs: running normalisation is for vector observations"):
        ActorCritic(ATARI, gym.spaces.Discrete(4), (64,), normalize_obs=True)
