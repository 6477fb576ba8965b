"""Training A3C: worker threads pull the shared weights from a ParamStore,
collect a short rollout, compute an actor-critic gradient on their own
copy and hand it on, by sync mode:

    async        the worker applies it to the shared weights itself
                 (Hogwild: no lock; shared optimizer statistics)
    coordinator  a parameter-server thread applies gradients in arrival order
    sync         A2C: the learner (this thread) averages one gradient per
                 worker, all computed on the same version, and applies it
    bounded      the learner averages what arrived, every gradient computed
                 on weights at most max_lag versions old
    fedavg       each worker trains its local copy with its own optimizer
                 for fedavg_interval updates; the learner then averages the
                 copies, weighted by samples, and every worker starts the
                 next round from the average

Every update is published; policy lag is logged in every mode."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flockrl.algos.a3c import A3CConfig, A3CLearner, actor_critic_loss, average, gradients
from flockrl.algos.actor_critic import ActorCritic, greedy_actions, make_actor_critic
from flockrl.runtime.rollout import RolloutWorker
from flockrl.runtime.sync import Closed, RolloutExchange
from flockrl.runtime.training_run import TrainingRun, TrainResult, env_spaces, new_run_store


class A3CTrainer(TrainingRun):
    algo = "a3c"
    stat_columns = ("policy_loss", "value_loss", "entropy")

    def __init__(self, config: A3CConfig, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        super().__init__(config, run_dir, log)
        self.config: A3CConfig = config
        self.obs_space, self.action_space = env_spaces(config.env, config.env_kwarg_values())
        torch.manual_seed(config.seed)
        self.learner = A3CLearner(config, self.obs_space, self.action_space)
        self._eval_net = self._make_net()
        self._applied_steps = 0
        self._stats: dict[str, float] = {}
        if resume:
            self._resume()

    @property
    def env_steps(self) -> int:
        """Where the learner applies what the workers send (sync, bounded,
        fedavg), the steps applied, so the run ends once everything
        collected is learned from; otherwise the workers' own count."""
        return self._applied_steps if self.config.sync in ("sync", "bounded", "fedavg") else self.metrics.env_steps

    def _make_net(self) -> ActorCritic:
        return make_actor_critic(self.config, self.obs_space, self.action_space)

    def _train(self) -> TrainResult:
        c = self.config
        self._store = store = new_run_store("a3c", self.learner.net)
        optimizer = self.learner.start(store)
        self._applied_steps = self.metrics.env_steps
        exchange = None
        if c.sync in ("sync", "bounded", "fedavg"):  # fedavg's rounds are synchronous
            exchange = RolloutExchange("sync" if c.sync == "fedavg" else c.sync, c.num_actors, max_lag=c.max_lag)
        version = store.publish(self.learner.net)
        if exchange is not None:
            exchange.published(version)
        if exchange is None:  # the workers apply their own updates
            step = lambda: time.sleep(0.01)  # noqa: E731
        else:
            step = lambda: self._apply_gathered(exchange, optimizer)  # noqa: E731

        def cleanup() -> None:
            optimizer.close()
            store.close()

        wake = exchange.close if exchange is not None else (lambda: None)
        threads = self._start_actors(lambda i: self._run_worker(i, store.name, exchange, optimizer), wake)
        return self._learner_loop(step, threads, wake, cleanup)

    def _apply_gathered(self, exchange: RolloutExchange, optimizer: Any) -> None:
        """sync and bounded: one update, the gathered gradients averaged;
        fedavg: the gathered weights averaged."""
        try:
            gathered = exchange.gather(1, timeout=0.1)
        except Closed:  # a worker failed and closed the exchange
            self._raise_actor_error()
            raise
        if gathered is None:
            return
        self.metrics.add_policy_lags([exchange.version - g["version"] for g in gathered])
        steps = [g["steps"] for g in gathered]
        if self.config.sync == "fedavg":
            self.learner.federated_average([g["weights"] for g in gathered], steps)
            self._store.publish(self.learner.net)
        else:
            optimizer.push(average([g["grads"] for g in gathered], steps))
        self.metrics.add_update(sum(steps))
        self._applied_steps += sum(steps)
        exchange.published(self._store.version)

    def _run_worker(self, index: int, store_name: str, exchange: RolloutExchange | None, optimizer: Any) -> None:
        c = self.config
        with self._actor_parts(index, store_name, self._make_net()) as (weights, env, seed):
            net, pull = weights.module, weights.pull
            worker = RolloutWorker(env, net, self.metrics, gamma=c.gamma, seed=seed, index=index)
            if c.sync == "fedavg":
                self._run_fedavg_rounds(index, worker, pull, exchange)
            steps = c.rollout_steps * c.envs_per_actor
            while c.sync != "fedavg" and not self._stop.is_set() and self._claim_steps(steps):
                version = exchange.begin(index, pull) if exchange is not None else pull()
                rollout = worker.collect(c.rollout_steps, version)
                loss, self._stats = actor_critic_loss(net, rollout, c)
                grads = gradients(net, loss, c.max_grad_norm)
                if exchange is not None:
                    exchange.submit(index, {"grads": grads, "version": version, "steps": steps})
                    continue
                self.metrics.add_policy_lags([weights.newest - version])
                optimizer.push(grads)
                self.metrics.add_update(steps)
            if exchange is not None:
                exchange.retire(index)

    def _run_fedavg_rounds(self, index: int, worker: RolloutWorker, pull: Any, exchange: RolloutExchange) -> None:
        c, net = self.config, worker.net
        optimizer = self.learner.local_optimizer(net)
        steps = c.rollout_steps * c.envs_per_actor
        while not self._stop.is_set():
            version = exchange.begin(index, pull)  # the newest average
            trained = 0
            for _ in range(c.fedavg_interval):
                if not self._claim_steps(steps):
                    break
                loss, self._stats = actor_critic_loss(net, worker.collect(c.rollout_steps, version), c)
                gradients(net, loss, c.max_grad_norm)
                optimizer.step()
                trained += steps
            if trained == 0:
                return
            exchange.submit(index, {"weights": {k: v.clone() for k, v in net.state_dict().items()},
                                    "version": version, "steps": trained})

    def _before_evaluation(self) -> None:
        # Evaluate a snapshot of the newest weights: the shared ones change under Hogwild.
        self._eval_net.load_state_dict(self.learner.net.state_dict())

    def _evaluated_state(self) -> dict[str, Any]:
        return {**self.learner.state_dict(), "net": self._eval_net.state_dict()}

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        return greedy_actions(self._eval_net, self.action_space, obs)
