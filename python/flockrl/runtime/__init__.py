"""The actor-learner runtime: actors in threads feeding a learner, weights
through the shared-memory ParamStore, the sync modes, metrics and
checkpoints."""

from flockrl.runtime.actor import Actor, EpsilonGreedy, Policy, WeightSource
from flockrl.runtime.local_copy import LocalCopy
from flockrl.runtime.metrics import Metrics
from flockrl.runtime.rollout import RolloutWorker
from flockrl.runtime.sync import SYNC_MODES, RolloutExchange

__all__ = ["SYNC_MODES", "Actor", "EpsilonGreedy", "LocalCopy", "Metrics", "Policy", "RolloutExchange",
           "RolloutWorker", "WeightSource"]
