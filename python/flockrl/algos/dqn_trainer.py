"""Training DQN with the actor-learner runtime: actor threads step their
envs and add transitions to a replay buffer; the learner (this thread)
samples, updates, writes priorities back and publishes weights to a
ParamStore the actors pull from. A samples-per-insert rate limiter keeps
the two sides in step, so learning does not depend on thread timing.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from flockrl.algos.dqn import ApexConfig, DQNConfig, DQNLearner, QNetwork
from flockrl.envs import make_vec
from flockrl.params import ParamStore
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, SampleToInsertRatio
from flockrl.runtime.actor import Actor, EpsilonGreedy
from flockrl.runtime.checkpoint import load_checkpoint, save_checkpoint
from flockrl.runtime.denormals import flush_denormals
from flockrl.runtime.evaluate import evaluate
from flockrl.runtime.logger import RunLogger
from flockrl.runtime.metrics import Metrics

@dataclass
class TrainResult:
    env_steps: int
    updates: int
    seconds: float
    interrupted: bool
    evaluations: list[dict[str, float]] = field(default_factory=list)
    """{"env_steps", "mean", "std", "train_seconds"} after every evaluation;
    train_seconds is the wall time so far minus time spent evaluating."""

    @property
    def final_eval(self) -> dict[str, float] | None:
        return self.evaluations[-1] if self.evaluations else None


@torch.no_grad()
def initial_priorities(net: torch.nn.Module, tr: dict[str, np.ndarray]) -> np.ndarray:
    """Ape-X actors' priorities: |n-step TD error| under the actor's own copy
    of the network, |R + discount * max_a Q(s', a) - Q(s, a)|."""
    q = net(torch.as_tensor(tr["obs"])).gather(1, torch.as_tensor(tr["action"])[:, None]).squeeze(1)
    next_value = net(torch.as_tensor(tr["next_obs"])).max(dim=1).values
    target = torch.as_tensor(tr["reward"]) + torch.as_tensor(tr["discount"]) * next_value
    return (target - q).abs().double().numpy()


def policy_from_checkpoint(path: str | Path) -> tuple[DQNConfig, Any]:
    """The config and greedy action function (CPU) of a DQN/Ape-X checkpoint."""
    state = load_checkpoint(path)
    config_cls = {"dqn": DQNConfig, "apex": ApexConfig}.get(state.get("algo"))
    if config_cls is None:
        raise ValueError(f"{path}: a checkpoint of {state.get('algo')!r}, expected dqn or apex")
    config = config_cls().replace(state["config"])
    obs_shape, num_actions = env_shapes(config.env)
    net = QNetwork(int(np.prod(obs_shape)), num_actions, config.hidden_sizes, config.dueling)
    net.load_state_dict(state["learner"]["online"])

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        return net(torch.as_tensor(obs)).argmax(dim=1).numpy()

    return config, act


def _next_multiple(value: int, interval: int) -> float:
    """The first multiple of interval above value (inf for interval 0)."""
    return (value // interval + 1) * interval if interval > 0 else math.inf


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"config device: expected 'auto', 'cpu' or 'cuda[:N]', got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"config device: {name!r} asked for, but torch sees no CUDA device")
    return device


def env_shapes(env_id: str) -> tuple[tuple[int, ...], int]:
    """Observation shape and number of actions; DQN needs discrete actions."""
    env = make_vec(env_id, 1)
    try:
        obs_space, act_space = env.single_observation_space, env.single_action_space
    finally:
        env.close()
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"{env_id}: DQN needs a Discrete action space, got {act_space}")
    if not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(f"{env_id}: DQN needs a Box observation space, got {obs_space}")
    return tuple(obs_space.shape), int(act_space.n)


class DQNTrainer:
    """One training run of DQN, or of Ape-X when given an ApexConfig: then
    each actor explores with its own fixed epsilon and computes the initial
    priorities of what it adds; otherwise every actor follows the config's
    decaying epsilon and new items enter at the maximum priority."""

    def __init__(self, config: DQNConfig, run_dir: str | Path | None = None, log: Any = sys.stderr,
                 resume: bool = False):
        """resume: continue the run whose checkpoint is in run_dir (ValueError
        if it is missing, corrupt or from another algorithm or network)."""
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.apex = isinstance(config, ApexConfig)
        self.resumed = resume
        if resume and self.run_dir is None:
            raise ValueError("resume needs the run directory")
        self.log = log
        self.device = resolve_device(config.device)
        self.obs_shape, self.num_actions = env_shapes(config.env)
        obs_dim = int(np.prod(self.obs_shape))
        torch.manual_seed(config.seed)
        self.learner = DQNLearner(config, obs_dim, self.num_actions, self.device)
        self.metrics = Metrics()
        self.evaluations: list[dict[str, float]] = []
        self._started = time.monotonic()
        self._eval_seconds = 0.0
        self._train_seconds_before = 0.0  # by earlier runs this one resumes
        self._stop = threading.Event()
        self._actor_errors: list[BaseException] = []
        if resume:
            self._resume()

    # -- the run ------------------------------------------------------------------

    def train(self) -> TrainResult:
        """Runs to total_steps or Ctrl-C (then stops cleanly: actors joined,
        shared memory removed, a final checkpoint written)."""
        threads_before = torch.get_num_threads()
        # Small nets gain nothing from intra-op threads; the actors need the cores.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - self.config.num_actors))
        try:
            with flush_denormals():  # the actor threads inherit it
                return self._train()
        finally:
            torch.set_num_threads(threads_before)

    def _train(self) -> TrainResult:
        c = self.config
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps({"algo": self.algo, **c.to_dict()}, indent=2))
        replay = self._make_replay()
        if self.resumed and c.save_replay and (self.run_dir / "replay.bin").exists():
            replay.load(self.run_dir / "replay.bin")
        store = ParamStore.create(f"{self.algo}-{os.getpid()}-{uuid.uuid4().hex[:8]}", self.learner.online)
        threads = [threading.Thread(target=self._run_actor, args=(i, store.name, replay), name=f"flockrl-actor-{i}",
                                    daemon=True) for i in range(c.num_actors)]
        self.logger = RunLogger(self.run_dir, self.log, c.total_steps, append=self.resumed)
        self._started, interrupted, loss = time.monotonic(), False, float("nan")
        next_log = 0.0
        next_eval = _next_multiple(self.metrics.env_steps, c.eval_interval)
        next_checkpoint = _next_multiple(self.metrics.env_steps, c.checkpoint_interval)
        try:
            for t in threads:
                t.start()
            while self.metrics.env_steps < c.total_steps:
                self._raise_actor_error()
                batch = self._sample(replay)
                if batch is None:  # the rate limiter (or learning_starts) wants more data first
                    continue
                out = self.learner.update(batch)
                loss = out["loss"]  # a tensor, read only when reported
                if c.prioritized:
                    replay.update_priorities(batch["handles"], out["priorities"])
                self.metrics.add_update(c.batch_size)
                if self.learner.updates % c.publish_interval == 0:
                    store.publish(self.learner.online)
                now = time.monotonic()
                if self.metrics.env_steps >= next_eval:
                    next_eval += c.eval_interval
                    if self._evaluate() >= c.stop_at_return:
                        break
                if self.metrics.env_steps >= next_checkpoint:
                    next_checkpoint += c.checkpoint_interval
                    self._save_checkpoint(None)  # the replay only once actors are stopped
                if now >= next_log:
                    self._report(loss)
                    next_log = now + 2.0
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self._stop.set()
            replay.interrupt()  # wakes actors the rate limiter holds
            for t in threads:
                t.join()
            store.close()
        if not interrupted:
            self._raise_actor_error()
            if not self.evaluations or self.evaluations[-1]["env_steps"] != self.metrics.env_steps:
                self._evaluate()
        self._report(loss)
        self.logger.close()
        self._save_checkpoint(replay)
        return TrainResult(self.metrics.env_steps, self.learner.updates, time.monotonic() - self._started,
                           interrupted, self.evaluations)

    # -- pieces -------------------------------------------------------------------

    @property
    def algo(self) -> str:
        return "apex" if self.apex else "dqn"

    def _make_replay(self) -> ReplayBuffer:
        c = self.config
        fields = {"obs": (self.obs_shape, np.float32), "action": ((), np.int64), "reward": ((), np.float32),
                  "next_obs": (self.obs_shape, np.float32), "discount": ((), np.float32),
                  "version": ((), np.int64)}
        largest_add = c.envs_per_actor * c.n_step  # an episode end flushes up to n_step per env
        limiter = None if c.samples_per_insert == 0 else SampleToInsertRatio(
            samples_per_insert=c.samples_per_insert,
            min_size_to_sample=max(1, c.learning_starts),
            # Slack of ~32 sample or actor-step batches: actors and learner each
            # run ahead a little instead of waking each other for every batch.
            # Not 32 of the rare n-step flushes: the actor would run further
            # ahead of learning (and of learning_starts) the larger n_step is.
            error_buffer=max(32.0 * max(c.batch_size, c.samples_per_insert * c.envs_per_actor),
                             c.samples_per_insert * largest_add),
        )
        if c.prioritized:
            return PrioritizedReplayBuffer(c.buffer_size, fields, alpha=c.alpha, seed=c.seed, rate_limiter=limiter)
        return ReplayBuffer(c.buffer_size, fields, seed=c.seed, rate_limiter=limiter)

    def _sample(self, replay: ReplayBuffer) -> dict[str, Any] | None:
        c = self.config
        if c.samples_per_insert == 0 and len(replay) < max(c.learning_starts, 1):
            time.sleep(0.01)  # no rate limiter to wait on
            return None
        kwargs = {"beta": c.beta(self.metrics.env_steps)} if c.prioritized else {}
        return replay.sample(c.batch_size, timeout=0.05, device=self.device, **kwargs)

    def _run_actor(self, index: int, store_name: str, replay: ReplayBuffer) -> None:
        c = self.config
        try:
            net = QNetwork(int(np.prod(self.obs_shape)), self.num_actions, c.hidden_sizes, c.dueling)
            weights = ParamStore.attach(store_name, net, copy_threads=1)
            rng = np.random.default_rng([c.seed, index])
            if isinstance(c, ApexConfig):
                fixed = c.actor_epsilons()[index]
                policy = EpsilonGreedy(net, self.num_actions, lambda _: fixed, rng)

                def sink(tr: dict[str, np.ndarray]) -> bool:
                    return replay.add(**tr, priorities=initial_priorities(net, tr))
            else:
                policy = EpsilonGreedy(net, self.num_actions, c.epsilon, rng)

                def sink(tr: dict[str, np.ndarray]) -> bool:
                    return replay.add(**tr)
            env = make_vec(c.env, c.envs_per_actor, seed=c.seed * 1000 + index * c.envs_per_actor + 1,
                           autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
            actor = Actor(env, policy, weights, sink, self.metrics, n_step=c.n_step, gamma=c.gamma)
            try:
                actor.run(lambda: self._stop.is_set() or self.metrics.env_steps >= c.total_steps)
            finally:
                env.close()
                weights.close()
        except BaseException as e:  # surfaced by the learner loop
            self._actor_errors.append(e)
            self._stop.set()
            replay.interrupt()

    def _raise_actor_error(self) -> None:
        if self._actor_errors:
            raise RuntimeError("an actor thread failed") from self._actor_errors[0]

    def greedy_action(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.learner.online(torch.as_tensor(obs, device=self.device)).argmax(dim=1).cpu().numpy()

    def _evaluate(self) -> float:
        """Greedy evaluation; returns the mean return."""
        c = self.config
        t0 = time.monotonic()
        train_seconds = self._train_seconds()
        returns = evaluate(self.greedy_action, c.env, c.eval_episodes, seed=10_000 + c.seed)
        self._eval_seconds += time.monotonic() - t0
        result = {"env_steps": self.metrics.env_steps, "mean": float(returns.mean()), "std": float(returns.std()),
                  "train_seconds": train_seconds}
        self.evaluations.append(result)
        self.logger.evaluation(result, c.eval_episodes)
        return result["mean"]

    def _train_seconds(self) -> float:
        """Wall time spent training (not evaluating), earlier runs included."""
        return self._train_seconds_before + time.monotonic() - self._started - self._eval_seconds

    def _report(self, loss: float | torch.Tensor) -> None:
        self.logger.progress({**self.metrics.snapshot(), "loss": float(loss)})

    def _save_checkpoint(self, replay: ReplayBuffer | None) -> None:
        """checkpoint.pt in the run directory, written atomically, and with
        save_replay the replay (replay.bin, also atomic) when given: only at
        the end, since saving needs the actors stopped."""
        if self.run_dir is None:
            return
        if replay is not None and self.config.save_replay:
            replay.save(self.run_dir / "replay.bin")
        save_checkpoint(self.run_dir / "checkpoint.pt", {
            "algo": self.algo,
            "config": self.config.to_dict(),
            "learner": self.learner.state_dict(),
            "env_steps": self.metrics.env_steps,
            "train_seconds": self._train_seconds(),
            "wall_seconds": self.metrics.elapsed(),
            "evaluations": self.evaluations,
            "torch_rng": torch.get_rng_state(),
        })

    def _resume(self) -> None:
        """Continue the run in run_dir: weights, optimizer, target, update and
        env-step counts, evaluations; the replay too if it was saved."""
        assert self.run_dir is not None
        state = load_checkpoint(self.run_dir / "checkpoint.pt")
        if state.get("algo") != self.algo:
            raise ValueError(f"{self.run_dir}: the checkpoint is from {state.get('algo')!r}, not {self.algo!r}")
        try:
            self.learner.load_state_dict(state["learner"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise ValueError(f"{self.run_dir}: the checkpoint does not fit this config's network ({e})") from None
        self.metrics = Metrics(env_steps=int(state["env_steps"]), seconds=float(state["wall_seconds"]))
        self._train_seconds_before = float(state["train_seconds"])
        self.evaluations = list(state["evaluations"])
        torch.set_rng_state(state["torch_rng"])
