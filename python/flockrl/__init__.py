"""flockrl: parallel and distributed reinforcement learning with C++ cores."""

from flockrl.envs import NATIVE_ENV_IDS, NativeVecEnv, make_vec
from flockrl.gradients import SharedOptimizer
from flockrl.nstep import NStepAccumulator
from flockrl.params import ParamStore
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, SampleToInsertRatio

__version__ = "0.1.0"

__all__ = [
    "NATIVE_ENV_IDS",
    "NStepAccumulator",
    "NativeVecEnv",
    "ParamStore",
    "PrioritizedReplayBuffer",
    "ReplayBuffer",
    "SampleToInsertRatio",
    "SharedOptimizer",
    "make_vec",
    "__version__",
]
