// The type-erased batched environment the bindings drive: N native envs of
// one kind stepped together, with gymnasium's TimeLimit and autoreset
// semantics. BatchedStepper<Env> (batched_stepper.h) implements it.
//
// Thread-safety: one VecEnv is driven by one thread at a time (the Python
// wrapper enforces this); internally a step may fan out to a thread pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/seed_sequence.h"
#include "envs/env_spec.h"

namespace flockrl {

// gymnasium.vector.AutoresetMode
enum class AutoresetMode { kNextStep = 0, kSameStep = 1, kDisabled = 2 };

// Where one step writes its results: rows of num_envs, caller-owned.
struct StepOutputs {
  float* obs = nullptr;             // [n, obs_dim]
  double* rewards = nullptr;        // [n]
  bool* terminations = nullptr;     // [n]
  bool* truncations = nullptr;      // [n]
  float* final_obs = nullptr;       // [n, obs_dim], SAME_STEP only
  bool* final_mask = nullptr;       // [n], SAME_STEP only
};

class VecEnv {
 public:
  virtual ~VecEnv() = default;

  virtual const EnvSpec& spec() const = 0;
  virtual int obs_dim() const = 0;
  virtual int action_dim() const = 0;
  int64_t num_envs() const { return num_envs_; }
  int num_threads() const { return num_threads_; }
  AutoresetMode autoreset_mode() const { return mode_; }
  int64_t max_episode_steps() const { return max_episode_steps_; }

  // Validation before a step, so that a bad batch changes nothing.
  // `actions` points at num_envs * action_dim values of the env's action type
  // (int64 for discrete, float32 for continuous). Returns the first offending
  // env index, or -1.
  virtual int64_t FirstInvalidAction(const void* actions) const = 0;
  // DISABLED mode: the first env whose episode ended and was not reset, or -1.
  int64_t FirstEnvNeedingReset() const {
    for (int64_t i = 0; i < num_envs_; ++i) {
      if (needs_reset_[static_cast<std::size_t>(i)]) return i;
    }
    return -1;
  }

  // Reseeds env i's generator, as gymnasium's env.reset(seed=...) does.
  virtual void Seed(int64_t env, const SeedSequence& seq) = 0;
  // Resets the envs where mask[i] (all if mask is null) and writes the
  // observation of every env (the unreset ones keep their current one).
  virtual void Reset(const bool* mask, float* obs) = 0;
  // One step of every env. Blocks until done.
  virtual void Step(const void* actions, const StepOutputs& out) = 0;
  // The same step on the pool's background threads; returns at once. The
  // actions and outputs must stay untouched until WaitStep() returns.
  virtual void StartStep(const void* actions, const StepOutputs& out) = 0;
  virtual void WaitStep() = 0;

 protected:
  VecEnv(int64_t num_envs, int num_threads, AutoresetMode mode, int64_t max_episode_steps)
      : num_envs_(num_envs), num_threads_(num_threads), mode_(mode), max_episode_steps_(max_episode_steps),
        needs_reset_(static_cast<std::size_t>(num_envs), 0) {}

  const int64_t num_envs_;
  const int num_threads_;
  const AutoresetMode mode_;
  const int64_t max_episode_steps_;  // TimeLimit: truncate after this many steps
  // NEXT_STEP: reset at the next step; DISABLED: must be reset by the user.
  std::vector<uint8_t> needs_reset_;
};

// The native env ids, in a stable order.
std::vector<const EnvSpec*> NativeEnvSpecs();

// nullptr when `env_id` is not a native env. max_episode_steps <= 0 takes
// the env's registered time limit.
std::unique_ptr<VecEnv> MakeNativeVecEnv(const std::string& env_id, int64_t num_envs, int num_threads,
                                         AutoresetMode mode, int64_t max_episode_steps = 0);

}  // namespace flockrl
