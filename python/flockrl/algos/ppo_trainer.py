"""PPO on the rollout runtime (see rollout_trainer.py)."""

from __future__ import annotations

from flockrl.algos.ppo import STAT_NAMES, PPOLearner
from flockrl.algos.rollout_trainer import RolloutTrainer


class PPOTrainer(RolloutTrainer):
    algo = "ppo"
    stat_columns = STAT_NAMES

    def make_learner(self) -> PPOLearner:
        return PPOLearner(self.config, self.obs_space, self.action_space, self.device)
