// What the batched stepper and the Python layer need to know about a native
// env: its spaces, time limit and reward threshold, mirroring gymnasium's
// registration of the same id.
//
// An env type `E` used with BatchedStepper<E> provides:
//   using Action = int64_t (discrete) or float (continuous, kActionDim values);
//   static constexpr int kObsDim, kActionDim;
//   static const EnvSpec& Spec();
//   void Seed(const SeedSequence&);       // like gymnasium's reset(seed=...)
//   void Reset(float* obs);               // draws from the env's own stream
//   StepOutcome Step(const Action* action, float* obs);
//   void Observe(float* obs) const;       // the observation of the current state
//   static bool ValidAction(const Action* action);
// Envs hold no threads and no time limit: batching, threading, TimeLimit and
// autoreset live in the stepper.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flockrl {

struct EnvSpec {
  std::string id;
  int64_t max_episode_steps = 0;
  bool has_reward_threshold = false;
  double reward_threshold = 0.0;
  std::vector<float> obs_low, obs_high;  // Box(obs_low, obs_high), float32
  bool discrete_actions = true;
  int64_t num_actions = 0;                  // Discrete(num_actions)
  std::vector<float> action_low, action_high;  // or Box(action_low, action_high), float32
  // Cost of one step relative to CartPole; sets when the thread pool pays off.
  double relative_step_cost = 1.0;
};

struct StepOutcome {
  double reward;
  bool terminated;
};

}  // namespace flockrl
