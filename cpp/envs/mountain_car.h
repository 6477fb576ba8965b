// MountainCar-v0, a port of gymnasium/envs/classic_control/mountain_car.py.
#pragma once

#include <algorithm>
#include <cmath>

#include "common/pcg64.h"
#include "envs/env_spec.h"

namespace flockrl {

class MountainCar {
 public:
  using Action = int64_t;
  static constexpr int kObsDim = 2;
  static constexpr int kActionDim = 1;

  static const EnvSpec& Spec() {
    static const EnvSpec spec = [] {
      EnvSpec s;
      s.id = "MountainCar-v0";
      s.max_episode_steps = 200;
      s.has_reward_threshold = true;
      s.reward_threshold = -110.0;
      s.obs_low = {static_cast<float>(kMinPosition), static_cast<float>(-kMaxSpeed)};
      s.obs_high = {static_cast<float>(kMaxPosition), static_cast<float>(kMaxSpeed)};
      s.num_actions = 3;
      return s;
    }();
    return spec;
  }

  static bool ValidAction(const Action* a) { return *a >= 0 && *a <= 2; }

  void Seed(const SeedSequence& seq) { rng_.Seed(seq); }

  void Reset(float* obs) {
    position_ = rng_.Uniform(-0.6, kResetRange);
    velocity_ = 0.0;
    Observe(obs);
  }

  StepOutcome Step(const Action* action, float* obs) {
    velocity_ += static_cast<double>(*action - 1) * kForce + std::cos(3 * position_) * -kGravity;
    velocity_ = std::clamp(velocity_, -kMaxSpeed, kMaxSpeed);
    position_ += velocity_;
    position_ = std::clamp(position_, kMinPosition, kMaxPosition);
    if (position_ == kMinPosition && velocity_ < 0) velocity_ = 0.0;
    Observe(obs);
    return {-1.0, position_ >= kGoalPosition && velocity_ >= 0};
  }

  void Observe(float* obs) const {
    obs[0] = static_cast<float>(position_);
    obs[1] = static_cast<float>(velocity_);
  }

 private:
  static constexpr double kMinPosition = -1.2;
  static constexpr double kMaxPosition = 0.6;
  static constexpr double kMaxSpeed = 0.07;
  static constexpr double kGoalPosition = 0.5;
  static constexpr double kForce = 0.001;
  static constexpr double kGravity = 0.0025;
  static constexpr double kResetRange = -0.4 - -0.6;  // 0.19999999999999996, as numpy computes it

  Pcg64 rng_;
  double position_ = 0, velocity_ = 0;
};

}  // namespace flockrl
