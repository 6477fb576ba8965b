"""An actor: steps a vector env with a policy, refreshes the policy's
weights when a newer version is published, and hands n-step transitions to
a sink (a replay buffer's ``add``, a rollout queue, a remote shard).

It depends on nothing but the objects it is given, so the same class runs
in a thread here and, later, inside a Ray actor on another machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from flockrl.nstep import NStepAccumulator
from flockrl.runtime.episodes import EpisodeTracker
from flockrl.runtime.metrics import Metrics


class Policy(Protocol):
    """Maps a batch of observations to actions; `module` holds its weights."""

    module: torch.nn.Module

    def __call__(self, obs: np.ndarray, env_steps: int) -> np.ndarray: ...


class WeightSource(Protocol):
    """Where newer weights come from (a ParamStore handle, or a Ray object ref wrapper)."""

    @property
    def version(self) -> int: ...

    def pull(self, module: torch.nn.Module) -> int | None: ...


class EpsilonGreedy:
    """argmax_a Q(obs, a), replaced by a uniform random action with
    probability epsilon(env_steps) per env."""

    def __init__(self, module: torch.nn.Module, num_actions: int, epsilon: Callable[[int], float],
                 rng: np.random.Generator):
        self.module, self.num_actions, self.epsilon, self.rng = module, num_actions, epsilon, rng

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, env_steps: int) -> np.ndarray:
        greedy = self.module(torch.as_tensor(obs)).argmax(dim=1).numpy()
        explore = self.rng.random(len(obs)) < self.epsilon(env_steps)
        if explore.any():
            greedy[explore] = self.rng.integers(0, self.num_actions, int(explore.sum()))
        return greedy


def true_next_obs(next_obs: np.ndarray, infos: dict[str, Any], done: np.ndarray) -> np.ndarray:
    """With SAME_STEP autoreset, the observation each env really reached: the
    final one where an episode ended (dense for native envs, an object array
    for gymnasium's), else next_obs."""
    if not done.any() or "final_obs" not in infos:
        return next_obs
    final = infos["final_obs"]
    out = next_obs.copy()
    for i in np.flatnonzero(done & infos.get("_final_obs", done)):
        out[i] = final[i]
    return out


class Actor:
    """Runs `policy` in `env` until `should_stop()`; see the module docstring.

    env: a vector env in SAME_STEP autoreset mode (make_env in
    flockrl.runtime.envs builds one). sink(transitions) gets dicts of
    arrays ``obs, action, reward, next_obs, discount, version`` and returns
    False to stop the actor (e.g. an interrupted replay buffer).
    """

    def __init__(
        self,
        env: Any,
        policy: Policy,
        weights: WeightSource | None,
        sink: Callable[[dict[str, np.ndarray]], bool],
        metrics: Metrics,
        *,
        n_step: int = 1,
        gamma: float = 0.99,
        seed: int | None = None,
    ):
        if env.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError(f"env: expected autoreset_mode SAME_STEP, got {env.metadata.get('autoreset_mode')}")
        self.env, self.policy, self.weights, self.sink, self.metrics = env, policy, weights, sink, metrics
        self.nstep = NStepAccumulator(n_step, gamma, env.num_envs)
        self.version = 0  # of the weights acting now
        self.seed = seed
        self._obs: np.ndarray | None = None  # None until the first step resets the envs
        self._episodes = EpisodeTracker(env)

    def run(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            if not self.step():
                return

    def step(self) -> bool:
        """One step of every env (the first one resets them); False if the
        sink asked to stop. Calls may come in chunks: episodes carry over."""
        env, n = self.env, self.env.num_envs
        if self._obs is None:
            self._obs, _ = env.reset(seed=self.seed)
        obs = self._obs
        if self.weights is not None:
            version = self.weights.pull(self.policy.module)
            if version is not None:
                self.version = version
        actions = self.policy(obs, self.metrics.env_steps)
        next_obs, rewards, terminated, truncated, infos = env.step(actions)
        done = terminated | truncated
        transitions = self.nstep.push(obs, actions, rewards, true_next_obs(next_obs, infos, done),
                                      terminated, truncated)
        ended, returns, lengths = self._episodes.step(rewards, terminated, truncated, infos)
        if ended.any():
            self.metrics.add_episodes(returns, lengths)
        self._obs = next_obs
        inserted = len(transitions["reward"])
        if inserted:
            transitions["version"] = np.full(inserted, self.version, dtype=np.int64)
            if not self.sink(transitions):
                return False
        # Policy lag: versions published since the one acting now.
        lag = self.weights.version - self.version if self.weights is not None else 0
        self.metrics.add_steps(n, inserted, lag)
        return True
