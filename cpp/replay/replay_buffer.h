// Replay buffers that many threads add to while learners sample and update
// priorities, with no global lock: a uniform buffer and a prioritized one
// (Schaul et al. 2016, proportional variant) sharing the same storage and
// slot protocol.
//
// Prioritized sampling: P(i) = p_i^alpha / sum_k p_k^alpha, where p_i is a
// priority given by the user plus `eps` (or, for a new item without one, the
// largest such value seen so far, initially 1). A batch of B is stratified:
// [0, total) is cut into B equal segments and one item is drawn in each.
// Importance weights use the whole-buffer maximum weight (N P_min)^-beta for
// normalisation, which makes them
//     w_i = (N P(i))^-beta / (N P_min)^-beta = (p_min^alpha / p_i^alpha)^beta,
// with p_min over the filled slots (the min tree).
//
// Concurrency contract (see slot_table.h and priority_tree.h for the
// memory-ordering arguments):
//   Add                thread-safe; writers claim disjoint positions with one
//                      atomic increment and copy rows without locks. An item
//                      becomes sampleable once its row and priority are in.
//   Sample             thread-safe; never returns a row mixed from two
//                      writes (a torn copy is discarded and that stratum is
//                      drawn again). Under concurrent updates P(i) and the
//                      weights are those of a recent state of the tree.
//   UpdatePriorities   thread-safe; an update whose handle was overwritten
//                      since it was sampled is skipped and counted. Within one
//                      call, the last of duplicate handles wins.
// With a rate limiter, callers claim through rate_limiter() before Add and
// Sample (the bindings do, waiting in slices so Ctrl-C stays responsive).
// Save/Load are not thread-safe (the caller stops other users first).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/binary_file.h"
#include "common/pcg64.h"
#include "replay/priority_tree.h"
#include "replay/rate_limiter.h"
#include "replay/slot_table.h"
#include "replay/storage.h"

namespace flockrl {

struct RateLimiterConfig {
  double samples_per_insert = 1.0;
  int64_t min_size_to_sample = 1;
  double error_buffer = 1000.0;
};

struct ReplayConfig {
  int64_t capacity = 0;
  std::vector<FieldSpec> fields;
  bool prioritized = false;
  double alpha = 0.6;
  double eps = 1e-6;
  uint64_t seed = 0;
  std::optional<RateLimiterConfig> rate_limiter;  // none: adds and samples never wait
};

// Called by Sample for each item whose row was read consistently, with the
// item's index in the batch: it completes the item from data kept outside
// the row (frame_stacks.h) and returns false if that data is gone, which
// evicts the item (prioritized: its priority becomes 0) and draws again.
using ItemHook = std::function<bool(std::size_t item)>;

// Extra sections of a checkpoint file, written by whoever keeps data
// outside the rows: `config` right after the buffer's own configuration
// (and checked there on load, before anything changes), `data` after the rows.
struct SaveSections {
  std::function<void(AtomicFileWriter&)> config, data;
};
struct LoadSections {
  std::function<void(FileReader&, const std::string& path)> check_config;
  std::function<void(FileReader&)> data;
};

struct ReplayStats {
  int64_t adds = 0;           // items written
  int64_t dropped = 0;        // items overwritten before they were written (writers racing a full lap)
  int64_t samples = 0;        // items returned by Sample
  int64_t torn_redraws = 0;   // draws discarded because the row changed while being copied
  int64_t evictions = 0;      // draws discarded because the item's data elsewhere is gone (ItemHook)
  int64_t updates = 0;        // priorities applied
  int64_t stale_updates = 0;  // priority updates skipped: the item was overwritten
};

class ReplayBuffer {
 public:
  // Handles: bit 63 clear, a 16-bit buffer tag, then a 47-bit position.
  static constexpr int kPosBits = 47;
  static constexpr uint64_t kPosMask = (uint64_t{1} << kPosBits) - 1;

