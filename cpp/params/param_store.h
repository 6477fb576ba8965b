// A versioned parameter store in named shared memory: one writer (the
// owner) publishes whole snapshots of a model's tensors; any number of
// readers, in threads of the owner's process or in other processes of the
// same user, pull the newest snapshot. The writer never waits for readers;
// a reader never keeps a torn snapshot.
//
// Segment: a 4 KiB header (magic, format version, layout hash, sizes, owner
// pid and start time, the latest version), the layout's description, then
// `num_buffers` snapshot buffers (2-8, default 3), each page-aligned.
//
// Publishing writes the next version into a buffer other than the latest,
// preferring one no reader is copying. Readers copy the buffer that held the
// latest version when they started, and mark it while they do. With three
// buffers a reader is only overwritten if every buffer but the latest is
// being read; even then it notices and retries on the newest, it never
// returns torn data. Readers
// can be starved only by a writer that republishes faster than they copy,
// never blocked; the writer is never slowed by them.
//
// Memory ordering (per buffer, a seqlock):
//   writer: seq.store(odd, relaxed); fence(release); data stores;
//           version.store(v, relaxed); seq.store(even, release);
//           latest.store(v << 8 | buffer, release)
//   reader: latest.load(acquire); s1 = seq.load(acquire); v = version.load;
//           data loads; fence(acquire); s2 = seq.load(relaxed);
//           keep the copy iff s1 == s2 and s1 is even.
// If the reader read any byte of a later write, the writer's release fence
// synchronises with the reader's acquire fence, so s2 sees the odd store (or
// later): the copy is discarded. If it kept the copy, s1's acquire load read
// the even store that ended the write of version v, so every data store of v
// happened before the copy and none of a later write was seen. `latest` is a
// release/acquire pair so a reader that sees a version finds its buffer
// already complete. Readers' pin counts are hints that steer the writer
// away from busy buffers (relaxed: correctness never depends on them). The
// header lives in shared memory; its atomics are lock-free, hence
// address-free, so they work across processes. How the data bytes are
// copied: racy_copy.h; split over threads: snapshot_copier.h.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/process_identity.h"
#include "params/param_layout.h"
#include "params/racy_copy.h"
#include "params/shm_segment.h"
#include "params/snapshot_copier.h"

namespace flockrl {

// Attached with a different model (the layout hash differs).
class LayoutMismatchError : public ShmError {
 public:
  using ShmError::ShmError;
};

class ParamStore {
 public:
  static constexpr uint64_t kMagic = 0x50524c4b434f4c46ull;  // "FLOCKRLP", little-endian
  static constexpr uint32_t kFormatVersion = 1;
  static constexpr uint32_t kMaxBuffers = 8;
  static constexpr uint32_t kDefaultBuffers = 3;
  // A segment still being created after this long was left by a crash.
  static constexpr double kStaleCreationSeconds = 10;

  // Creates the store `name`, reclaiming a segment of that name whose owner
  // died. Throws ShmError if a live owner holds the name.
  static std::unique_ptr<ParamStore> Create(const std::string& name, ParamLayout layout,
                                            uint32_t num_buffers = kDefaultBuffers) {
    if (num_buffers < 2 || num_buffers > kMaxBuffers) {
      throw std::invalid_argument("num_buffers: expected 2 to " + std::to_string(kMaxBuffers) + ", got " +
                                  std::to_string(num_buffers));
    }
    const Geometry g = Geometry::For(layout, num_buffers);
    std::unique_ptr<ParamStore> store(new ParamStore(std::move(layout)));
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (ShmSegment::TryCreate(name, g.total_bytes, &store->segment_)) {
        store->InitHeader(g, num_buffers);
        store->owner_pid_ = getpid();
        return store;
      }
      ReclaimIfStale(name);
    }
    throw ShmInUseError("cannot create shared memory '" + ShmSegment::PosixName(name) +
                        "': another process keeps recreating it");
  }

