// MountainCarContinuous-v0, a port of
// gymnasium/envs/classic_control/continuous_mountain_car.py.
//
// This env's arithmetic changes type as it runs: the state is float64 right
// after reset and float32 after the first step, the clamped force is a
// Python float or a float32, and NumPy 2 computes np.float32 op Python-float
// in float32. `Scalar` tracks which of the three a value is and applies
// NumPy's promotion rules, so every step rounds exactly where gymnasium does.
#pragma once

#include <cmath>

#include "common/libm.h"
#include "common/pcg64.h"
#include "envs/env_spec.h"

namespace flockrl {

namespace numpy_scalar {

enum class Kind { kFloat64, kFloat32, kPython };

struct Scalar {
  double value;
  Kind kind;
};

// NumPy 2 (NEP 50): float32 with a Python float stays float32; float32 with
// float64 becomes float64; two Python floats stay a Python float (double).
inline Kind Promote(Kind a, Kind b) {
  if (a == Kind::kFloat64 || b == Kind::kFloat64) return Kind::kFloat64;
  if (a == Kind::kFloat32 || b == Kind::kFloat32) return Kind::kFloat32;
  return Kind::kPython;
}

template <typename Op>
Scalar Apply(Scalar a, Scalar b, Op op) {
  const Kind kind = Promote(a.kind, b.kind);
  if (kind == Kind::kFloat32) {
    const float r = op(static_cast<float>(a.value), static_cast<float>(b.value));
    return {static_cast<double>(r), kind};
  }
  return {op(a.value, b.value), kind};
}

inline Scalar operator+(Scalar a, Scalar b) { return Apply(a, b, [](auto x, auto y) { return x + y; }); }
inline Scalar operator-(Scalar a, Scalar b) { return Apply(a, b, [](auto x, auto y) { return x - y; }); }
inline Scalar operator*(Scalar a, Scalar b) { return Apply(a, b, [](auto x, auto y) { return x * y; }); }

// Comparisons round the Python float to float32 when the other side is float32.
inline bool Less(Scalar a, Scalar b) {
  if (Promote(a.kind, b.kind) == Kind::kFloat32) return static_cast<float>(a.value) < static_cast<float>(b.value);
  return a.value < b.value;
}
inline bool Equal(Scalar a, Scalar b) {
  if (Promote(a.kind, b.kind) == Kind::kFloat32) return static_cast<float>(a.value) == static_cast<float>(b.value);
  return a.value == b.value;
}

inline Scalar Py(double v) { return {v, Kind::kPython}; }

}  // namespace numpy_scalar

class MountainCarContinuous {
 public:
  using Action = float;
  static constexpr int kObsDim = 2;
  static constexpr int kActionDim = 1;

  static const EnvSpec& Spec() {
    static const EnvSpec spec = [] {
      EnvSpec s;
      s.id = "MountainCarContinuous-v0";
      s.max_episode_steps = 999;
      s.has_reward_threshold = true;
      s.reward_threshold = 90.0;
      s.obs_low = {static_cast<float>(kMinPosition), static_cast<float>(-kMaxSpeed)};
      s.obs_high = {static_cast<float>(kMaxPosition), static_cast<float>(kMaxSpeed)};
      s.discrete_actions = false;
      s.action_low = {-1.0f};
      s.action_high = {1.0f};
      return s;
    }();
    return spec;
  }

  static bool ValidAction(const Action* a) { return std::isfinite(*a); }

  void Seed(const SeedSequence& seq) { rng_.Seed(seq); }

  void Reset(float* obs) {
    position_ = {rng_.Uniform(-0.6, kResetRange), Kind::kFloat64};
    velocity_ = {0.0, Kind::kFloat64};
    Observe(obs);
  }

  StepOutcome Step(const Action* action, float* obs) {
    using namespace numpy_scalar;
    const Scalar a{static_cast<double>(*action), Kind::kFloat32};
    // force = min(max(action[0], -1.0), 1.0): Python's max/min keep the first
    // argument unless the second is strictly better, and return it untyped.
    Scalar force = Less(a, Py(-1.0)) ? Py(-1.0) : a;
    if (Less(Py(1.0), force)) force = Py(1.0);

    const Scalar slope = Py(0.0025 * std::cos((Py(3.0) * position_).value));
    velocity_ = velocity_ + (force * Py(kPower) - slope);
    if (Less(Py(kMaxSpeed), velocity_)) velocity_ = Py(kMaxSpeed);
    if (Less(velocity_, Py(-kMaxSpeed))) velocity_ = Py(-kMaxSpeed);
    position_ = position_ + velocity_;
    if (Less(Py(kMaxPosition), position_)) position_ = Py(kMaxPosition);
    if (Less(position_, Py(kMinPosition))) position_ = Py(kMinPosition);
    if (Equal(position_, Py(kMinPosition)) && Less(velocity_, Py(0.0))) velocity_ = Py(0.0);

    const bool terminated = !Less(position_, Py(kGoalPosition)) && !Less(velocity_, Py(0.0));
    const double action_cost = LibmPow(static_cast<double>(*action), 2.0) * 0.1;
    const double reward = (terminated ? 100.0 : 0.0) - action_cost;

    // self.state = np.array([position, velocity], dtype=np.float32)
    position_ = {static_cast<double>(static_cast<float>(position_.value)), Kind::kFloat32};
    velocity_ = {static_cast<double>(static_cast<float>(velocity_.value)), Kind::kFloat32};
    Observe(obs);
    return {reward, terminated};
  }

  void Observe(float* obs) const {
    obs[0] = static_cast<float>(position_.value);
    obs[1] = static_cast<float>(velocity_.value);
  }

 private:
  using Kind = numpy_scalar::Kind;
  static constexpr double kMinPosition = -1.2;
  static constexpr double kMaxPosition = 0.6;
  static constexpr double kMaxSpeed = 0.07;
  static constexpr double kGoalPosition = 0.45;
  static constexpr double kPower = 0.0015;
  static constexpr double kResetRange = -0.4 - -0.6;

  Pcg64 rng_;
  numpy_scalar::Scalar position_{0.0, Kind::kFloat64}, velocity_{0.0, Kind::kFloat64};
};

}  // namespace flockrl
