// CartPole-v1, a port of gymnasium/envs/classic_control/cartpole.py that
// reproduces its float64 arithmetic operation for operation.
#pragma once

#include <cmath>
#include <limits>
#include <numbers>

#include "common/pcg64.h"
#include "envs/env_spec.h"

namespace flockrl {

class CartPole {
 public:
  using Action = int64_t;
  static constexpr int kObsDim = 4;
  static constexpr int kActionDim = 1;

  static const EnvSpec& Spec() {
    static const EnvSpec spec = [] {
      EnvSpec s;
      s.id = "CartPole-v1";
      s.max_episode_steps = 500;
      s.has_reward_threshold = true;
      s.reward_threshold = 475.0;
      const float inf = std::numeric_limits<float>::infinity();
      s.obs_high = {static_cast<float>(kXThreshold * 2), inf,
                    static_cast<float>(kThetaThresholdRadians * 2), inf};
      for (float h : s.obs_high) s.obs_low.push_back(-h);
      s.num_actions = 2;
      return s;
    }();
    return spec;
  }

  static bool ValidAction(const Action* a) { return *a == 0 || *a == 1; }

  void Seed(const SeedSequence& seq) { rng_.Seed(seq); }

  void Reset(float* obs) {
    x_ = rng_.Uniform(-0.05, kResetRange);
    x_dot_ = rng_.Uniform(-0.05, kResetRange);
    theta_ = rng_.Uniform(-0.05, kResetRange);
    theta_dot_ = rng_.Uniform(-0.05, kResetRange);
    Observe(obs);
  }

  StepOutcome Step(const Action* action, float* obs) {
    const double force = *action == 1 ? kForceMag : -kForceMag;
    const double costheta = std::cos(theta_);
    const double sintheta = std::sin(theta_);
    const double temp = (force + kPoleMassLength * (theta_dot_ * theta_dot_) * sintheta) / kTotalMass;
    const double thetaacc = (kGravity * sintheta - costheta * temp) /
                            (kLength * (4.0 / 3.0 - kMassPole * (costheta * costheta) / kTotalMass));
    const double xacc = temp - kPoleMassLength * thetaacc * costheta / kTotalMass;
    // Euler integration, as gymnasium's default kinematics_integrator.
    x_ = x_ + kTau * x_dot_;
    x_dot_ = x_dot_ + kTau * xacc;
    theta_ = theta_ + kTau * theta_dot_;
    theta_dot_ = theta_dot_ + kTau * thetaacc;
    Observe(obs);
    const bool terminated = x_ < -kXThreshold || x_ > kXThreshold ||
                            theta_ < -kThetaThresholdRadians || theta_ > kThetaThresholdRadians;
    return {1.0, terminated};
  }

  void Observe(float* obs) const {
    obs[0] = static_cast<float>(x_);
    obs[1] = static_cast<float>(x_dot_);
    obs[2] = static_cast<float>(theta_);
    obs[3] = static_cast<float>(theta_dot_);
  }

 private:
  static constexpr double kGravity = 9.8;
  static constexpr double kMassCart = 1.0;
  static constexpr double kMassPole = 0.1;
  static constexpr double kTotalMass = kMassPole + kMassCart;
  static constexpr double kLength = 0.5;  // half the pole's length
  static constexpr double kPoleMassLength = kMassPole * kLength;
  static constexpr double kForceMag = 10.0;
  static constexpr double kTau = 0.02;
  static constexpr double kThetaThresholdRadians = 12 * 2 * std::numbers::pi / 360;
  static constexpr double kXThreshold = 2.4;
  static constexpr double kResetRange = 0.05 - -0.05;

  Pcg64 rng_;
  double x_ = 0, x_dot_ = 0, theta_ = 0, theta_dot_ = 0;
};

}  // namespace flockrl
