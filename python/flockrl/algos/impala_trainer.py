"""IMPALA on the rollout runtime (see rollout_trainer.py)."""

from __future__ import annotations

from flockrl.algos.impala import STAT_NAMES, ImpalaLearner
from flockrl.algos.rollout_trainer import RolloutTrainer


class ImpalaTrainer(RolloutTrainer):
    algo = "impala"
    stat_columns = STAT_NAMES

    def make_learner(self) -> ImpalaLearner:
        return ImpalaLearner(self.config, self.obs_space, self.action_space, self.device)
