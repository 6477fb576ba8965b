// Pendulum-v1, a port of gymnasium/envs/classic_control/pendulum.py (g = 10).
// Under NumPy 2's promotion rules the float32 action keeps the terms it
// touches in float32 (`3.0 * u`, `0.001 * u**2`); those are computed in float
// here too, and `**2` calls libm pow/powf as numpy scalars do.
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/libm.h"
#include "common/pcg64.h"
#include "envs/env_spec.h"

namespace flockrl {

class Pendulum {
 public:
  using Action = float;
  static constexpr int kObsDim = 3;
  static constexpr int kActionDim = 1;

  static const EnvSpec& Spec() {
    static const EnvSpec spec = [] {
      EnvSpec s;
      s.id = "Pendulum-v1";
      s.max_episode_steps = 200;
      s.obs_high = {1.0f, 1.0f, static_cast<float>(kMaxSpeed)};
      s.obs_low = {-1.0f, -1.0f, -static_cast<float>(kMaxSpeed)};
      s.discrete_actions = false;
      s.action_low = {static_cast<float>(-kMaxTorque)};
      s.action_high = {static_cast<float>(kMaxTorque)};
      s.relative_step_cost = 4.0;  // measured: ~73 ns vs CartPole ~17 ns
      return s;
    }();
    return spec;
  }

  static bool ValidAction(const Action* a) { return std::isfinite(*a); }

  void Seed(const SeedSequence& seq) { rng_.Seed(seq); }

  void Reset(float* obs) {
    theta_ = rng_.Uniform(-std::numbers::pi, std::numbers::pi - -std::numbers::pi);
    theta_dot_ = rng_.Uniform(-1.0, 2.0);
    Observe(obs);
  }

  StepOutcome Step(const Action* action, float* obs) {
    const float u = std::clamp(*action, static_cast<float>(-kMaxTorque), static_cast<float>(kMaxTorque));
    const double costs = LibmPow(AngleNormalize(theta_), 2.0) + 0.1 * LibmPow(theta_dot_, 2.0) +
                         static_cast<double>(0.001f * LibmPowf(u, 2.0f));
    const double torque_term = static_cast<double>(3.0f * u);  // 3.0 / (m * l**2) * u, in float32
    double new_theta_dot = theta_dot_ + (kGravityTerm * std::sin(theta_) + torque_term) * kDt;
    new_theta_dot = std::clamp(new_theta_dot, -kMaxSpeed, kMaxSpeed);
    theta_ = theta_ + new_theta_dot * kDt;
    theta_dot_ = new_theta_dot;
    Observe(obs);
    return {-costs, false};
  }

  void Observe(float* obs) const {
    obs[0] = static_cast<float>(std::cos(theta_));
    obs[1] = static_cast<float>(std::sin(theta_));
    obs[2] = static_cast<float>(theta_dot_);
  }

 private:
  static constexpr double kMaxSpeed = 8;
  static constexpr double kMaxTorque = 2.0;
  static constexpr double kDt = 0.05;
  static constexpr double kGravity = 10.0;
  static constexpr double kGravityTerm = 3 * kGravity / (2 * 1.0);  // 3 g / (2 l)

  // ((x + pi) % (2 pi)) - pi with numpy's floor-mod for float64.
  static double AngleNormalize(double x) {
    const double a = x + std::numbers::pi;
    const double b = 2 * std::numbers::pi;
    double mod = std::fmod(a, b);
    if (mod != 0) {
      if ((b < 0) != (mod < 0)) mod += b;
    } else {
      mod = std::copysign(0.0, b);
    }
    return mod - std::numbers::pi;
  }

  Pcg64 rng_;
  double theta_ = 0, theta_dot_ = 0;
};

}  // namespace flockrl
