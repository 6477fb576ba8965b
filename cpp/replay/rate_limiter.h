// A samples-per-insert rate limiter, as Reverb's SampleToInsertRatio: it
// keeps the number of sampled items close to `samples_per_insert` times the
// number of inserted items, so that neither actors nor learner run ahead.
//
// With diff = inserts * samples_per_insert - samples:
//   an insert of n is allowed when  diff + n * samples_per_insert <= max_diff
//   a sample of m is allowed when   inserts >= min_size_to_sample and
//                                   diff - m >= min_diff
// An insert counts for the insert rule once claimed, and for the sample rule
// once written (InsertDone): a sample never runs ahead of rows still being
// copied in.
// where [min_diff, max_diff] = samples_per_insert * min_size_to_sample
// -/+ error_buffer. Progress is guaranteed when every insert batch has
// n * samples_per_insert <= error_buffer and every sample batch m <=
// error_buffer: then while filling up (diff = inserts * spi < spi *
// min_size) an insert overshoots max_diff by nothing, a first sample finds
// diff - m >= min_diff, and afterwards each side leaves the other room for
// a full batch. Callers reject larger requests up front (Allowable*) rather
// than risk waiting forever.
//
// Concurrency: TryInsert/TrySample are lock-free: each checks the condition
// against the other counter and claims its own with a CAS. Reading the other
// counter stale only makes a check stricter (a late insert can only raise
// diff, a late sample only lower it), so the bounds hold under any
// interleaving. Await* first tries, then sleeps on a condition variable; the
// mutex is only taken by waiters and by a successful claim that sees a
// waiter.
//
// Memory ordering: claims and the waiter count are seq_cst. A waiter
// increments `waiters_` and then re-tries under the mutex; a claimer updates
// its counter and then reads `waiters_`. Both are store-then-load, so with
// seq_cst at least one side sees the other: either the waiter's retry sees
// the new counter, or the claimer sees the waiter and notifies it (after
// taking the mutex, so the notification cannot fall between the waiter's
// retry and its wait).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace flockrl {

class RateLimiter {
 public:
  RateLimiter(double samples_per_insert, int64_t min_size_to_sample, double error_buffer)
      : spi_(samples_per_insert),
        min_size_(min_size_to_sample),
        error_buffer_(error_buffer),
        min_diff_(samples_per_insert * static_cast<double>(min_size_to_sample) - error_buffer),
        max_diff_(samples_per_insert * static_cast<double>(min_size_to_sample) + error_buffer) {}

  double samples_per_insert() const { return spi_; }
  int64_t min_size_to_sample() const { return min_size_; }
  double error_buffer() const { return error_buffer_; }

  // Whether a request of this size is sure to get through eventually.
  bool AllowableInsert(int64_t n) const { return static_cast<double>(n) * spi_ <= error_buffer_; }
  bool AllowableSample(int64_t m) const { return static_cast<double>(m) <= error_buffer_; }

  // Marks n claimed inserts as written: samples may now count them.
  // Thread-safe.
  void InsertDone(int64_t n) {
    done_.fetch_add(n, std::memory_order_seq_cst);
    WakeWaiters();
  }

  // Claims n inserts if allowed now. Thread-safe, lock-free unless a
  // waiter must be woken.
  bool TryInsert(int64_t n) { return ClaimInsert(n) && (WakeWaiters(), true); }
  // Claims m samples if allowed now. Thread-safe, as TryInsert.
  bool TrySample(int64_t m) { return ClaimSample(m) && (WakeWaiters(), true); }

  // Blocking forms: wait up to `timeout_s` seconds; false on timeout or
  // once Interrupt() was called after the caller read `interrupts_seen`
  // from interrupts() (so a wait made of several slices can be interrupted
  // between them). Thread-safe.
  bool AwaitInsert(int64_t n, double timeout_s, uint64_t interrupts_seen) {
    return Await([&] { return ClaimInsert(n); }, timeout_s, interrupts_seen);
  }
  bool AwaitSample(int64_t m, double timeout_s, uint64_t interrupts_seen) {
    return Await([&] { return ClaimSample(m); }, timeout_s, interrupts_seen);
  }

  uint64_t interrupts() const { return interrupts_.load(std::memory_order_seq_cst); }
  bool interrupted() const { return closed_.load(std::memory_order_seq_cst); }

  // Wakes every waiter, and from now on a request that cannot go through at
  // once fails instead of waiting (for shutting down). Thread-safe.
  void Interrupt() {
    closed_.store(true, std::memory_order_seq_cst);
    interrupts_.fetch_add(1, std::memory_order_seq_cst);
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }

  // For checkpoint loads: not thread-safe.
  void Restore(int64_t inserts, int64_t samples) {
    inserts_.store(inserts);
    done_.store(inserts);
    samples_.store(samples);
  }

  // Racy observers.
  int64_t inserts() const { return inserts_.load(std::memory_order_relaxed); }
  int64_t samples() const { return samples_.load(std::memory_order_relaxed); }

 private:
  bool ClaimInsert(int64_t n) {
    const int64_t samples = samples_.load(std::memory_order_seq_cst);
    int64_t inserts = inserts_.load(std::memory_order_seq_cst);
    do {
      if (Diff(inserts + n, samples) > max_diff_) return false;
    } while (!inserts_.compare_exchange_weak(inserts, inserts + n, std::memory_order_seq_cst));
    return true;
  }

  bool ClaimSample(int64_t m) {
    const int64_t inserts = done_.load(std::memory_order_seq_cst);
    int64_t samples = samples_.load(std::memory_order_seq_cst);
    do {
      if (inserts < min_size_ || Diff(inserts, samples + m) < min_diff_) return false;
    } while (!samples_.compare_exchange_weak(samples, samples + m, std::memory_order_seq_cst));
    return true;
  }

  double Diff(int64_t inserts, int64_t samples) const {
    return static_cast<double>(inserts) * spi_ - static_cast<double>(samples);
  }

  void WakeWaiters() {
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    { std::lock_guard<std::mutex> lock(mutex_); }
    cv_.notify_all();
  }

  // `claim` never wakes anyone itself: it may run under mutex_, and the
  // waking happens once the mutex is released.
  template <typename ClaimFn>
  bool Await(ClaimFn try_claim, double timeout_s, uint64_t interrupts) {
    if (try_claim()) return WakeWaiters(), true;
    if (timeout_s <= 0 || closed_.load(std::memory_order_seq_cst)) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    std::unique_lock<std::mutex> lock(mutex_);
    bool claimed = false;
    while (!(claimed = try_claim()) && interrupts_.load(std::memory_order_seq_cst) == interrupts) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        claimed = try_claim();
        break;
      }
    }
    lock.unlock();
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
    if (claimed) WakeWaiters();
    return claimed;
  }

  const double spi_;
  const int64_t min_size_;
  const double error_buffer_;
  const double min_diff_, max_diff_;

  alignas(64) std::atomic<int64_t> inserts_{0};  // claimed
  std::atomic<int64_t> done_{0};                  // claimed and written
  alignas(64) std::atomic<int64_t> samples_{0};
  alignas(64) std::atomic<int64_t> waiters_{0};
  std::atomic<uint64_t> interrupts_{0};
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace flockrl
