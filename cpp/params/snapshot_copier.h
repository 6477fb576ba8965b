// Copies a whole snapshot between the host tensors and a store buffer,
// encoding (float32 -> bfloat16/float16) on the way in and decoding on the
// way out, split over up to `threads` threads once there is enough to copy.
//
// One copy of 40 MB on one core reaches ~60% of what two cores move when
// the data sits in a large last-level cache, and DRAM-bound copies of
// hundreds of MB also gain from a second stream; below ~1 MiB per thread the
// hand-off costs more than it saves, so small snapshots copy inline.
//
// Work is split by host bytes into contiguous ranges of the tensors laid end
// to end (each starting at a 64-byte multiple), cut at 64-byte multiples, so
// every piece starts on an element (4 bytes for encoded floats) and every
// shared-buffer address stays 8-byte aligned (racy_copy.h).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <unistd.h>

#include "common/thread_pool.h"
#include "params/param_layout.h"
#include "params/precision.h"
#include "params/racy_copy.h"

namespace flockrl {

class SnapshotCopier {
 public:
  static constexpr uint64_t kMinBytesPerThread = uint64_t{1} << 20;

  explicit SnapshotCopier(const ParamLayout& layout) : layout_(layout) {
    starts_.reserve(layout.slots().size() + 1);
    uint64_t at = 0;
    for (const TensorSlot& s : layout.slots()) {
      at = (at + 63) / 64 * 64;  // every tensor starts on a cut boundary
      starts_.push_back(at);
      at += s.host_bytes;
    }
    starts_.push_back(at);
  }

  int threads() const { return threads_.load(std::memory_order_relaxed); }
  // Thread-safe; takes effect from the next copy. Tests lower the per-thread
  // minimum to split small snapshots.
  void set_threads(int threads, uint64_t min_bytes_per_thread = kMinBytesPerThread) {
    threads_.store(std::max(1, threads), std::memory_order_relaxed);
    min_bytes_per_thread_.store(std::max<uint64_t>(64, min_bytes_per_thread), std::memory_order_relaxed);
  }

  // Host tensors -> buffer. srcs[i] holds slot i's host bytes.
  void Encode(const void* const* srcs, uint8_t* buffer) { Run(Job{this, srcs, nullptr, buffer}); }

  // Buffer -> host tensors. Safe to call from several threads at once: one
  // of them gets the pool, the others copy on their own thread.
  void Decode(const uint8_t* buffer, void* const* dsts) {
    Run(Job{this, nullptr, dsts, const_cast<uint8_t*>(buffer)});
  }

 private:
  struct Job {
    SnapshotCopier* self;
    const void* const* srcs;  // encoding when set
    void* const* dsts;        // decoding when set
    uint8_t* buffer;
    int chunks = 1;
  };

  void Run(Job job) {
    const uint64_t total = starts_.back();
    const uint64_t per_thread = min_bytes_per_thread_.load(std::memory_order_relaxed);
    job.chunks = static_cast<int>(
        std::min<uint64_t>(static_cast<uint64_t>(threads()), std::max<uint64_t>(1, total / per_thread)));
    std::unique_lock<std::mutex> lock(pool_mutex_, std::defer_lock);
    if (job.chunks > 1 && lock.try_lock()) {
      ThreadPool& pool = Pool(job.chunks - 1);
      job.chunks = std::min(job.chunks, pool.num_workers() + 1);
      pool.Run(job.chunks, &RunChunk, &job);
    } else {
      CopyRange(job, 0, total);
    }
  }

  ThreadPool& Pool(int workers) {
    // After fork() a child holds the parent's pool but none of its threads:
    // abandon it (destroying it would wait for them forever).
    if (pool_ && pool_->owner_pid() != getpid()) (void)pool_.release();
    if (!pool_ || pool_->num_workers() < workers) pool_ = std::make_unique<ThreadPool>(workers);
    return *pool_;
  }

  static void RunChunk(void* ctx, int chunk) {
    const Job& job = *static_cast<const Job*>(ctx);
    const uint64_t total = job.self->starts_.back();
    auto cut = [&](int c) {
      return c == job.chunks ? total : total / static_cast<uint64_t>(job.chunks) * static_cast<uint64_t>(c) / 64 * 64;
    };
    job.self->CopyRange(job, cut(chunk), cut(chunk + 1));
  }

  // Copies host bytes [begin, end) of the concatenated tensors.
  void CopyRange(const Job& job, uint64_t begin, uint64_t end) const {
    const auto& slots = layout_.slots();
    auto i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin()) - 1;
    for (; i < slots.size() && starts_[i] < end; ++i) {
      const TensorSlot& s = slots[i];
      const uint64_t from = std::max(begin, starts_[i]) - starts_[i];
      const uint64_t to = std::min(end, starts_[i] + s.host_bytes) - starts_[i];
      if (from >= to) continue;
      uint8_t* shared = job.buffer + s.offset;
      if (job.srcs) {
        EncodePiece(s, static_cast<const uint8_t*>(job.srcs[i]), shared, from, to);
      } else {
        DecodePiece(s, shared, static_cast<uint8_t*>(job.dsts[i]), from, to);
      }
    }
  }

  // Conversion runs through a private, L1-sized chunk so the only access to
  // shared bytes is a plain copy.
  static constexpr std::size_t kChunk = 4096;

  static void EncodePiece(const TensorSlot& s, const uint8_t* host, uint8_t* shared, uint64_t from, uint64_t to) {
    if (s.encoding == Encoding::kRaw) return CopyToShared(shared + from, host + from, to - from);
    uint16_t chunk[kChunk];
    for (uint64_t i = from / 4; i < to / 4; i += kChunk) {
      const std::size_t m = std::min<uint64_t>(kChunk, to / 4 - i);
      const float* in = reinterpret_cast<const float*>(host) + i;
      if (s.encoding == Encoding::kFloatAsBFloat16) {
        FloatToBFloat16(in, chunk, m);
      } else {
        FloatToHalf(in, chunk, m);
      }
      CopyToShared(shared + 2 * i, chunk, 2 * m);
    }
  }

  static void DecodePiece(const TensorSlot& s, const uint8_t* shared, uint8_t* host, uint64_t from, uint64_t to) {
    if (s.encoding == Encoding::kRaw) return CopyFromShared(host + from, shared + from, to - from);
    uint16_t chunk[kChunk];
    for (uint64_t i = from / 4; i < to / 4; i += kChunk) {
      const std::size_t m = std::min<uint64_t>(kChunk, to / 4 - i);
      CopyFromShared(chunk, shared + 2 * i, 2 * m);
      float* out = reinterpret_cast<float*>(host) + i;
      if (s.encoding == Encoding::kFloatAsBFloat16) {
        BFloat16ToFloat(chunk, out, m);
      } else {
        HalfToFloat(chunk, out, m);
      }
    }
  }

  const ParamLayout& layout_;
  std::vector<uint64_t> starts_;  // where each slot starts when laid end to end, then the end
  std::atomic<int> threads_{1};
  std::atomic<uint64_t> min_bytes_per_thread_{kMinBytesPerThread};
  std::mutex pool_mutex_;  // one caller of the pool at a time
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace flockrl
