// Acrobot-v1, a port of gymnasium/envs/classic_control/acrobot.py ("book"
// dynamics, one RK4 step of dt = 0.2, no torque noise).
//
// Exactness note: gymnasium rounds the reset state to float32 and computes
// the reset observation's cos/sin with NumPy's float32 SIMD routines, which
// are not correctly rounded and vary with the CPU's SIMD target. This port
// returns the correctly rounded float32 value there, which differs by one
// ulp for about 1 in 60,000 inputs; every later step works on float64 state
// and is bit-exact.
#pragma once

#include <array>
#include <cmath>
#include <numbers>

#include "common/libm.h"
#include "common/pcg64.h"
#include "envs/env_spec.h"

namespace flockrl {

class Acrobot {
 public:
  using Action = int64_t;
  static constexpr int kObsDim = 6;
  static constexpr int kActionDim = 1;

  static const EnvSpec& Spec() {
    static const EnvSpec spec = [] {
      EnvSpec s;
      s.id = "Acrobot-v1";
      s.max_episode_steps = 500;
      s.has_reward_threshold = true;
      s.reward_threshold = -100.0;
      s.obs_high = {1.0f, 1.0f, 1.0f, 1.0f, static_cast<float>(kMaxVel1), static_cast<float>(kMaxVel2)};
      for (float h : s.obs_high) s.obs_low.push_back(-h);
      s.num_actions = 3;
      s.relative_step_cost = 15.0;  // measured: ~260 ns (four RK4 stages)
      return s;
    }();
    return spec;
  }

  static bool ValidAction(const Action* a) { return *a >= 0 && *a <= 2; }

  void Seed(const SeedSequence& seq) { rng_.Seed(seq); }

  void Reset(float* obs) {
    for (double& s : state_) s = static_cast<float>(rng_.Uniform(-0.1, 0.1 - -0.1));
    Observe(obs);
  }

  StepOutcome Step(const Action* action, float* obs) {
    const double torque = kAvailableTorque[*action];
    // rk4(self._dsdt, [*s, torque], [0, dt]) over the 4 state variables; the
    // torque's own derivative is 0 so it stays constant.
    constexpr double dt = kDt - 0.0;
    constexpr double dt2 = dt / 2.0;
    const State& y0 = state_;
    const State k1 = Derivatives(y0, torque);
    const State k2 = Derivatives(Axpy(y0, dt2, k1), torque);
    const State k3 = Derivatives(Axpy(y0, dt2, k2), torque);
    const State k4 = Derivatives(Axpy(y0, dt, k3), torque);
    State next;
    for (int i = 0; i < 4; ++i) {
      next[i] = y0[i] + dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
    next[0] = Wrap(next[0], -std::numbers::pi, std::numbers::pi);
    next[1] = Wrap(next[1], -std::numbers::pi, std::numbers::pi);
    next[2] = Bound(next[2], -kMaxVel1, kMaxVel1);
    next[3] = Bound(next[3], -kMaxVel2, kMaxVel2);
    state_ = next;
    Observe(obs);
    const bool terminated = -std::cos(state_[0]) - std::cos(state_[1] + state_[0]) > 1.0;
    return {terminated ? 0.0 : -1.0, terminated};
  }

  void Observe(float* obs) const {
    obs[0] = static_cast<float>(std::cos(state_[0]));
    obs[1] = static_cast<float>(std::sin(state_[0]));
    obs[2] = static_cast<float>(std::cos(state_[1]));
    obs[3] = static_cast<float>(std::sin(state_[1]));
    obs[4] = static_cast<float>(state_[2]);
    obs[5] = static_cast<float>(state_[3]);
  }

 private:
  using State = std::array<double, 4>;

  static constexpr double kDt = 0.2;
  static constexpr double kLinkLength1 = 1.0;
  static constexpr double kLinkMass1 = 1.0;
  static constexpr double kLinkMass2 = 1.0;
  static constexpr double kLinkComPos1 = 0.5;
  static constexpr double kLinkComPos2 = 0.5;
  static constexpr double kLinkMoi = 1.0;
  static constexpr double kGravity = 9.8;
  static constexpr double kMaxVel1 = 4 * std::numbers::pi;
  static constexpr double kMaxVel2 = 9 * std::numbers::pi;
  static constexpr double kAvailableTorque[3] = {-1.0, 0.0, 1.0};

  static State Axpy(const State& y, double a, const State& k) {
    return {y[0] + a * k[0], y[1] + a * k[1], y[2] + a * k[2], y[3] + a * k[3]};
  }

  // AcrobotEnv._dsdt, term by term in gymnasium's evaluation order; `x**2`
  // on a numpy float64 is libm pow, on Python floats a folded constant.
  static State Derivatives(const State& s, double a) {
    constexpr double m1 = kLinkMass1, m2 = kLinkMass2, l1 = kLinkLength1;
    constexpr double lc1 = kLinkComPos1, lc2 = kLinkComPos2, i1 = kLinkMoi, i2 = kLinkMoi;
    constexpr double pi = std::numbers::pi;
    const double theta1 = s[0], theta2 = s[1], dtheta1 = s[2], dtheta2 = s[3];
    // gymnasium calls cos(theta2) twice and sin(theta2) three times; once each
    // gives the same values.
    const double cos2 = std::cos(theta2), sin2 = std::sin(theta2);
    const double d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos2) + i1 + i2;
    const double d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + i2;
    const double phi2 = m2 * lc2 * kGravity * std::cos(theta1 + theta2 - pi / 2.0);
    const double phi1 = -m2 * l1 * lc2 * LibmPow(dtheta2, 2.0) * sin2 - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2 +
                        (m1 * lc1 + m2 * l1) * kGravity * std::cos(theta1 - pi / 2) + phi2;
    const double ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * LibmPow(dtheta1, 2.0) * sin2 - phi2) /
                            (m2 * (lc2 * lc2) + i2 - LibmPow(d2, 2.0) / d1);
    const double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    return {dtheta1, dtheta2, ddtheta1, ddtheta2};
  }

  // acrobot.wrap: shifts by whole turns with while-loops (not fmod).
  static double Wrap(double x, double lo, double hi) {
    const double diff = hi - lo;
    while (x > hi) x = x - diff;
    while (x < lo) x = x + diff;
    return x;
  }

  // acrobot.bound: min(max(x, lo), hi) with Python's first-wins tie rule.
  static double Bound(double x, double lo, double hi) {
    const double low_bounded = lo > x ? lo : x;
    return hi < low_bounded ? hi : low_bounded;
  }

  Pcg64 rng_;
  State state_ = {0, 0, 0, 0};
};

}  // namespace flockrl
