// BatchedStepper<Env>: VecEnv over N envs of one type. Each step walks the
// envs in one contiguous chunk per thread (a plain loop beats one task per
// env for cheap envs); the pool is used only when a batch is large enough to
// pay for the hand-off. Every env owns its state and random stream, so the
// results do not depend on the number of threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include <unistd.h>

#include "common/thread_pool.h"
#include "envs/vec_env.h"

namespace flockrl {

// Below this much work per thread (in CartPole steps) a step runs inline.
inline constexpr double kMinWorkPerThread = 1024.0;

template <typename Env>
class BatchedStepper final : public VecEnv {
 public:
  using Action = typename Env::Action;

  BatchedStepper(int64_t num_envs, int num_threads, AutoresetMode mode, int64_t max_episode_steps)
      : VecEnv(num_envs, num_threads, mode, max_episode_steps), envs_(static_cast<std::size_t>(num_envs)),
        elapsed_(static_cast<std::size_t>(num_envs), 0),
        run_chunks_(ChunksFor(num_threads)),
        async_chunks_(ChunksFor(std::max(1, num_threads - 1))) {}

  ~BatchedStepper() override {
    if (pool_ && pool_->owner_pid() == getpid()) pool_->Wait();
    if (pool_ && pool_->owner_pid() != getpid()) (void)pool_.release();  // see Pool()
  }

  const EnvSpec& spec() const override { return Env::Spec(); }
  int obs_dim() const override { return Env::kObsDim; }
  int action_dim() const override { return Env::kActionDim; }

  int64_t FirstInvalidAction(const void* actions) const override {
    const Action* a = static_cast<const Action*>(actions);
    for (int64_t i = 0; i < num_envs_; ++i) {
      for (int d = 0; d < Env::kActionDim; ++d) {
        if (!Env::ValidAction(a + i * Env::kActionDim + d)) return i;
      }
    }
    return -1;
  }

  void Seed(int64_t env, const SeedSequence& seq) override { envs_[Index(env)].Seed(seq); }

  void Reset(const bool* mask, float* obs) override {
    for (int64_t i = 0; i < num_envs_; ++i) {
      float* row = obs + i * Env::kObsDim;
      if (mask == nullptr || mask[i]) {
        envs_[Index(i)].Reset(row);
        elapsed_[Index(i)] = 0;
        needs_reset_[Index(i)] = 0;
      } else {
        envs_[Index(i)].Observe(row);
      }
    }
  }

  void Step(const void* actions, const StepOutputs& out) override {
    job_ = {static_cast<const Action*>(actions), out, run_chunks_};
    if (job_.chunks == 1) {
      StepRange(0, num_envs_);
    } else {
      Pool().Run(job_.chunks, &RunChunk, this);
    }
  }

  void StartStep(const void* actions, const StepOutputs& out) override {
    // Background steps use the workers only, so the caller stays free.
    job_ = {static_cast<const Action*>(actions), out, async_chunks_};
    Pool().Submit(job_.chunks, &RunChunk, this);
  }

  void WaitStep() override {
    if (pool_) pool_->Wait();
  }

 private:
  struct Job {
    const Action* actions;
    StepOutputs out;
    int chunks;
  };

  static std::size_t Index(int64_t i) { return static_cast<std::size_t>(i); }

  int ChunksFor(int max_threads) const {
    const double work = static_cast<double>(num_envs_) * Env::Spec().relative_step_cost;
    const double by_work = std::floor(work / kMinWorkPerThread);
    return static_cast<int>(std::clamp(by_work, 1.0, static_cast<double>(max_threads)));
  }

  // Workers are started on first use, as many as a step can give chunks to
  // (every job wakes every worker, so idle ones would only cost).
  ThreadPool& Pool() {
    if (pool_ && pool_->owner_pid() != getpid()) {
      // A forked child: the workers live in the parent only. Abandon the
      // object (its threads and mutex are not ours to touch) and start anew.
      (void)pool_.release();
    }
    if (!pool_) pool_ = std::make_unique<ThreadPool>(std::max(run_chunks_ - 1, async_chunks_));
    return *pool_;
  }

  static void RunChunk(void* self, int chunk) {
    auto* s = static_cast<BatchedStepper*>(self);
    const int64_t n = s->num_envs_, chunks = s->job_.chunks;
    s->StepRange(n * chunk / chunks, n * (chunk + 1) / chunks);
  }

  // The hot loop: gymnasium's SyncVectorEnv.step + TimeLimit, per env.
  void StepRange(int64_t begin, int64_t end) {
    const StepOutputs& out = job_.out;
    for (int64_t i = begin; i < end; ++i) {
      Env& env = envs_[Index(i)];
      float* obs = out.obs + i * Env::kObsDim;
      if (mode_ == AutoresetMode::kNextStep && needs_reset_[Index(i)]) {
        // The step after an episode ends resets the env and ignores the action.
        env.Reset(obs);
        elapsed_[Index(i)] = 0;
        needs_reset_[Index(i)] = 0;
        out.rewards[i] = 0.0;
        out.terminations[i] = false;
        out.truncations[i] = false;
        continue;
      }
      const StepOutcome r = env.Step(job_.actions + i * Env::kActionDim, obs);
      const bool truncated = ++elapsed_[Index(i)] >= max_episode_steps_;
      out.rewards[i] = r.reward;
      out.terminations[i] = r.terminated;
      out.truncations[i] = truncated;
      const bool done = r.terminated || truncated;
      if (mode_ == AutoresetMode::kSameStep) {
        // final_obs holds the true last observation of every env this step.
        std::memcpy(out.final_obs + i * Env::kObsDim, obs, sizeof(float) * Env::kObsDim);
        out.final_mask[i] = done;
        if (done) {
          env.Reset(obs);
          elapsed_[Index(i)] = 0;
        }
      } else {
        needs_reset_[Index(i)] = done;
      }
    }
  }

  std::vector<Env> envs_;
  std::vector<int64_t> elapsed_;  // TimeLimit's step counter per env
  const int run_chunks_;    // chunks of a Step (the caller takes one)
  const int async_chunks_;  // chunks of a StartStep (workers only)
  Job job_{};
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace flockrl
