// The registry of native envs: one line per env.
#include "envs/acrobot.h"
#include "envs/batched_stepper.h"
#include "envs/cartpole.h"
#include "envs/mountain_car.h"
#include "envs/mountain_car_continuous.h"
#include "envs/pendulum.h"
#include "envs/vec_env.h"

namespace flockrl {
namespace {

struct Entry {
  const EnvSpec& (*spec)();
  std::unique_ptr<VecEnv> (*make)(int64_t, int, AutoresetMode, int64_t);
};

template <typename Env>
Entry EntryFor() {
  return {&Env::Spec, [](int64_t n, int threads, AutoresetMode mode, int64_t max_steps) -> std::unique_ptr<VecEnv> {
            return std::make_unique<BatchedStepper<Env>>(n, threads, mode, max_steps);
          }};
}

const std::vector<Entry>& Registry() {
  static const std::vector<Entry> entries = {
      EntryFor<CartPole>(), EntryFor<MountainCar>(), EntryFor<MountainCarContinuous>(),
      EntryFor<Pendulum>(), EntryFor<Acrobot>(),
  };
  return entries;
}

}  // namespace

std::vector<const EnvSpec*> NativeEnvSpecs() {
  std::vector<const EnvSpec*> specs;
  for (const Entry& e : Registry()) specs.push_back(&e.spec());
  return specs;
}

std::unique_ptr<VecEnv> MakeNativeVecEnv(const std::string& env_id, int64_t num_envs, int num_threads,
                                         AutoresetMode mode, int64_t max_episode_steps) {
  for (const Entry& e : Registry()) {
    if (e.spec().id != env_id) continue;
    return e.make(num_envs, num_threads, mode, max_episode_steps > 0 ? max_episode_steps : e.spec().max_episode_steps);
  }
  return nullptr;
}

}  // namespace flockrl
