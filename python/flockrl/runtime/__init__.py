"""The actor-learner runtime: actors in threads feeding a learner, weights
through the shared-memory ParamStore, metrics and checkpoints."""

from flockrl.runtime.actor import Actor, EpsilonGreedy, Policy, WeightSource
from flockrl.runtime.metrics import Metrics

__all__ = ["Actor", "EpsilonGreedy", "Metrics", "Policy", "WeightSource"]
