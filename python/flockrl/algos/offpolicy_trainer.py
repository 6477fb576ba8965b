"""Training a replay-based algorithm (DQN, Ape-X, SAC, TD3) with the
actor-learner runtime: actor threads step their envs and add transitions
to a replay buffer; the learner (this thread) samples, updates, writes
priorities back and publishes weights to a ParamStore the actors pull
from. A samples-per-insert rate limiter keeps the two sides in step, so
learning does not depend on thread timing.

An algorithm subclasses OffPolicyTrainer and supplies its spaces (with
their checks), its learner (``update(batch)`` -> stats and, with
prioritized replay, ``priorities``; ``acting_net``, the module actors copy)
and ``acting``: how an actor acts, a static function so that Ray's remote
actors build the same policy.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.offpolicy_config import OffPolicyConfig
from flockrl.nets import is_image_space
from flockrl.params import ParamStore
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, SampleToInsertRatio, check_fits_in_memory
from flockrl.runtime.actor import Actor, Policy
from flockrl.runtime.pause_gate import PauseGate
from flockrl.runtime.training_run import TrainingRun, TrainResult, new_run_store

Acting = tuple[torch.nn.Module, Policy, Callable[[dict[str, np.ndarray]], np.ndarray] | None]
"""An actor's network (weights pulled into it), its policy, and the initial
priorities of what it adds (None: new items enter at the maximum)."""


class OffPolicyTrainer(TrainingRun):
    algo = ""

    def __init__(self, config: OffPolicyConfig, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        """resume: continue the run whose checkpoint is in run_dir (ValueError
        if it is missing, corrupt or from another algorithm or network)."""
        super().__init__(config, run_dir, log)
        self.config: OffPolicyConfig = config
        self.obs_space, self.action_space = self.spaces(config)
        torch.manual_seed(config.seed)
        self.learner = self.make_learner()
        # Stacked image observations are stored one frame each (flockrl.replay).
        self.frame_stack = ("obs", "next_obs") if is_image_space(self.obs_space) else ()
        buffer_class = PrioritizedReplayBuffer if config.prioritized else ReplayBuffer
        # Now, not when training starts: an oversized buffer_size is a config error.
        check_fits_in_memory(buffer_class.nbytes_for(config.buffer_size, self.replay_fields(), self.frame_stack),
                             f"buffer_size {config.buffer_size} of {config.env} transitions")
        self.replay: Any = None  # a ReplayBuffer, or the Ray backend's ShardedReplay
        self._gate = PauseGate()  # actors' adds, paused for mid-run replay saves
        if resume:
            self._resume()

    # -- what an algorithm supplies -------------------------------------------------

    @staticmethod
    def spaces(config: Any) -> tuple[gym.spaces.Box, gym.Space]:
        """The env's observation and action spaces, checked for the algorithm."""
        raise NotImplementedError

    def make_learner(self) -> Any:
        raise NotImplementedError

    @staticmethod
    def acting(config: Any, obs_space: gym.Space, action_space: gym.Space, index: int,
               rng: np.random.Generator) -> Acting:
        """Actor `index`'s network, policy and initial priorities."""
        raise NotImplementedError

    # -- training -------------------------------------------------------------------

    def _train(self) -> TrainResult:
        if self.config.backend == "ray":
            from flockrl.distributed.offpolicy import train_on_ray

            return train_on_ray(self)
        c = self.config
        replay = self.replay = self._make_replay()
        if self.resumed and c.save_replay and (self.run_dir / "replay.bin").exists():
            replay.load(self.run_dir / "replay.bin")
            print(f"replay restored: {len(replay)} transitions", file=self.log)
        store = new_run_store(self.algo, self.learner.acting_net)
        step = self._learner_step(lambda: self._sample(replay), replay, store.publish)
        # replay.interrupt() wakes actors the rate limiter holds.
        threads = self._start_actors(lambda i: self._run_actor(i, store.name, replay), replay.interrupt)
        return self._learner_loop(step, threads, replay.interrupt, store.close)

    def _learner_step(self, sample: Callable[[], dict[str, Any] | None], replay: Any,
                      publish: Callable[[torch.nn.Module], Any]) -> Callable[[], None]:
        """One learner iteration: sample() a batch (None: not allowed yet),
        update, write priorities back to `replay`, publish every
        publish_interval updates."""
        c = self.config
        self._stats = {name: float("nan") for name in self.stat_columns}

        def step() -> None:
            batch = sample()
            if batch is None:  # the rate limiter (or learning_starts) wants more data first
                return
            out = self.learner.update(batch)
            self._stats = {name: out[name] for name in self.stat_columns}  # tensors, read only when reported
            if c.prioritized:
                replay.update_priorities(batch["handles"], out["priorities"])
            self.metrics.add_update(c.batch_size)
            if self.learner.updates % c.publish_interval == 0:
                publish(self.learner.acting_net)

        return step

    # -- pieces -------------------------------------------------------------------

    def replay_fields(self) -> dict[str, Any]:
        obs = (self.obs_space.shape, self.obs_space.dtype)
        if isinstance(self.action_space, gym.spaces.Discrete):
            action = ((), np.int64)
        else:
            action = (self.action_space.shape, np.float32)
        return {"obs": obs, "action": action, "reward": ((), np.float32), "next_obs": obs,
                "discount": ((), np.float32), "version": ((), np.int64)}

    def limiter_slack(self, largest_add: int) -> float:
        """The rate limiter's error_buffer for adds of up to largest_add items."""
        c = self.config
        # Slack of ~32 sample or actor-step batches: actors and learner each
        # run ahead a little instead of waking each other for every batch.
        # Not 32 of the rare n-step flushes: the actor would run further
        # ahead of learning (and of learning_starts) the larger n_step is.
        return max(32.0 * max(c.batch_size, c.samples_per_insert * c.envs_per_actor),
                   c.samples_per_insert * largest_add)

    def _make_replay(self) -> ReplayBuffer:
        c = self.config
        largest_add = c.envs_per_actor * c.n_step  # an episode end flushes up to n_step per env
        limiter = None if c.samples_per_insert == 0 else SampleToInsertRatio(
            samples_per_insert=c.samples_per_insert, min_size_to_sample=max(1, c.learning_starts),
            error_buffer=self.limiter_slack(largest_add))
        fields = self.replay_fields()
        if c.prioritized:
            return PrioritizedReplayBuffer(c.buffer_size, fields, alpha=c.alpha, seed=c.seed, rate_limiter=limiter,
                                           frame_stack=self.frame_stack)
        return ReplayBuffer(c.buffer_size, fields, seed=c.seed, rate_limiter=limiter, frame_stack=self.frame_stack)

    def _sample(self, replay: ReplayBuffer) -> dict[str, Any] | None:
        c = self.config
        if c.samples_per_insert == 0 and len(replay) < max(c.learning_starts, 1):
            time.sleep(0.01)  # no rate limiter to wait on
            return None
        kwargs = {"beta": c.beta(self.metrics.env_steps)} if c.prioritized else {}
        return replay.sample(c.batch_size, timeout=0.05, device=self.device, **kwargs)

    def _run_actor(self, index: int, store_name: str, replay: ReplayBuffer) -> None:
        c = self.config
        net, policy, initial_priorities = self.acting(c, self.obs_space, self.action_space, index,
                                                      np.random.default_rng([c.seed, index]))
        weights = ParamStore.attach(store_name, net, copy_threads=1)

        def sink(tr: dict[str, np.ndarray]) -> bool:
            priorities = initial_priorities(tr) if initial_priorities is not None else None
            # Short waits on the rate limiter, each inside the pause gate, so a
            # mid-run replay save never waits for an actor the limiter holds.
            while not self._stop.is_set():
                with self._gate.passage():
                    if replay.add(**tr, priorities=priorities, timeout=0.05):
                        return True
            return False

        env, _ = self._make_actor_env(index)
        try:
            Actor(env, policy, weights, sink, self.metrics, n_step=c.n_step, gamma=c.gamma).run(
                self._actors_should_stop)
        finally:
            env.close()
            weights.close()

    def _save_checkpoint(self, final: bool) -> None:
        """The checkpoint, and with save_replay the replay (replay.bin, also
        atomic) as of the same moment: mid-run, with the actors paused
        between their adds (the learner, saving, changes nothing either)."""
        if self.run_dir is None or self.replay is None or not self.config.save_replay:
            super()._save_checkpoint(final)
            return
        with self._gate.paused():
            self.replay.save(self.run_dir / "replay.bin")  # the Ray backend's shards: replay.bin.<k>
            super()._save_checkpoint(final)
