// A persistent pool of worker threads for fork-join steps of a batched loop.
//
// The stepper splits a batch into contiguous chunks, one per thread, so a
// step costs one hand-off per thread instead of one task per env. Every job
// is seen by every worker: worker w runs chunk w + first_worker_chunk (if it
// exists) and then checks in. A job is complete when all workers have
// checked in, so no worker can still be reading a job's description when the
// next one is written.
//
// Usage contract: Run/Submit/Wait are called by one thread at a time (the
// owner serialises them); Run and Submit must not overlap an unfinished
// Submit. Waiters spin briefly before sleeping on a condition variable, so
// back-to-back steps do not pay a wake-up each.
//
// Memory ordering: the owner writes the job (fn, ctx, chunk counts) with
// plain stores, then increments `epoch_` with release; a worker loads
// `epoch_` with acquire, so it sees the job and everything the owner wrote
// before (the actions, the output pointers). A worker's writes (the chunk's
// outputs) happen before its `checked_in_.fetch_add(release)`; the owner
// reads `checked_in_` with acquire until it equals the worker count, so it
// sees every chunk's outputs and may then overwrite the job. `stop_` is
// published the same way as a job (written before an epoch increment).
// Sleeping: a sleeper re-checks its atomic under `sleep_mutex_` before it
// waits, and a waker takes and releases that mutex after its atomic write and
// before notifying, so no wake-up is lost between the check and the wait.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FLOCKRL_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define FLOCKRL_CPU_RELAX() asm volatile("yield" ::: "memory")
#else
#define FLOCKRL_CPU_RELAX() ((void)0)
#endif

namespace flockrl {

class ThreadPool {
 public:
  using ChunkFn = void (*)(void* ctx, int chunk);

  explicit ThreadPool(int num_workers) : num_workers_(static_cast<uint32_t>(num_workers)), owner_pid_(getpid()) {
    workers_.reserve(static_cast<std::size_t>(num_workers));
    try {
      for (int w = 0; w < num_workers; ++w) {
        workers_.emplace_back([this, w] { WorkerLoop(w); });
      }
    } catch (...) {  // e.g. the process's thread limit: stop the started ones cleanly
      StopWorkers();
      throw;
    }
  }

  ~ThreadPool() {
    Wait();
    StopWorkers();
  }

  // The process that created the workers. After fork() a child has the pool
  // object but none of its threads (and possibly a mutex locked by one): it
  // must not use or destroy it.
  pid_t owner_pid() const { return owner_pid_; }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_workers() const { return static_cast<int>(num_workers_); }

  // Runs fn(ctx, c) for c in [0, n_chunks): the calling thread runs chunk 0,
  // worker w chunk w + 1. Requires n_chunks <= num_workers() + 1. Blocks.
  void Run(int n_chunks, ChunkFn fn, void* ctx) {
    Start(n_chunks, /*first_worker_chunk=*/1, fn, ctx);
    fn(ctx, 0);
    Wait();
  }

  // Runs fn(ctx, c) for c in [0, n_chunks) on the workers only, worker w
  // taking chunk w; returns at once. Requires 1 <= n_chunks <= num_workers().
  void Submit(int n_chunks, ChunkFn fn, void* ctx) { Start(n_chunks, /*first_worker_chunk=*/0, fn, ctx); }

  // Blocks until the last Run/Submit is complete. Cheap when nothing runs.
  void Wait() {
    if (!busy_) return;
    const uint32_t target = num_workers_;
    for (int spin = 0; spin < kSpinIterations; ++spin) {
      if (checked_in_.load(std::memory_order_acquire) == target) break;
      FLOCKRL_CPU_RELAX();
    }
    if (checked_in_.load(std::memory_order_acquire) != target) {
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      all_checked_in_.wait(lock, [&] { return checked_in_.load(std::memory_order_acquire) == target; });
    }
    busy_ = false;
  }

 private:
  static constexpr int kSpinIterations = 2000;  // tens of microseconds of pause

  void StopWorkers() {
    stop_ = true;
    checked_in_.store(0, std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_release);
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    new_job_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void Start(int n_chunks, int first_worker_chunk, ChunkFn fn, void* ctx) {
    Wait();
    fn_ = fn;
    ctx_ = ctx;
    n_chunks_ = n_chunks;
    first_worker_chunk_ = first_worker_chunk;
    busy_ = true;
    Publish();
  }

  void Publish() {
    // Relaxed is enough for the reset: the release increment below orders it
    // (and the job) before any worker's acquire of the new epoch.
    checked_in_.store(0, std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_release);
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    new_job_.notify_all();
  }

  void WorkerLoop(int worker) {
    uint32_t seen = 0;
    for (;;) {
      uint32_t now = epoch_.load(std::memory_order_acquire);
      for (int spin = 0; now == seen && spin < kSpinIterations; ++spin) {
        FLOCKRL_CPU_RELAX();
        now = epoch_.load(std::memory_order_acquire);
      }
      if (now == seen) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        new_job_.wait(lock, [&] { return (now = epoch_.load(std::memory_order_acquire)) != seen; });
      }
      seen = now;
      if (stop_) return;
      const int chunk = worker + first_worker_chunk_;
      if (chunk < n_chunks_) fn_(ctx_, chunk);
      // Release: this chunk's outputs happen before the owner's acquire in Wait().
      if (checked_in_.fetch_add(1, std::memory_order_release) + 1 == num_workers_) {
        { std::lock_guard<std::mutex> lock(sleep_mutex_); }
        all_checked_in_.notify_one();
      }
    }
  }

  // The current job: written by the owner only while no job is in flight.
  ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int n_chunks_ = 0;
  int first_worker_chunk_ = 0;
  bool stop_ = false;
  bool busy_ = false;  // owner-only
  const uint32_t num_workers_;
  const pid_t owner_pid_;

  // Hot words written by different threads sit on separate cache lines.
  alignas(64) std::atomic<uint32_t> epoch_{0};
  alignas(64) std::atomic<uint32_t> checked_in_{0};
  std::mutex sleep_mutex_;
  std::condition_variable new_job_, all_checked_in_;
  std::vector<std::thread> workers_;
};

}  // namespace flockrl
