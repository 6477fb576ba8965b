"""Training DQN with the actor-learner runtime: actor threads step their
envs and add transitions to a replay buffer; the learner (this thread)
samples, updates, writes priorities back and publishes weights to a
ParamStore the actors pull from. A samples-per-insert rate limiter keeps
the two sides in step, so learning does not depend on thread timing.
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

from flockrl.algos.dqn import ApexConfig, DQNConfig, DQNLearner, make_q_network
from flockrl.nets import is_image_space
from flockrl.params import ParamStore
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, SampleToInsertRatio, check_fits_in_memory
from flockrl.runtime.actor import Actor, EpsilonGreedy
from flockrl.runtime.pause_gate import PauseGate
from flockrl.runtime.training_run import TrainingRun, TrainResult, env_spaces, new_run_store


@torch.no_grad()
def initial_priorities(net: torch.nn.Module, tr: dict[str, np.ndarray]) -> np.ndarray:
    """Ape-X actors' priorities: |n-step TD error| under the actor's own copy
    of the network, |R + discount * max_a Q(s', a) - Q(s, a)|."""
    q = net(torch.as_tensor(tr["obs"])).gather(1, torch.as_tensor(tr["action"])[:, None]).squeeze(1)
    next_value = net(torch.as_tensor(tr["next_obs"])).max(dim=1).values
    target = torch.as_tensor(tr["reward"]) + torch.as_tensor(tr["discount"]) * next_value
    return (target - q).abs().double().numpy()


def greedy_policy(config: DQNConfig, online_state: dict[str, Any]) -> Any:
    """The greedy action function (CPU) of a Q-network's saved weights."""
    obs_space, num_actions = q_learning_spaces(config)
    net = make_q_network(config, obs_space, num_actions)
    net.load_state_dict(online_state)

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        return net(torch.as_tensor(obs)).argmax(dim=1).numpy()

    return act


def q_learning_spaces(config: DQNConfig) -> tuple[gym.spaces.Box, int]:
    """The observation space and number of actions; DQN needs discrete actions."""
    obs_space, act_space = env_spaces(config.env, config.env_kwarg_values())
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"{config.env}: DQN needs a Discrete action space, got {act_space}")
    if not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(f"{config.env}: DQN needs a Box observation space, got {obs_space}")
    return obs_space, int(act_space.n)


class DQNTrainer(TrainingRun):
    """One training run of DQN, or of Ape-X when given an ApexConfig: then
    each actor explores with its own fixed epsilon and computes the initial
    priorities of what it adds; otherwise every actor follows the config's
    decaying epsilon and new items enter at the maximum priority."""

    stat_columns = ("loss",)

    def __init__(self, config: DQNConfig, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        """resume: continue the run whose checkpoint is in run_dir (ValueError
        if it is missing, corrupt or from another algorithm or network)."""
        super().__init__(config, run_dir, log)
        self.config: DQNConfig = config
        self.apex = isinstance(config, ApexConfig)
        self.algo = "apex" if self.apex else "dqn"
        self.obs_space, self.num_actions = q_learning_spaces(config)
        torch.manual_seed(config.seed)
        self.learner = DQNLearner(config, self.obs_space, self.num_actions, self.device)
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

    def _train(self) -> TrainResult:
        if self.config.backend == "ray":
            from flockrl.distributed.offpolicy import train_on_ray

            return train_on_ray(self)
        c = self.config
        replay = self.replay = self._make_replay()
        if self.resumed and c.save_replay and (self.run_dir / "replay.bin").exists():
            replay.load(self.run_dir / "replay.bin")
            print(f"replay restored: {len(replay)} transitions", file=self.log)
        store = new_run_store(self.algo, self.learner.online)
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
        self._stats = {"loss": float("nan")}

        def step() -> None:
            batch = sample()
            if batch is None:  # the rate limiter (or learning_starts) wants more data first
                return
            out = self.learner.update(batch)
            self._stats = {"loss": out["loss"]}  # a tensor, read only when reported
            if c.prioritized:
                replay.update_priorities(batch["handles"], out["priorities"])
            self.metrics.add_update(c.batch_size)
            if self.learner.updates % c.publish_interval == 0:
                publish(self.learner.online)

        return step

    # -- pieces -------------------------------------------------------------------

    def replay_fields(self) -> dict[str, Any]:
        obs = (self.obs_space.shape, self.obs_space.dtype)
        return {"obs": obs, "action": ((), np.int64), "reward": ((), np.float32), "next_obs": obs,
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
        net = make_q_network(c, self.obs_space, self.num_actions)
        weights = ParamStore.attach(store_name, net, copy_threads=1)
        rng = np.random.default_rng([c.seed, index])
        if isinstance(c, ApexConfig):
            fixed = c.actor_epsilons()[index]
            policy = EpsilonGreedy(net, self.num_actions, lambda _: fixed, rng)
        else:
            policy = EpsilonGreedy(net, self.num_actions, c.epsilon, rng)

        def sink(tr: dict[str, np.ndarray]) -> bool:
            priorities = initial_priorities(net, tr) if isinstance(c, ApexConfig) else None
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

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.learner.online(torch.as_tensor(obs, device=self.device)).argmax(dim=1).cpu().numpy()

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