  // Attaches to the store `name` as a reader. Throws ShmError if it is
  // missing, not a flockrl store or incomplete, LayoutMismatchError if it was
  // created with a different layout.
  static std::unique_ptr<ParamStore> Attach(const std::string& name, ParamLayout layout) {
    std::unique_ptr<ParamStore> store(new ParamStore(std::move(layout)));
    store->segment_ = ShmSegment::Open(name);
    const Header& h = store->header();
    CheckReadyStore(store->segment_, h);
    if (h.layout_hash != store->layout_.Hash() || h.buffer_bytes != store->layout_.buffer_bytes()) {
      throw LayoutMismatchError("shared memory '" + store->segment_.posix_name() +
                                "' holds a different set of tensors (layout hash differs)");
    }
    return store;
  }

  // The layout description stored by the creator (to explain a mismatch).
  static std::string ReadDescription(const std::string& name) {
    ShmSegment segment = ShmSegment::Open(name);
    const auto& h = *reinterpret_cast<const Header*>(segment.data());
    CheckReadyStore(segment, h);
    return std::string(reinterpret_cast<const char*>(segment.data()) + kHeaderBytes, h.description_bytes);
  }

  // Removes a segment whose owner is gone (or that was left half-created).
  // Returns true if it removed one. Never touches a live owner's segment,
  // nor one another process created under the name after its own reclaim.
  static bool ReclaimIfStale(const std::string& name) {
    ShmSegment segment;
    try {
      segment = ShmSegment::Open(name);
    } catch (const ShmNotFoundError&) {
      return false;  // vanished meanwhile
    }
    if (segment.size() >= sizeof(Header)) {
      const auto& h = *reinterpret_cast<const Header*>(segment.data());
      if (h.magic != kMagic) {
        throw ShmError("shared memory '" + segment.posix_name() +
                       "' exists but is not a flockrl parameter store; remove it or choose another name");
      }
      if (h.state.load(std::memory_order_acquire) == kReady) {
        const ProcessIdentity owner{h.owner_pid, h.owner_start_time};
        if (owner.IsAlive()) {
          throw ShmInUseError("shared memory '" + segment.posix_name() + "' is in use by its owner, pid " +
                         std::to_string(h.owner_pid) + "; close that store or choose another name");
        }
        return segment.UnlinkIfSame();
      }
    }
    // Too small for a header, or header not ready: being created right now,
    // or left by a creator that crashed midway.
    if (segment.AgeSeconds() < kStaleCreationSeconds) {
      throw ShmInUseError("shared memory '" + segment.posix_name() + "' is being created by another process");
    }
    return segment.UnlinkIfSame();
  }

  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;
  ~ParamStore() { Close(); }

  // Owner: marks the store closed and unlinks its name (mappings held by
  // readers stay valid). Idempotent. A forked child of the owner is not the
  // owner: its exit leaves the store alone.
  void Close() {
    if (is_owner()) {
      header().state.store(kClosed, std::memory_order_release);
      segment_.UnlinkIfSame();
      owner_pid_ = 0;
    }
  }

  bool is_owner() const { return owner_pid_ != 0 && owner_pid_ == getpid(); }
  const ParamLayout& layout() const { return layout_; }
  const std::string& posix_name() const { return segment_.posix_name(); }
  std::size_t segment_bytes() const { return segment_.size(); }
  uint32_t num_buffers() const { return header().num_buffers; }
  int64_t owner_pid() const { return header().owner_pid; }
  // False once the owner closed the store or died.
  bool owner_alive() const {
    const Header& h = header();
    if (h.state.load(std::memory_order_acquire) != kReady) return false;
    return ProcessIdentity{h.owner_pid, h.owner_start_time}.IsAlive();
  }

  // The newest published version; 0 before the first publish. Thread-safe,
  // one atomic load.
  uint64_t version() const { return header().latest.load(std::memory_order_acquire) >> kIndexBits; }

  // Owner only. Copies every tensor (srcs[i] holds slots()[i].host_bytes) into
  // a free buffer and makes it the newest version, which it returns. Never
  // waits for readers; publishes from several threads of the owner are
  // serialised.
  uint64_t Publish(const void* const* srcs) {
    if (!is_owner()) throw std::logic_error("only the store's owner publishes (in the owner's process)");
    std::lock_guard<std::mutex> lock(publish_mutex_);
    Header& h = header();
    const uint64_t latest = h.latest.load(std::memory_order_relaxed);
    const uint64_t version = (latest >> kIndexBits) + 1;
    const uint32_t index = PickBufferToWrite(static_cast<uint32_t>(latest & kIndexMask), latest != 0);
    BufferState& b = h.buffers[index];
    const uint64_t seq = b.seq.load(std::memory_order_relaxed);
    b.seq.store(seq + 1, std::memory_order_relaxed);
    SeqlockWriteFence();
    copier_.Encode(srcs, buffer(index));
    b.version.store(version, std::memory_order_relaxed);
    b.seq.store(seq + 2, std::memory_order_release);
    h.latest.store(version << kIndexBits | index, std::memory_order_release);
    return version;
  }

