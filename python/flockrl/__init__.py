"""flockrl: parallel and distributed reinforcement learning with C++ cores."""

from flockrl.envs import NATIVE_ENV_IDS, NativeVecEnv, make_vec
from flockrl.gradients import SharedOptimizer
from flockrl.nstep import NStepAccumulator
from flockrl.params import ParamStore
from flockrl.replay import PrioritizedReplayBuffer, ReplayBuffer, SampleToInsertRatio

__version__ = "0.1.0"


def sb3_vec_env(env_id: str, num_envs: int, seed: int | None = None, num_threads: int | None = None):  # noqa: ANN201
    """A Stable-Baselines3 VecEnv backed by the native C++ stepper (SB3's
    conventions; pip install "flockrl[sb3]"): see flockrl.sb3."""
    from flockrl.sb3 import sb3_vec_env as make

    return make(env_id, num_envs, seed=seed, num_threads=num_threads)


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
    "sb3_vec_env",
    "__version__",
]