  explicit ReplayBuffer(ReplayConfig config)
      : config_(std::move(config)),
        storage_(config_.capacity, config_.fields),
        slots_(config_.capacity),
        tree_(config_.prioritized ? std::make_unique<PriorityTree>(config_.capacity) : nullptr),
        limiter_(config_.rate_limiter ? std::make_unique<RateLimiter>(config_.rate_limiter->samples_per_insert,
                                                                       config_.rate_limiter->min_size_to_sample,
                                                                       config_.rate_limiter->error_buffer)
                                      : nullptr),
        seed_(config_.seed),
        tag_(RandomTag()) {}

  // Bytes a buffer with this configuration allocates.
  static int64_t BytesFor(const ReplayConfig& c) {
    int64_t bytes = ReplayStorage::BytesFor(c.capacity, c.fields) + c.capacity * 8;  // + slot words
    if (c.prioritized) bytes += PriorityTree::BytesFor(c.capacity);
    return bytes;
  }

  const ReplayConfig& config() const { return config_; }
  int64_t capacity() const { return config_.capacity; }
  uint64_t tag() const { return tag_; }

  // Racy observer: complete items, at most the capacity.
  int64_t Size() const {
    return std::min<int64_t>(stats_adds_.load(std::memory_order_relaxed), config_.capacity);
  }

  ReplayStats Stats() const {
    ReplayStats s;
    s.adds = stats_adds_.load(std::memory_order_relaxed);
    s.dropped = stats_dropped_.load(std::memory_order_relaxed);
    s.samples = stats_samples_.load(std::memory_order_relaxed);
    s.torn_redraws = stats_torn_.load(std::memory_order_relaxed);
    s.evictions = stats_evicted_.load(std::memory_order_relaxed);
    s.updates = stats_updates_.load(std::memory_order_relaxed);
    s.stale_updates = stats_stale_.load(std::memory_order_relaxed);
    return s;
  }

  // The raw priority (user priority + eps) new items get. Racy observer.
  double MaxPriority() const { return max_priority_.load(std::memory_order_relaxed); }

  // Adds `batch` items: src[f] points at a contiguous [batch, item] array of
  // field f. `priorities` (prioritized buffers, may be null) are validated
  // non-negative and finite by the caller. Thread-safe.
  void Add(const std::vector<const uint8_t*>& src, int64_t batch, const double* priorities) {
    // Relaxed: the increment only has to hand out distinct positions.
    const uint64_t first = cursor_.fetch_add(static_cast<uint64_t>(batch), std::memory_order_relaxed);
    if (priorities && batch > 0) RaiseMaxPriority(*std::max_element(priorities, priorities + batch) + config_.eps);
    const double default_leaf = tree_ ? LeafValue(MaxPriority()) : 0.0;
    int64_t written = 0;
    // The priority goes in while the slot is still WRITING, so no update of
    // the new item can come before it.
    auto publish = [&](int64_t k, uint64_t pos) {
      if (tree_) tree_->SetLeaf(slots_.SlotOf(pos), priorities ? LeafValue(priorities[k] + config_.eps) : default_leaf);
      slots_.EndWrite(pos);
      ++written;
    };
    if (storage_.streams()) {
      // Long rows are streamed (storage.h): claim up to 64 slots, fence,
      // stream their rows, fence, publish. Holding claimed slots while
      // claiming more cannot deadlock: a writer only waits for an older
      // position, and the ranges of concurrent calls are disjoint, so every
      // wait points to a call whose whole range is older.
      for (int64_t c0 = 0; c0 < batch; c0 += 64) {
        const int64_t n = std::min<int64_t>(64, batch - c0);
        uint64_t claimed = 0;
        for (int64_t k = 0; k < n; ++k) {
          if (slots_.BeginWrite(first + static_cast<uint64_t>(c0 + k))) claimed |= uint64_t{1} << k;
        }
        ReplayStorage::StreamFence();  // the WRITING words before any new data
        for (int64_t k = 0; k < n; ++k) {
          const uint64_t pos = first + static_cast<uint64_t>(c0 + k);
          if (claimed >> k & 1) storage_.StreamRow(slots_.SlotOf(pos), src, c0 + k);
        }
        ReplayStorage::StreamFence();  // all the data before READY
        for (int64_t k = 0; k < n; ++k) {
          if (claimed >> k & 1) publish(c0 + k, first + static_cast<uint64_t>(c0 + k));
        }
      }
    } else {
      for (int64_t k = 0; k < batch; ++k) {
        const uint64_t pos = first + static_cast<uint64_t>(k);
        if (!slots_.BeginWrite(pos)) continue;
        storage_.WriteRow(slots_.SlotOf(pos), src, k);
        publish(k, pos);
      }
    }
    if (tree_ && written > 0) {
      // The positions are contiguous: at most two ranges of slots.
      const int64_t begin = slots_.SlotOf(first), n = std::min<int64_t>(batch, config_.capacity);
      const int64_t end = begin + n;
      tree_->PropagateRange(begin, std::min(end, config_.capacity));
      if (end > config_.capacity) tree_->PropagateRange(0, end - config_.capacity);
    }
    stats_adds_.fetch_add(written, std::memory_order_relaxed);
    stats_dropped_.fetch_add(batch - written, std::memory_order_relaxed);
  }

