"""Training an actor-critic learner on rollouts (PPO, IMPALA): actor
threads collect rollouts with their copy of the policy and hand them to the
learner (this thread) through a RolloutExchange, which enforces the sync
mode; the learner trains on them and publishes the new weights to a
ParamStore the actors pull from."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.actor_critic import greedy_actions, make_actor_critic
from flockrl.envs import make_vec
from flockrl.params import ParamStore
from flockrl.runtime.rollout import RolloutWorker
from flockrl.runtime.sync import Closed, RolloutExchange
from flockrl.runtime.training_run import TrainingRun, TrainResult, env_spaces, next_multiple


class RolloutTrainer(TrainingRun):
    """A run of a learner with ``net``, ``update(rollouts, env_steps) ->
    stats``, ``updates``, ``passes`` (times an update uses each transition)
    and ``state_dict``/``load_state_dict``; subclasses name the algorithm
    and build the learner."""

    def __init__(self, config: Any, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        """resume: continue the run whose checkpoint is in run_dir (ValueError
        if it is missing, corrupt or from another algorithm or network)."""
        super().__init__(config, run_dir, log)
        self.obs_space, self.action_space = env_spaces(config.env)
        torch.manual_seed(config.seed)
        self.learner = self.make_learner()
        if resume:
            self._resume()

    def make_learner(self) -> Any:
        raise NotImplementedError

    def _train(self) -> TrainResult:
        c = self.config
        store = ParamStore.create(f"{self.algo}-{os.getpid()}-{uuid.uuid4().hex[:8]}", self.learner.net)
        exchange = RolloutExchange(c.sync, c.num_actors, max_lag=c.max_lag)
        exchange.published(store.publish(self.learner.net))
        min_rollouts = c.rollouts_per_update or c.num_actors
        interrupted, stats = False, {}
        next_log = 0.0
        next_eval = next_multiple(self.metrics.env_steps, c.eval_interval)
        next_checkpoint = next_multiple(self.metrics.env_steps, c.checkpoint_interval)
        threads = self._start_actors(lambda i: self._run_actor(i, store.name, exchange), exchange.close)
        try:
            while self.metrics.env_steps < c.total_steps:
                rollouts = exchange.gather(min_rollouts, timeout=0.1)
                self._raise_actor_error()
                if rollouts is None:
                    continue
                self.metrics.add_policy_lags([exchange.version - r["version"] for r in rollouts])
                stats = self.learner.update(rollouts, self.metrics.env_steps)
                self.metrics.add_update(self.learner.passes * sum(r["reward"].size for r in rollouts))
                exchange.published(store.publish(self.learner.net))
                if self.metrics.env_steps >= next_eval:
                    next_eval = next_multiple(self.metrics.env_steps, c.eval_interval)
                    if self._evaluate() >= c.stop_at_return:
                        break
                if self.metrics.env_steps >= next_checkpoint:
                    next_checkpoint = next_multiple(self.metrics.env_steps, c.checkpoint_interval)
                    self._save_checkpoint()
                if time.monotonic() >= next_log:
                    self._report(stats)
                    next_log = time.monotonic() + 2.0
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self._stop.set()
            exchange.close()
            for t in threads:
                t.join()
            store.close()
        return self._finish(interrupted, stats)

    def _run_actor(self, index: int, store_name: str, exchange: RolloutExchange) -> None:
        c = self.config
        net = make_actor_critic(c, self.obs_space, self.action_space)
        weights = ParamStore.attach(store_name, net, copy_threads=1)
        seed = c.seed * 1000 + index * c.envs_per_actor + 1
        env = make_vec(c.env, c.envs_per_actor, seed=seed, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        held = 0

        def pull() -> int:
            nonlocal held
            held = weights.pull(net) or held
            return held

        try:
            worker = RolloutWorker(env, net, self.metrics, gamma=c.gamma, seed=seed, index=index)
            while not self._stop.is_set() and self._claim_steps(c.rollout_steps * c.envs_per_actor):
                version = exchange.begin(index, pull)
                exchange.submit(index, worker.collect(c.rollout_steps, version))
        except Closed:
            pass
        finally:
            env.close()
            weights.close()

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        return greedy_actions(self.learner.net, self.action_space, obs)


