"""PPO on the rollout runtime (see rollout_trainer.py), and DPPO: when this
process is one of several learners (torchrun's variables, or `flockrl train
ppo --learners N`), each runs its own actors and the learners average
their gradients every minibatch."""

from __future__ import annotations

from flockrl.algos.ppo import STAT_NAMES, PPOLearner
from flockrl.algos.rollout_trainer import RolloutTrainer
from flockrl.runtime.learner_group import LearnerGroup


class PPOTrainer(RolloutTrainer):
    algo = "ppo"
    stat_columns = STAT_NAMES

    def make_learner(self) -> PPOLearner:
        return PPOLearner(self.config, self.obs_space, self.action_space, self.device, self.group)

    def make_group(self) -> LearnerGroup | None:
        group = LearnerGroup.from_environment(self.device)
        if group is not None and self.config.sync != "sync":
            group.close()
            # Every learner must take the same number of gradient steps, so
            # every update's batch must have the same size: sync mode.
            raise ValueError(f"config sync: data-parallel learners need sync, got {self.config.sync!r}")
        return group
