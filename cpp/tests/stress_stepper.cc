// Stress test of the thread pool and the batched stepper, built as a plain
// executable so it also runs under ThreadSanitizer (FLOCKRL_SANITIZE=thread).
//
// 1. ThreadPool: many back-to-back Run and Submit jobs; every chunk of every
//    job runs exactly once and its writes are visible to the owner.
// 2. BatchedStepper: every native env stepped with 1, 2 and 4 threads, sync
//    and async, gives bit-identical outputs.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/thread_pool.h"
#include "envs/vec_env.h"
#include "tests/check.h"

using namespace flockrl;

static void StressThreadPool() {
  constexpr int kWorkers = 3, kJobs = 20000;
  ThreadPool pool(kWorkers);
  struct Ctx {
    std::vector<int64_t> hits;  // plain writes: the pool's ordering must publish them
    int64_t job = 0;
  } ctx;
  ctx.hits.assign(kWorkers + 1, 0);
  auto fn = [](void* p, int chunk) {
    auto* c = static_cast<Ctx*>(p);
    c->hits[static_cast<std::size_t>(chunk)] += c->job;
  };
  int64_t expected_sum = 0;
  for (int j = 0; j < kJobs; ++j) {
    ctx.job = j;  // written by the owner between jobs
    if (j % 3 == 0) {
      pool.Submit(kWorkers, fn, &ctx);
      pool.Wait();
      CHECK(ctx.hits[kWorkers] == expected_sum);  // the last chunk is unused in Submit
      for (int c = 0; c < kWorkers; ++c) CHECK(ctx.hits[static_cast<std::size_t>(c)] == expected_sum + j);
      ctx.hits[kWorkers] += j;  // keep every counter in step
    } else {
      pool.Run(kWorkers + 1, fn, &ctx);
    }
    expected_sum += j;
    for (int64_t h : ctx.hits) CHECK(h == expected_sum);
  }
}

// A deterministic action stream (splitmix64), independent of the env's RNG.
static uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Trace {
  std::vector<float> obs;
  std::vector<double> rewards;
  std::vector<uint8_t> done;
};

static Trace Run(const EnvSpec& spec, int64_t n, int threads, AutoresetMode mode, bool async, int steps) {
  auto env = MakeNativeVecEnv(spec.id, n, threads, mode);
  CHECK(env != nullptr);
  for (int64_t i = 0; i < n; ++i) env->Seed(i, SeedSequence(SeedSequence::WordsOf(static_cast<uint64_t>(i))));
  const auto rows = static_cast<std::size_t>(n);
  const auto obs_dim = static_cast<std::size_t>(env->obs_dim());
  std::vector<float> obs(rows * obs_dim), final_obs(rows * obs_dim);
  std::vector<double> rewards(rows);
  std::unique_ptr<bool[]> term(new bool[rows]), trunc(new bool[rows]), final_mask(new bool[rows]);
  env->Reset(nullptr, obs.data());
  std::vector<int64_t> discrete(rows);
  std::vector<float> continuous(rows);
  Trace trace;
  for (int t = 0; t < steps; ++t) {
    for (std::size_t i = 0; i < rows; ++i) {
      const uint64_t r = Mix(static_cast<uint64_t>(t) * 1000003u + i);
      discrete[i] = static_cast<int64_t>(r % static_cast<uint64_t>(spec.discrete_actions ? spec.num_actions : 1));
      continuous[i] = static_cast<float>(static_cast<double>(r >> 11) * 0x1.0p-53 * 6.0 - 3.0);
    }
    const void* actions = spec.discrete_actions ? static_cast<const void*>(discrete.data()) : continuous.data();
    CHECK(env->FirstInvalidAction(actions) == -1);
    StepOutputs out{obs.data(), rewards.data(), term.get(), trunc.get(), final_obs.data(), final_mask.get()};
    if (async) {
      env->StartStep(actions, out);
      env->WaitStep();
    } else {
      env->Step(actions, out);
    }
    trace.obs.insert(trace.obs.end(), obs.begin(), obs.end());
    trace.rewards.insert(trace.rewards.end(), rewards.begin(), rewards.end());
    for (std::size_t i = 0; i < rows; ++i) trace.done.push_back(static_cast<uint8_t>(term[i] | (trunc[i] << 1)));
  }
  return trace;
}

static bool SameBits(const Trace& a, const Trace& b) {
  return a.obs.size() == b.obs.size() &&
         std::memcmp(a.obs.data(), b.obs.data(), a.obs.size() * sizeof(float)) == 0 &&
         std::memcmp(a.rewards.data(), b.rewards.data(), a.rewards.size() * sizeof(double)) == 0 &&
         a.done == b.done;
}

int main() {
  StressThreadPool();
  int cases = 1;
  for (const EnvSpec* spec : NativeEnvSpecs()) {
    for (AutoresetMode mode : {AutoresetMode::kNextStep, AutoresetMode::kSameStep}) {
      const int64_t n = 6000;  // large enough for every env to split across threads
      const Trace reference = Run(*spec, n, 1, mode, false, 60);
      CHECK(SameBits(reference, Run(*spec, n, 2, mode, false, 60)));
      CHECK(SameBits(reference, Run(*spec, n, 4, mode, false, 60)));
      CHECK(SameBits(reference, Run(*spec, n, 2, mode, true, 60)));
      CHECK(SameBits(reference, Run(*spec, n, 1, mode, true, 60)));
      ++cases;
    }
  }
  std::printf("stress_stepper: %d passed, 0 failed\n", cases);
  return 0;
}