  // Thread-safe. If a version newer than `newer_than` exists, copies it into
  // dsts (dsts[i] receives slots()[i].host_bytes) and returns its version;
  // otherwise returns 0 without copying (a single atomic load). Never returns
  // a torn snapshot: a copy the writer overtook is redone on the newest
  // version (versions only grow, so a call that started copying always
  // completes one).
  uint64_t Pull(void* const* dsts, uint64_t newer_than) { return PullObserved(dsts, newer_than, [] {}); }

  // Pull calling `after_copy()` between each attempt's copy and its seqlock
  // check: tests publish there to overtake a reader at a known moment.
  template <class AfterCopy>
  uint64_t PullObserved(void* const* dsts, uint64_t newer_than, AfterCopy&& after_copy) {
    Header& h = header();
    for (int attempt = 0;; ++attempt) {
      const uint64_t latest = h.latest.load(std::memory_order_acquire);
      if ((latest >> kIndexBits) <= newer_than) return 0;
      BufferState& b = h.buffers[latest & kIndexMask];
      b.readers.fetch_add(1, std::memory_order_relaxed);
      const uint64_t s1 = b.seq.load(std::memory_order_acquire);
      const uint64_t version = b.version.load(std::memory_order_relaxed);
      bool kept = false;
      if ((s1 & 1) == 0 && version > newer_than) {
        copier_.Decode(buffer(static_cast<uint32_t>(latest & kIndexMask)), dsts);
        after_copy();
        SeqlockReadFence();
        kept = b.seq.load(std::memory_order_relaxed) == s1;
      }
      b.readers.fetch_sub(1, std::memory_order_relaxed);
      if (kept) return version;
      retries_.fetch_add(1, std::memory_order_relaxed);
      if (attempt >= 2) std::this_thread::yield();
    }
  }

  // Threads a publish or pull may split its copy over (1: the caller's only).
  int copy_threads() const { return copier_.threads(); }
  void set_copy_threads(int threads, uint64_t min_bytes_per_thread = SnapshotCopier::kMinBytesPerThread) {
    copier_.set_threads(threads, min_bytes_per_thread);
  }

  // Copies a reader discarded because the writer overtook it (this handle).
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kCreating = 0, kReady = 1, kClosed = 2;
  static constexpr std::size_t kHeaderBytes = 4096;
  static constexpr std::size_t kPage = 4096;
  static constexpr int kIndexBits = 8;
  static constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

  struct alignas(64) BufferState {
    std::atomic<uint64_t> seq;      // odd while being written
    std::atomic<uint64_t> version;  // the version it holds when seq is even
    std::atomic<uint32_t> readers;  // readers copying it now (a hint)
  };

