"""PPO (Schulman et al. 2017): clipped surrogate objective, GAE(lambda),
optional value clipping, entropy bonus, minibatch epochs, per-minibatch
advantage normalisation, observation normalisation, discrete and Gaussian
actions, linear learning-rate and clip-range annealing; decoupled from the
behaviour policy (Hilton et al. 2021) so that stale rollouts still train.
The update rule lives here; rollouts come from flockrl.runtime."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.actor_critic import make_actor_critic
from flockrl.algos.actor_critic_config import ActorCriticConfig
from flockrl.algos.advantages import gae
from flockrl.algos.mujoco import mujoco_presets
from flockrl.algos.optim import FlatAdam
from flockrl.algos.precision import floats, learner_autocast
from flockrl.flat_params import FlatParameters
from flockrl.runtime.learner_group import LearnerGroup, merged_moments
from flockrl.runtime.run_config import ATARI_RUN
from flockrl.runtime.sync import SYNC_MODES


STAT_NAMES = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance", "lr",
              "clip_range", "behaviour_weight")
"""What PPOLearner.update reports (means over the update's minibatches)."""


@dataclass
class PPOConfig(ActorCriticConfig):
    """PPO. The defaults solve CartPole-v1: rl-zoo's tuned values, but for a
    2.5x larger learning rate and GAE lambda 0.95 (0.8 there), which need
    about half the env steps (mean over 20 seeds 11k instead of 22k)."""

    ALGORITHM: ClassVar[str] = "PPO"
    SYNC_MODES: ClassVar[tuple[str, ...]] = SYNC_MODES

    rollouts_per_update: int = 0
    """async/bounded: the fewest rollouts an update trains on (0: num_actors); sync always uses one per actor."""
    normalize_obs: bool = False
    """Normalise observations with running statistics (updated by the learner, shared with the weights)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian (continuous) actions."""
    lr: float = 2.5e-3
    """Adam learning rate (at the start, with anneal_lr)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over total_steps."""
    gamma: float = 0.98
    gae_lambda: float = 0.95
    """GAE lambda (1: Monte Carlo returns, 0: one-step TD)."""
    clip_range: float = 0.2
    """PPO's probability-ratio clip epsilon (at the start, with anneal_clip)."""
    anneal_clip: bool = True
    """Decay clip_range linearly to 0 over total_steps."""
    clip_value: float = 0.0
    """Clip value updates to this distance from the rollout's values (0: no value clipping)."""
    epochs: int = 20
    """Passes over each update's data."""
    minibatch_size: int = 256
    """Transitions per gradient step."""
    normalize_advantages: bool = True
    """Normalise advantages to zero mean, unit std within each minibatch."""

    def validate(self) -> None:
        super().validate()
        self.check_range("gae_lambda", 0, 1)
        self.check_range("clip_range", 0, None, low_inclusive=False)
        self.check_range("clip_value", 0, None)
        for name in ("epochs", "minibatch_size"):
            self.check_range(name, 1, None)
        self.check_range("rollouts_per_update", 0, None)

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        return {
            # CleanRL's ppo_continuous_action.py (SB3's defaults, which rl-zoo's
            # MuJoCo entries use): 2048 steps of one env, 10 epochs of 64-item
            # minibatches, lr 3e-4 annealed, clip 0.2 (not annealed), gamma
            # 0.99, lambda 0.95, no entropy bonus, observations normalised.
            # CleanRL also normalises rewards, which flockrl does not (yet).
            **mujoco_presets({"envs_per_actor": 1, "rollout_steps": 2048, "epochs": 10, "minibatch_size": 64,
                              "lr": 3e-4, "anneal_lr": True, "gamma": 0.99, "gae_lambda": 0.95, "clip_range": 0.2,
                              "anneal_clip": False, "ent_coef": 0.0, "vf_coef": 0.5, "max_grad_norm": 0.5,
                              "normalize_obs": True, "hidden_sizes": (64, 64), "activation": "tanh"}),
            **classic_and_box2d_presets(),
            # Longer rollouts and a short horizon (gamma 0.9), as rl-zoo's
            # Pendulum-v1 entry, without its state-dependent exploration.
            "Pendulum-v1": {"total_steps": 150_000, "rollout_steps": 256, "epochs": 10, "gamma": 0.9,
                            "gae_lambda": 0.95, "lr": 1e-3},
            # CleanRL's ppo_atari.py: 8 envs x 128 steps, 4 epochs of 4 minibatches,
            # lr 2.5e-4 annealed, clip 0.1 (not annealed), value clipping 0.1, and
            # its value weight 0.5 on half the squared error: 0.25 here.
            "ALE/*": {**ATARI_RUN, "num_actors": 1, "envs_per_actor": 8, "rollout_steps": 128, "epochs": 4,
                      "minibatch_size": 256, "lr": 2.5e-4, "anneal_lr": True, "gamma": 0.99, "gae_lambda": 0.95,
                      "clip_range": 0.1, "anneal_clip": False, "clip_value": 0.1, "ent_coef": 0.01, "vf_coef": 0.25,
                      "max_grad_norm": 0.5},
        }

    def progress_left(self, env_steps: int) -> float:
        """1 at the start of training, 0 at total_steps (the annealing factor)."""
        return max(0.0, 1.0 - env_steps / self.total_steps)


def classic_and_box2d_presets() -> dict[str, dict[str, Any]]:
    """rl-zoo's ppo.yml for the classic-control and Box2D envs, over SB3's
    PPO defaults (lr 3e-4 and clip 0.2, neither annealed; minibatches of 64;
    10 epochs; (64, 64) tanh; value weight 0.5; gradient clip 0.5). n_envs
    becomes envs_per_actor and n_steps rollout_steps. Departures: where
    rl-zoo normalises (VecNormalize) flockrl normalises observations only,
    not rewards; no gSDE (MountainCarContinuous explores with the Gaussian,
    from rl-zoo's log_std_init)."""
    sb3 = {"num_actors": 1, "lr": 3e-4, "anneal_lr": False, "clip_range": 0.2, "anneal_clip": False,
           "minibatch_size": 64, "epochs": 10, "hidden_sizes": (64, 64), "activation": "tanh", "gamma": 0.99,
           "gae_lambda": 0.95, "ent_coef": 0.0, "vf_coef": 0.5, "max_grad_norm": 0.5, "normalize_obs": False}
    long = {"total_steps": 1_000_000, "eval_interval": 50_000}
    lander = {**sb3, **long, "envs_per_actor": 16, "rollout_steps": 1024, "gae_lambda": 0.98, "gamma": 0.999,
              "epochs": 4, "ent_coef": 0.01}
    return {
        "MountainCar-v0": {**sb3, **long, "normalize_obs": True, "envs_per_actor": 16, "rollout_steps": 16,
                           "gae_lambda": 0.98, "epochs": 4},
        "Acrobot-v1": {**sb3, **long, "normalize_obs": True, "envs_per_actor": 16, "rollout_steps": 256,
                       "gae_lambda": 0.94, "epochs": 4},
        "MountainCarContinuous-v0": {**sb3, "total_steps": 20_000, "eval_interval": 2_000, "normalize_obs": True,
                                     "envs_per_actor": 1, "rollout_steps": 8, "minibatch_size": 256, "gamma": 0.9999,
                                     "lr": 7.77e-5, "ent_coef": 0.00429, "clip_range": 0.1, "gae_lambda": 0.9,
                                     "max_grad_norm": 5.0, "vf_coef": 0.19, "log_std_init": -3.29},
        "LunarLander-v3": lander,
        "LunarLanderContinuous-v3": lander,
        "BipedalWalker-v3": {**sb3, "total_steps": 5_000_000, "eval_interval": 250_000, "normalize_obs": True,
                             "envs_per_actor": 32, "rollout_steps": 2048, "gamma": 0.999, "clip_range": 0.18},
    }


def flatten_rollouts(rollouts: list[dict[str, Any]], gamma: float, lam: float) -> dict[str, np.ndarray]:
    """GAE per rollout, then every [T, N, ...] array flattened to [T*N, ...]
    and the rollouts concatenated."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "action", "log_prob", "value", "advantage", "return")}
    for r in rollouts:
        advantages, returns = gae(r["reward"], r["value"], r["done"], r["last_value"], gamma, lam)
        for key, array in (("obs", r["obs"]), ("action", r["action"]), ("log_prob", r["log_prob"]),
                           ("value", r["value"]), ("advantage", advantages), ("return", returns)):
            parts[key].append(array.reshape(-1, *array.shape[2:]))
    return {k: np.concatenate(v) if len(v) > 1 else v[0] for k, v in parts.items()}


class PPOLearner:
    """The actor-critic network, its optimizer and the PPO update."""

    def __init__(self, config: PPOConfig, obs_space: gym.spaces.Box, action_space: gym.spaces.Space,
                 device: torch.device, group: LearnerGroup | None = None):
        """group: data-parallel learners (DPPO) whose gradients and
        observation statistics this learner shares."""
        self.config, self.device, self.group = config, device, group
        self.net = make_actor_critic(config, obs_space, action_space).to(device)
        self.flat = FlatParameters(self.net)  # one tensor to zero, average, clip and step
        self.optimizer = FlatAdam(self.flat.param, config.lr, eps=1e-5)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)
        self.updates = 0  # gradient steps
        self.iterations = 0  # calls of update()
        self.passes = config.epochs  # times an update uses each transition
        self.autocast = learner_autocast(config.learner_precision, device, self.net)

    def update(self, rollouts: list[dict[str, Any]], env_steps: int, fresh: bool = False) -> dict[str, float]:
        """Epochs of minibatch gradient steps on the rollouts; env_steps
        (so far) sets the annealed learning rate and clip range. Afterwards
        the observation statistics absorb the rollouts' observations, so the
        actors acted with the statistics the update trained with. fresh:
        every rollout was collected with the learner's current weights, so
        the behaviour policy is the proximal one and its log-probabilities
        (the actors', in float32) stand in for a forward pass over the batch."""
        c, net = self.config, self.net
        data = {k: torch.from_numpy(v).to(self.device, non_blocking=True)
                for k, v in flatten_rollouts(rollouts, c.gamma, c.gae_lambda).items()}
        left = c.progress_left(env_steps)
        lr = c.lr * left if c.anneal_lr else c.lr
        clip = c.clip_range * left if c.anneal_clip else c.clip_range
        self.optimizer.lr = lr
        if fresh:
            proximal = data["log_prob"]
        else:
            with torch.no_grad(), self.autocast():  # the proximal policy: the learner's own, as this update starts
                params, _ = net(data["obs"])
                proximal = net.dist.log_prob(floats(params), data["action"])
        # Decoupled PPO (Hilton et al. 2021): clip around the proximal policy, and
        # weight by proximal / behaviour (truncated at 1) for rollouts collected by
        # older weights (async, bounded); with no lag the weight is 1, plain PPO.
        data["behaviour_weight"] = torch.exp(proximal - data["log_prob"]).clamp(max=1.0)
        data["log_prob"] = proximal
        sums = torch.zeros(5, device=self.device)  # policy loss, value loss, entropy, approx KL, clip fraction
        steps = 0
        for mb in self._minibatches(data):
            sums += self._step(mb, clip)
            steps += 1
        if net.obs_norm is not None:
            if self.group is None:
                net.obs_norm.update(data["obs"])
            else:
                net.obs_norm.update_moments(*merged_moments(self.group, data["obs"].flatten(1)))
        self.iterations += 1
        means = (sums / max(steps, 1)).tolist()  # the update's one read of the stats
        values, returns = data["value"], data["return"]
        explained = 1.0 - float((returns - values).var() / returns.var()) if returns.var() > 0 else float("nan")
        return {"policy_loss": means[0], "value_loss": means[1], "entropy": means[2], "approx_kl": means[3],
                "clip_fraction": means[4], "explained_variance": explained, "lr": lr, "clip_range": clip,
                "behaviour_weight": float(data["behaviour_weight"].mean())}

    def _minibatches(self, data: dict[str, torch.Tensor]) -> Iterator[dict[str, torch.Tensor]]:
        """Every epoch's minibatches, in a fresh random order each epoch, with
        advantages normalised per minibatch. When one minibatch holds the
        whole batch, order is irrelevant to its gradient: it is the same
        minibatch every epoch, indexed and normalised once."""
        c = self.config
        size = len(data["advantage"])
        if c.minibatch_size >= size:
            whole = self._normalized(data)
            for _ in range(c.epochs):
                yield whole
            return
        for _ in range(c.epochs):
            order = torch.randperm(size, generator=self.generator, device=self.device)
            for start in range(0, size, c.minibatch_size):
                yield self._normalized({k: v[order[start:start + c.minibatch_size]] for k, v in data.items()})

    def _normalized(self, mb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        advantages = mb["advantage"]
        if not self.config.normalize_advantages or len(advantages) < 2:
            return mb
        return {**mb, "advantage": (advantages - advantages.mean()) / (advantages.std() + 1e-8)}

    @torch.no_grad()
    def _step(self, mb: dict[str, torch.Tensor], clip: float) -> torch.Tensor:
        """One gradient step; returns its stats (as update's `sums`) without leaving the device."""
        c, net = self.config, self.net
        params, values, tape = net.forward_for_backprop(mb["obs"], self.autocast)
        log_prob, entropy = net.dist.log_prob_entropy(params, mb["action"])
        log_ratio = log_prob - mb["log_prob"]
        ratio = log_ratio.exp()
        surrogate = ratio * mb["advantage"]
        clipped_surrogate = ratio.clamp(1 - clip, 1 + clip) * mb["advantage"]
        weight = mb["behaviour_weight"]
        policy_loss = -(weight * torch.min(surrogate, clipped_surrogate)).mean()
        error = values - mb["return"]
        if c.clip_value > 0:
            moved = values - mb["value"]
            clipped_error = mb["value"] + moved.clamp(-c.clip_value, c.clip_value) - mb["return"]
            value_loss = torch.max(error.square(), clipped_error.square()).mean()
        else:
            value_loss = error.square().mean()
        entropy = entropy.mean()
        # The gradient of policy_loss + vf_coef * value_loss - ent_coef * entropy, by hand
        # (net.backprop says why). The min and max pass it to the term they pick; a clamp
        # passes none where it clips. d(w * ratio * A) / d log_prob = w * ratio * A, w the
        # (constant) behaviour weight.
        n = len(ratio)
        grad_log_prob = torch.where(surrogate <= clipped_surrogate, surrogate, 0.0).mul_(weight).mul_(-1.0 / n)
        if c.clip_value > 0:
            error = torch.where(error.square() >= clipped_error.square(), error,
                                clipped_error * (moved.abs() <= c.clip_value))
        grad_values = error.mul_(2 * c.vf_coef / n)
        self.flat.zero_grad()
        net.backprop(tape, net.dist.backward(params, mb["action"], grad_log_prob, -c.ent_coef / n), grad_values)
        if self.group is not None:
            self.group.average_(self.flat.param.grad)
        if c.max_grad_norm > 0:
            self.flat.clip_grad_norm_(c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clip_fraction = ((ratio - 1).abs() > clip).float().mean()
        return torch.stack([policy_loss, value_loss, entropy, approx_kl, clip_fraction])

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "updates": self.updates,
                "iterations": self.iterations, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates, self.iterations = int(state["updates"]), int(state["iterations"])
        self.generator.set_state(state["generator"])
