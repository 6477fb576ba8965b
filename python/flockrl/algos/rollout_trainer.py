"""Training an actor-critic learner on rollouts (PPO, IMPALA): actor
threads collect rollouts with their copy of the policy and hand them to the
learner (this thread) through a RolloutExchange, which enforces the sync
mode; the learner trains on them and publishes the new weights to a
ParamStore the actors pull from."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flockrl.algos.actor_critic import greedy_actions, make_actor_critic
from flockrl.runtime.rollout import RolloutWorker
from flockrl.runtime.sync import Closed, RolloutExchange
from flockrl.runtime.training_run import TrainingRun, TrainResult, env_spaces, new_run_store


class RolloutTrainer(TrainingRun):
    """A run of a learner with ``net``, ``update(rollouts, env_steps, fresh)
    -> stats`` (fresh: every rollout came from the learner's current
    weights), ``updates``, ``passes`` (times an update uses each transition)
    and ``state_dict``/``load_state_dict``; subclasses name the algorithm
    and build the learner."""

    def __init__(self, config: Any, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        """resume: continue the run whose checkpoint is in run_dir (ValueError
        if it is missing, corrupt or from another algorithm or network)."""
        super().__init__(config, run_dir, log)
        self.obs_space, self.action_space = env_spaces(config.env, config.env_kwarg_values())
        torch.manual_seed(config.seed)
        self.group = self.make_group()
        self._trained_steps = 0
        self.learner = self.make_learner()
        if self.group is not None:
            self.group.broadcast_module(self.learner.net)
        if resume:
            self._resume()

    @property
    def env_steps(self) -> int:
        """The env steps trained on (times the learners, with several): the
        loop runs until every collected step is learned from, and with
        several learners every rank has the same count at the same update
        (the actors' live count is not), so they evaluate and stop together."""
        return self._trained_steps * self.world_size

    def make_learner(self) -> Any:
        raise NotImplementedError

    def make_group(self) -> Any:
        """The data-parallel learner group this process belongs to (None: learns alone)."""
        return None

    def _train(self) -> TrainResult:
        c = self.config
        if c.backend == "ray":
            from flockrl.distributed.rollouts import train_on_ray

            return train_on_ray(self)
        store = new_run_store(self.algo, self.learner.net)
        exchange = RolloutExchange(c.sync, c.num_actors, max_lag=c.max_lag)
        step = self._learner_step(exchange, store.publish)
        threads = self._start_actors(lambda i: self._run_actor(i, store.name, exchange), exchange.close)
        return self._learner_loop(step, threads, exchange.close, store.close)

    def _learner_step(self, exchange: RolloutExchange, publish: Callable[[Any], int]) -> Callable[[], bool]:
        """Publishes the learner's weights (version 1); then one learner
        iteration: gather the rollouts the sync mode allows, update, publish."""
        c = self.config
        exchange.published(publish(self.learner.net))
        min_rollouts = c.rollouts_per_update or c.num_actors
        self._trained_steps = self.metrics.env_steps

        def step() -> bool:
            try:
                rollouts = exchange.gather(min_rollouts, timeout=0.1)
            except Closed:  # an actor failed and closed the exchange
                self._raise_actor_error()
                raise
            if rollouts is None:
                return False
            lags = [exchange.version - r["version"] for r in rollouts]
            self.metrics.add_policy_lags(lags)
            self._stats = self.learner.update(rollouts, self.env_steps, fresh=not any(lags))
            transitions = sum(r["reward"].size for r in rollouts)
            self._trained_steps += transitions
            self.metrics.add_update(self.learner.passes * transitions)
            exchange.published(publish(self.learner.net))
            return True

        return step

    def _run_actor(self, index: int, store_name: str, exchange: RolloutExchange) -> None:
        c = self.config
        with self._actor_parts(index, store_name, make_actor_critic(c, self.obs_space, self.action_space)) as (
                weights, env, seed):
            worker = RolloutWorker(env, weights.module, self.metrics, gamma=c.gamma, seed=seed, index=index)
            while not self._stop.is_set() and self._claim_steps(c.rollout_steps * c.envs_per_actor):
                version = exchange.begin(index, weights.pull)
                exchange.submit(index, worker.collect(c.rollout_steps, version))
            exchange.retire(index)

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        return greedy_actions(self.learner.net, self.action_space, obs)