  // Draws `batch` items into dst[f] ([batch, item] arrays), their handles,
  // and (prioritized) their importance weights for `beta` and, when
  // `masses` is given, each item's leaf p_i^alpha (what a sampler over
  // several buffers needs to weigh items against each other's totals).
  // `hook` (may be null) completes each item (see ItemHook). The caller
  // checks that Size() >= 1. Thread-safe.
  void Sample(int64_t batch, double beta, const std::vector<uint8_t*>& dst, int64_t* handles, double* weights,
              double* masses = nullptr, const ItemHook* hook = nullptr) {
    Pcg64 rng = CallRng();
    const double total = tree_ ? tree_->Total() : 0.0;
    const double min_leaf = tree_ ? tree_->Min() : 0.0;
    // Uniform draws cover every slot handed out so far: writes finish out of
    // order, so the complete ones need not be a prefix (unready ones are
    // drawn again).
    const auto size = std::min<uint64_t>(cursor_.load(std::memory_order_relaxed), static_cast<uint64_t>(config_.capacity));
    const auto n = static_cast<std::size_t>(batch);
    // One draw per item first, all walks and row loads overlapped; an item
    // whose draw fails (empty leaf, row being written, torn copy) is drawn
    // again on its own below.
    std::vector<int64_t> slots(n);
    if (tree_) {
      std::vector<double> points(n);
      for (std::size_t i = 0; i < n; ++i) points[i] = Stratum(i, batch, total, rng);
      // Each row is fetched as soon as its walk ends, overlapping the
      // remaining walks (256 rows of a line or two fit in L1/L2).
      tree_->FindPrefixSums(points.data(), slots.data(), batch, [&](int64_t slot) {
        slots_.Prefetch(slot);
        storage_.PrefetchRow(slot);
      });
    } else {
      for (std::size_t i = 0; i < n; ++i) slots[i] = UniformSlot(size, rng);
    }
    // Uniform: rows are fetched a few items ahead of the copy: enough misses
    // in flight to hide latency, few enough to stay in the fill buffers and L1.
    constexpr std::size_t kAhead = 12;
    auto prefetch = [&](std::size_t i) {
      if (tree_ || i >= n) return;  // prioritized: fetched by the walk
      slots_.Prefetch(slots[i]);
      storage_.PrefetchRow(slots[i]);
    };
    for (std::size_t i = 0; i < kAhead; ++i) prefetch(i);
    int64_t torn = 0, evicted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      prefetch(i + kAhead);
      int64_t slot = slots[i];
      for (int attempt = 0;; Backoff(attempt)) {
        if (attempt > 0) {
          if (attempt == kMaxAttempts) {
            throw std::runtime_error("replay sample: no consistent item after " + std::to_string(kMaxAttempts) +
                                     " draws (is the buffer being overwritten faster than it can be read?)");
          }
          slot = tree_ ? tree_->FindPrefixSum(Stratum(i, batch, total, rng)) : UniformSlot(size, rng);
        }
        const double leaf = tree_ ? tree_->Leaf(slot) : 0.0;
        if (tree_ && !(leaf > 0)) continue;  // an empty leaf: only under a concurrent change
        uint64_t word;
        if (!slots_.BeginRead(slot, &word)) continue;
        storage_.ReadRow(slot, dst, static_cast<int64_t>(i));
        if (!slots_.EndRead(slot, word)) {
          ++torn;
          continue;
        }
        if (hook && !(*hook)(i)) {
          ++evicted;
          if (tree_) Evict(SlotTable::PosOf(word));
          continue;
        }
        handles[i] = static_cast<int64_t>((tag_ << kPosBits) | SlotTable::PosOf(word));
        // min(): a leaf lowered after min_leaf was read must not weigh above 1.
        if (tree_) weights[i] = std::pow(std::min(min_leaf, leaf) / leaf, beta);
        if (masses) masses[i] = leaf;
        break;
      }
    }
    stats_samples_.fetch_add(batch, std::memory_order_relaxed);
    stats_torn_.fetch_add(torn, std::memory_order_relaxed);
    stats_evicted_.fetch_add(evicted, std::memory_order_relaxed);
  }