  struct Header {
    // Written once by the creator before `state` becomes kReady.
    uint64_t magic;
    uint32_t format_version;
    uint32_t num_buffers;
    uint64_t layout_hash;
    uint64_t buffer_bytes;
    uint64_t description_bytes;
    uint64_t buffers_offset;
    uint64_t buffer_stride;
    uint64_t total_bytes;
    int64_t owner_pid;
    uint64_t owner_start_time;
    std::atomic<uint32_t> state;
    alignas(64) std::atomic<uint64_t> latest;  // version << 8 | buffer index; 0: none yet
    BufferState buffers[kMaxBuffers];
  };
  static_assert(sizeof(Header) <= kHeaderBytes);
  static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free,
                "shared-memory atomics must be lock-free to work across processes");

  struct Geometry {
    uint64_t description_bytes, buffers_offset, buffer_stride, total_bytes;
    static Geometry For(const ParamLayout& layout, uint32_t num_buffers) {
      Geometry g{};
      g.description_bytes = layout.description().size();
      g.buffers_offset = RoundUp(kHeaderBytes + g.description_bytes, kPage);
      g.buffer_stride = RoundUp(std::max<uint64_t>(layout.buffer_bytes(), 1), kPage);
      g.total_bytes = g.buffers_offset + g.buffer_stride * num_buffers;
      return g;
    }
  };

  explicit ParamStore(ParamLayout layout) : layout_(std::move(layout)) {}

  static uint64_t RoundUp(uint64_t x, uint64_t to) { return (x + to - 1) / to * to; }

  static void CheckReadyStore(const ShmSegment& segment, const Header& h) {
    const std::string& n = segment.posix_name();
    if (segment.size() < kHeaderBytes || h.magic != kMagic) {
      throw ShmError("shared memory '" + n + "' is not a flockrl parameter store");
    }
    if (h.format_version != kFormatVersion) {
      throw ShmError("shared memory '" + n + "' has store format " + std::to_string(h.format_version) +
                     ", this flockrl reads format " + std::to_string(kFormatVersion));
    }
    const uint32_t state = h.state.load(std::memory_order_acquire);
    if (state == kCreating) throw ShmError("shared memory '" + n + "' is still being created; retry");
    if (h.total_bytes != segment.size() || h.num_buffers < 2 || h.num_buffers > kMaxBuffers ||
        h.buffers_offset + h.buffer_stride * h.num_buffers != h.total_bytes ||
        kHeaderBytes + h.description_bytes > h.buffers_offset) {
      throw ShmError("shared memory '" + n + "' has an inconsistent header (truncated or corrupt)");
    }
  }

  void InitHeader(const Geometry& g, uint32_t num_buffers) {
    // Pages from posix_fallocate are zero: state is kCreating until the end.
    auto* h = new (segment_.data()) Header{};
    h->magic = kMagic;
    h->format_version = kFormatVersion;
    h->num_buffers = num_buffers;
    h->layout_hash = layout_.Hash();
    h->buffer_bytes = layout_.buffer_bytes();
    h->description_bytes = g.description_bytes;
    h->buffers_offset = g.buffers_offset;
    h->buffer_stride = g.buffer_stride;
    h->total_bytes = g.total_bytes;
    const ProcessIdentity self = ProcessIdentity::Self();
    h->owner_pid = self.pid;
    h->owner_start_time = self.start_time;
    std::memcpy(segment_.data() + kHeaderBytes, layout_.description().data(), g.description_bytes);
    h->state.store(kReady, std::memory_order_release);
  }

  Header& header() const { return *reinterpret_cast<Header*>(segment_.data()); }
  uint8_t* buffer(uint32_t index) const {
    const Header& h = header();
    return segment_.data() + h.buffers_offset + h.buffer_stride * index;
  }

  // Not the latest (unless nothing is published). Among buffers no reader is
  // copying, the most recently written: publishes then alternate between two
  // buffers that stay warm in cache (rotating through all of them cost ~20%
  // of bandwidth at 40 MB). If every candidate is being read, the oldest:
  // its readers are the slowest and the likeliest to retry anyway.
  uint32_t PickBufferToWrite(uint32_t latest_index, bool have_latest) const {
    const Header& h = header();
    uint32_t newest_idle = kMaxBuffers, oldest = kMaxBuffers;
    for (uint32_t i = 0; i < h.num_buffers; ++i) {
      if (have_latest && i == latest_index) continue;
      const uint64_t v = h.buffers[i].version.load(std::memory_order_relaxed);
      if (oldest == kMaxBuffers || v < h.buffers[oldest].version.load(std::memory_order_relaxed)) oldest = i;
      if (h.buffers[i].readers.load(std::memory_order_relaxed) == 0 &&
          (newest_idle == kMaxBuffers || v > h.buffers[newest_idle].version.load(std::memory_order_relaxed))) {
        newest_idle = i;
      }
    }
    return newest_idle != kMaxBuffers ? newest_idle : oldest;
  }

  ParamLayout layout_;
  SnapshotCopier copier_{layout_};
  ShmSegment segment_;
  pid_t owner_pid_ = 0;  // the creating process; 0 for readers and once closed
  std::mutex publish_mutex_;
  std::atomic<uint64_t> retries_{0};
};

}  // namespace flockrl