  // Checks handles before an update: the index of the first handle that
  // this buffer never issued, or -1. Racy only in the benign direction (a
  // handle issued concurrently may be reported as never issued).
  int64_t FirstForeignHandle(const int64_t* handles, int64_t n) const {
    const uint64_t issued = cursor_.load(std::memory_order_relaxed);
    for (int64_t i = 0; i < n; ++i) {
      const auto h = static_cast<uint64_t>(handles[i]);
      if (handles[i] < 0 || (h >> kPosBits) != tag_ || (h & kPosMask) >= issued) return i;
    }
    return -1;
  }

  // Sets the priorities (before eps and alpha) of the items named by
  // `handles`, validated by the caller (FirstForeignHandle, finite, >= 0).
  // Returns how many were skipped as stale. Thread-safe.
  int64_t UpdatePriorities(const int64_t* handles, const double* priorities, int64_t n) {
    if (n == 0) return 0;
    std::vector<int64_t> dirty;
    double applied_max = 0.0;
    dirty.reserve(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t slot = slots_.SlotOf(static_cast<uint64_t>(handles[i]) & kPosMask);
      slots_.Prefetch(slot);
      tree_->PrefetchLeaf(slot);
    }
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t pos = static_cast<uint64_t>(handles[i]) & kPosMask;
      if (!slots_.BeginUpdate(pos)) continue;
      const int64_t slot = slots_.SlotOf(pos);
      tree_->SetLeaf(slot, LeafValue(priorities[i] + config_.eps));
      slots_.EndUpdate(pos);
      dirty.push_back(slot);
      applied_max = std::max(applied_max, priorities[i]);
    }
    if (!dirty.empty()) RaiseMaxPriority(applied_max + config_.eps);  // stale ones do not count
    const auto applied = static_cast<int64_t>(dirty.size());
    tree_->Propagate(dirty);
    stats_updates_.fetch_add(applied, std::memory_order_relaxed);
    stats_stale_.fetch_add(n - applied, std::memory_order_relaxed);
    return n - applied;
  }

  // Writes the whole state (config, items, priorities, counters, the
  // sampling stream) to `path` atomically. Not thread-safe: no other call
  // may run meanwhile; a slot caught mid-write is an error, not a silent hole.
  void Save(const std::string& path, const SaveSections* sections = nullptr) const {
    AtomicFileWriter out(path);
    out.Write(kMagic, sizeof(kMagic));
    out.Put(kFormatVersion);
    PutConfig(out);
    if (sections) sections->config(out);
    out.Put(cursor_.load());
    out.Put(sample_calls_.load());
    out.Put(max_priority_.load());
    out.Put(seed_);
    const ReplayStats st = Stats();
    for (int64_t v : {st.adds, st.dropped, st.samples, st.torn_redraws, st.updates, st.stale_updates}) out.Put(v);
    out.Put(limiter_ ? limiter_->inserts() : int64_t{0});
    out.Put(limiter_ ? limiter_->samples() : int64_t{0});
    std::vector<uint8_t> row;
    for (int64_t slot = 0; slot < config_.capacity; ++slot) {
      const uint64_t word = slots_.Load(slot);
      if (word != SlotTable::kEmpty && SlotTable::TagOf(word) != SlotTable::kReady) {
        throw std::runtime_error("save: slot " + std::to_string(slot) + " is being written; stop adds first");
      }
      out.Put(word);
      if (word == SlotTable::kEmpty) continue;
      if (tree_) out.Put(tree_->Leaf(slot));
      for (std::size_t f = 0; f < config_.fields.size(); ++f) {
        row.resize(static_cast<std::size_t>(config_.fields[f].ItemBytes()));
        storage_.ReadField(f, slot, row.data());
        out.Write(row.data(), row.size());
      }
    }
    if (sections) sections->data(out);
    out.Commit();
  }

  // Restores a state saved by Save from a buffer of the same configuration
  // (capacity, fields, prioritized, alpha, eps, rate limiter). A foreign,
  // truncated or corrupt file is an error and changes nothing. Not
  // thread-safe.
  void Load(const std::string& path, const LoadSections* sections = nullptr) {
    FileReader in(path);
    char magic[sizeof(kMagic)];
    if (in.size() < sizeof(kMagic) + 8) throw BinaryFileError(path + " is not a flockrl replay checkpoint (too short)");
    in.Read(magic, sizeof(magic));
    if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
      throw BinaryFileError(path + " is not a flockrl replay checkpoint (bad magic)");
    }
    if (const auto version = in.Get<uint32_t>(); version != kFormatVersion) {
      throw BinaryFileError(path + ": checkpoint format version " + std::to_string(version) + ", this flockrl reads " +
                            std::to_string(kFormatVersion));
    }
    if (!in.VerifyChecksum()) throw BinaryFileError(path + " is truncated or corrupt (checksum mismatch)");
    in.Read(magic, sizeof(magic));
    in.Get<uint32_t>();
    CheckConfig(in, path);  // before anything changes
    if (sections) sections->check_config(in, path);
    cursor_.store(in.Get<uint64_t>());
    sample_calls_.store(in.Get<uint64_t>());
    max_priority_.store(in.Get<double>());
    seed_ = in.Get<uint64_t>();
    tag_ = RandomTag();  // fresh: handles from before the load (or another copy) are refused
    for (std::atomic<int64_t>* c : {&stats_adds_, &stats_dropped_, &stats_samples_, &stats_torn_, &stats_updates_,
                                    &stats_stale_}) {
      c->store(in.Get<int64_t>());
    }
    const auto inserts = in.Get<int64_t>(), samples = in.Get<int64_t>();
    if (limiter_) limiter_->Restore(inserts, samples);
    std::vector<uint8_t> row;
    std::vector<const uint8_t*> src(config_.fields.size());
    std::vector<std::vector<uint8_t>> rows(config_.fields.size());
    for (int64_t slot = 0; slot < config_.capacity; ++slot) {
      const auto word = in.Get<uint64_t>();
      slots_.Store(slot, word);
      if (word == SlotTable::kEmpty) {
        if (tree_) tree_->SetLeaf(slot, 0.0);
        continue;
      }
      if (tree_) tree_->SetLeaf(slot, in.Get<double>());
      for (std::size_t f = 0; f < config_.fields.size(); ++f) {
        rows[f].resize(static_cast<std::size_t>(config_.fields[f].ItemBytes()));
        in.Read(rows[f].data(), rows[f].size());
        src[f] = rows[f].data();
      }
      storage_.WriteRow(slot, src, 0);
    }
    if (tree_) tree_->Rebuild();
    if (sections) sections->data(in);
  }

  // The limiter claimed `n` inserts for Add, which has now written them.
  void InsertsWritten(int64_t n) {
    if (limiter_) limiter_->InsertDone(n);
  }

  // Null when the buffer has no rate limiter.
  RateLimiter* rate_limiter() { return limiter_.get(); }

  // Racy observer for tests: leaf p^alpha of a slot (prioritized only).
  const PriorityTree* tree() const { return tree_.get(); }
  const SlotTable& slots() const { return slots_; }

 private:
  // A stratum is redrawn while its item is being written; past 64 tries the
  // sampler yields between draws. Never reached unless writers never stop
  // rewriting one tiny buffer.
  static constexpr int kMaxAttempts = 1'000'000;
  static constexpr char kMagic[8] = {'F', 'L', 'O', 'C', 'K', 'R', 'L', 'R'};
  static constexpr uint32_t kFormatVersion = 1;

  static std::string ShapeText(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    return s + ")";
  }

  void PutConfig(AtomicFileWriter& out) const {
    out.Put(config_.capacity);
    out.Put(static_cast<uint8_t>(config_.prioritized));
    out.Put(config_.alpha);
    out.Put(config_.eps);
    out.Put(static_cast<uint32_t>(config_.fields.size()));
    for (const FieldSpec& f : config_.fields) {
      out.PutString(f.name);
      out.Put(static_cast<int32_t>(f.dtype));
      out.Put(static_cast<uint32_t>(f.shape.size()));
      for (int64_t d : f.shape) out.Put(d);
    }
    out.Put(static_cast<uint8_t>(config_.rate_limiter.has_value()));
    if (config_.rate_limiter) {
      out.Put(config_.rate_limiter->samples_per_insert);
      out.Put(config_.rate_limiter->min_size_to_sample);
      out.Put(config_.rate_limiter->error_buffer);
    }
  }

  // Reads the file's config and throws naming the first difference.
  void CheckConfig(FileReader& in, const std::string& path) const {
    auto mismatch = [&](const std::string& what, const std::string& file, const std::string& mine) {
      return BinaryFileError(path + ": " + what + " differs: the checkpoint has " + file + ", this buffer " + mine);
    };
    auto num = [](auto v) { return std::to_string(v); };
    if (const auto c = in.Get<int64_t>(); c != config_.capacity) throw mismatch("capacity", num(c), num(config_.capacity));
    const bool prioritized = in.Get<uint8_t>() != 0;
    if (prioritized != config_.prioritized) {
      throw mismatch("kind", prioritized ? "prioritized" : "uniform", config_.prioritized ? "prioritized" : "uniform");
    }
    if (const auto a = in.Get<double>(); a != config_.alpha) throw mismatch("alpha", num(a), num(config_.alpha));
    if (const auto e = in.Get<double>(); e != config_.eps) throw mismatch("eps", num(e), num(config_.eps));
    const auto n = in.Get<uint32_t>();
    if (n != config_.fields.size()) throw mismatch("number of fields", num(n), num(config_.fields.size()));
    for (const FieldSpec& f : config_.fields) {
      const std::string name = in.GetString();
      if (name != f.name) throw mismatch("field", "'" + name + "'", "'" + f.name + "'");
      const auto dtype = in.Get<int32_t>();
      if (dtype != static_cast<int32_t>(f.dtype)) throw mismatch("dtype of '" + f.name + "'", num(dtype), num(static_cast<int32_t>(f.dtype)));
      const auto ndim = in.Get<uint32_t>();
      std::vector<int64_t> shape(ndim > 64 ? 0 : ndim);
      if (ndim > 64) throw BinaryFileError(path + " is corrupt (field rank " + num(ndim) + ")");
      for (int64_t& d : shape) d = in.Get<int64_t>();
      if (shape != f.shape) throw mismatch("shape of '" + f.name + "'", ShapeText(shape), ShapeText(f.shape));
    }
    const bool limited = in.Get<uint8_t>() != 0;
    if (limited != config_.rate_limiter.has_value()) {
      throw mismatch("rate limiter", limited ? "one" : "none", config_.rate_limiter ? "one" : "none");
    }
    if (limited) {
      const auto spi = in.Get<double>();
      const auto min_size = in.Get<int64_t>();
      const auto eb = in.Get<double>();
      if (spi != config_.rate_limiter->samples_per_insert || min_size != config_.rate_limiter->min_size_to_sample ||
          eb != config_.rate_limiter->error_buffer) {
        throw mismatch("rate limiter", "other settings", "its own");
      }
    }
  }

  static uint64_t RandomTag() {
    static std::atomic<uint64_t> counter{0};
    std::random_device rd;
    const uint64_t mixed = (uint64_t{rd()} << 16) ^ counter.fetch_add(1, std::memory_order_relaxed);
    return (mixed ^ (mixed >> 16)) & 0xFFFFu;
  }

  double LeafValue(double raw_priority) const { return std::pow(raw_priority, config_.alpha); }

  // A mass in stratum i of B equal segments of [0, total).
  static double Stratum(std::size_t i, int64_t batch, double total, Pcg64& rng) {
    return (static_cast<double>(i) + rng.NextDouble()) * (total / static_cast<double>(batch));
  }

  static int64_t UniformSlot(uint64_t size, Pcg64& rng) {
    return static_cast<int64_t>((uint128_t{rng.NextUint64()} * size) >> 64);
  }

  // Sets the priority of insertion `pos` to 0 (never drawn again), unless it
  // was overwritten meanwhile.
  void Evict(uint64_t pos) {
    if (!slots_.BeginUpdate(pos)) return;
    std::vector<int64_t> slot = {slots_.SlotOf(pos)};
    tree_->SetLeaf(slot[0], 0.0);
    slots_.EndUpdate(pos);
    tree_->Propagate(slot);
  }

  void RaiseMaxPriority(double raw) {
    double cur = max_priority_.load(std::memory_order_relaxed);
    while (raw > cur && !max_priority_.compare_exchange_weak(cur, raw, std::memory_order_relaxed)) {
    }
  }

  // Each Sample call draws from its own stream: the buffer seed and the
  // call's number, so a run is reproducible without sharing a generator.
  Pcg64 CallRng() {
    const uint64_t call = sample_calls_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t seed = seed_;
    Pcg64 rng;
    rng.Seed(SeedSequence({static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                           static_cast<uint32_t>(call), static_cast<uint32_t>(call >> 32)}));
    return rng;
  }

  const ReplayConfig config_;
  ReplayStorage storage_;
  SlotTable slots_;
  std::unique_ptr<PriorityTree> tree_;  // null for a uniform buffer
  std::unique_ptr<RateLimiter> limiter_;
  uint64_t seed_;  // of the sampling streams (restored by Load)
  uint64_t tag_;   // in every handle: tells this buffer's handles from others'

  // Written by different threads: each on its own cache line.
  alignas(64) std::atomic<uint64_t> cursor_{0};
  alignas(64) std::atomic<uint64_t> sample_calls_{0};
  alignas(64) std::atomic<double> max_priority_{1.0};
  alignas(64) std::atomic<int64_t> stats_adds_{0};
  std::atomic<int64_t> stats_dropped_{0};
  alignas(64) std::atomic<int64_t> stats_samples_{0};
  std::atomic<int64_t> stats_torn_{0};
  std::atomic<int64_t> stats_evicted_{0};
  alignas(64) std::atomic<int64_t> stats_updates_{0};
  std::atomic<int64_t> stats_stale_{0};
};

}  // namespace flockrl
