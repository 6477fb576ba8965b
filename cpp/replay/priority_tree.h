// Sum and min trees over the leaf priorities of a prioritized replay buffer,
// updated concurrently by many threads without a lock.
//
// Shape: an 8-ary tree stored level by level. Level 0 holds the leaves,
// p_i^alpha (0 for an empty slot); node j of level L+1 covers nodes
// 8j .. 8j+7 of level L. Sums and mins live in separate arrays, each level
// padded to whole groups of 8 (zero sums, +inf mins), so the eight children
// of a node are one aligned 64-byte cache line: a walk down 1M leaves reads
// 7 lines, and sampling never touches the mins. Leaves have no min entry:
// a level-1 min is taken over its leaves with a zero leaf counting as +inf,
// so the root's min is the smallest priority among filled slots.
//
// Internal sums are float64 and every parent is recomputed from its eight
// children (always in the same order), never adjusted by a delta, so the
// sums do not drift however many updates happen.
//
// Concurrency: SetLeaf and Propagate may run on any number of threads at
// once. A thread that changes leaves must then call Propagate for them. It
// works level by level: store every changed parent as the combination of
// its children, then a seq_cst fence, then check every one of them against
// its children again, redoing those that no longer match, until a check
// finds none. After all updaters return, every node equals the combination
// of its final children: the last store to a node was checked after a fence,
// and a child changed after that check is followed by its writer's fence
// and then its own store to the node, which would come later still. None of
// this depends on the number of children: two threads changing different
// children of one parent race exactly as two siblings of a binary tree do.
// Readers (Total, Min, FindPrefixSum) see a tree that may be mid-update:
// each node value is one a writer stored, not necessarily consistent with
// its children; callers treat results as samples and validate the leaf.
//
// Memory ordering: node stores and loads are relaxed; the ordering comes
// from one seq_cst fence per level pass. The check "store the parent, then
// load the children" is a store-then-load pattern (as in Dekker's
// algorithm) that acquire/release cannot order (under x86-TSO a store may
// still sit in the store buffer when a later load runs). With seq_cst fences
// F_T (after T's store to a parent, before T's check) and F_U (after U's
// store to a child, before U's store to the parent): if T's check missed
// U's child store, F_T precedes F_U, so U's parent store is later than T's
// in the parent's modification order ([atomics.order]). The sum and the
// min of a node are two atomics, each covered by this argument on its own
// (the check compares both). One fence per level instead of a locked
// instruction per node store is what makes updates cheap. No other data is
// published through the tree.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/big_array.h"

namespace flockrl {

class PriorityTree {
 public:
  static constexpr int kArityBits = 3;
  static constexpr int64_t kArity = int64_t{1} << kArityBits;

  explicit PriorityTree(int64_t capacity) : capacity_(capacity) {
    const Layout layout(capacity);
    count_ = layout.count;
    sum_off_ = layout.sum_off;
    min_off_ = layout.min_off;
    top_ = static_cast<int>(count_.size()) - 1;
    sums_ = BigArray<std::atomic<double>>(static_cast<std::size_t>(layout.sum_words));
    mins_ = BigArray<std::atomic<double>>(static_cast<std::size_t>(layout.min_words));
    for (int64_t i = 0; i < layout.min_words; ++i) mins_[Index(i)].store(kInf, std::memory_order_relaxed);
  }

  int64_t capacity() const { return capacity_; }

  // Bytes a tree over `capacity` leaves allocates.
  static int64_t BytesFor(int64_t capacity) {
    const Layout layout(capacity);
    return (layout.sum_words + layout.min_words) * static_cast<int64_t>(sizeof(double));
  }

  // Thread-safe. Never allocates. `value` >= 0; 0 marks an empty leaf.
  // Call Propagate for the leaf afterwards.
  void SetLeaf(int64_t leaf, double value) { sums_[Index(leaf)].store(value, std::memory_order_relaxed); }

  // Thread-safe racy observer: the leaf value last stored.
  double Leaf(int64_t leaf) const { return sums_[Index(leaf)].load(std::memory_order_relaxed); }

  // Hint that `leaf` is about to be written.
  void PrefetchLeaf(int64_t leaf) const { Touch(sums_[Index(leaf)]); }

  // Recomputes every ancestor of `leaves` (which it sorts and rewrites as
  // scratch). Thread-safe. Never allocates.
  void Propagate(std::vector<int64_t>& leaves) {
    std::sort(leaves.begin(), leaves.end());
    SeqCstFence();  // the leaf stores come before any parent store
    for (int level = 1; level <= top_; ++level) {
      // Parents of sorted nodes come out sorted: dedupe in place.
      std::size_t n = 0;
      for (int64_t node : leaves) {
        const int64_t parent = node >> kArityBits;
        if (n == 0 || leaves[n - 1] != parent) leaves[n++] = parent;
      }
      leaves.resize(n);
      for (int64_t parent : leaves) {
        Touch(sums_[Index(sum_off_[Index(level)] + parent)]);
        Touch(mins_[Index(min_off_[Index(level)] + parent)]);
        if (level > 1) Touch(mins_[Index(min_off_[Index(level - 1)] + parent * kArity)]);
      }
      RecomputeLevel(level, [&](auto&& fn) {
        for (int64_t parent : leaves) fn(parent);
      });
    }
  }

  // Recomputes the ancestors of the contiguous leaves [begin, end). Thread-safe.
  void PropagateRange(int64_t begin, int64_t end) {
    SeqCstFence();
    int64_t lo = begin, hi = end - 1;
    for (int level = 1; level <= top_; ++level) {
      lo >>= kArityBits;
      hi >>= kArityBits;
      RecomputeLevel(level, [&](auto&& fn) {
        for (int64_t node = lo; node <= hi; ++node) fn(node);
      });
    }
  }

  // Thread-safe racy observers.
  double Total() const { return sums_[Index(sum_off_[Index(top_)])].load(std::memory_order_relaxed); }
  double Min() const {  // +inf when empty
    return mins_[Index(min_off_[Index(top_)])].load(std::memory_order_relaxed);
  }

  // The leaf where the running sum of leaves crosses `mass`, for mass in
  // [0, Total()). Masses at or past the total (rounding, or a concurrent
  // update) end on the last leaf with a positive value instead of an empty
  // one. Thread-safe.
  int64_t FindPrefixSum(double mass) const {
    int64_t node = 0;
    for (int level = top_; level >= 1; --level) Descend(level, node, mass);
    return node;
  }

  // FindPrefixSum for many masses at once, level by level: the children of
  // the walks a few places ahead are prefetched while the current one is
  // read, so the cache misses of a batch overlap instead of queueing one
  // after another. `nodes` is scratch of the same length as `masses` (which
  // it consumes); leaves come out in `nodes`, and on_leaf(leaf) is called
  // as each walk ends. Thread-safe. Never allocates.
  template <typename OnLeaf>
  void FindPrefixSums(double* masses, int64_t* nodes, int64_t n, OnLeaf on_leaf) const {
    constexpr int64_t kAhead = 16;  // about the misses a core keeps in flight
    for (int64_t i = 0; i < n; ++i) nodes[i] = 0;
    for (int level = top_; level >= 1; --level) {
      const std::atomic<double>* children = &sums_[Index(sum_off_[Index(level - 1)])];
      for (int64_t i = 0; i < std::min(n, kAhead); ++i) Touch(children[nodes[i] * kArity]);
      for (int64_t i = 0; i < n; ++i) {
        if (i + kAhead < n) Touch(children[nodes[i + kAhead] * kArity]);
        Descend(level, nodes[i], masses[i]);
        if (level == 1) on_leaf(nodes[i]);
      }
    }
  }

  // Recomputes every internal node from the leaves in O(N). Not thread-safe:
  // for checkpoint loads and tests, with no concurrent updates.
  void Rebuild() {
    for (int level = 1; level <= top_; ++level) {
      for (int64_t node = 0; node < count_[Index(level)]; ++node) Store(level, node, Combined(level, node));
    }
  }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();

  struct Pair {
    double sum, min;
  };

  // Node counts and array offsets of each level, every level padded to
  // whole groups of kArity so that groups stay 64-byte aligned.
  struct Layout {
    std::vector<int64_t> count, sum_off, min_off;  // min_off[0] unused: leaves have no min
    int64_t sum_words = 0, min_words = 0;
    explicit Layout(int64_t capacity) {
      int64_t n = capacity;
      for (;;) {
        const int64_t padded = (n + kArity - 1) / kArity * kArity;
        count.push_back(n);
        sum_off.push_back(sum_words);
        min_off.push_back(min_words);
        sum_words += padded;
        if (count.size() > 1) min_words += padded;
        if (n == 1 && count.size() > 1) break;  // the root (even over a single leaf)
        n = (n + kArity - 1) / kArity;
      }
    }
  };

  static std::size_t Index(int64_t i) { return static_cast<std::size_t>(i); }

  // One step of a prefix-sum walk: from `node` of `level` to the child
  // whose span of the running sum holds `mass`, and `mass` made relative to
  // it. Branch-free choice (the child is random: a branch per child would
  // mispredict). Masses at or past the children's total (rounding, or a
  // concurrent update) go to the last positive child, at its total, and so
  // on to its last positive leaf.
  void Descend(int level, int64_t& node, double& mass) const {
    const std::atomic<double>* c = &sums_[Index(sum_off_[Index(level - 1)] + node * kArity)];
    double value[kArity], prefix[kArity];
    double run = 0.0;
    for (int64_t k = 0; k < kArity; ++k) {
      value[k] = c[k].load(std::memory_order_relaxed);
      run += value[k];
      prefix[k] = run;  // non-decreasing: values are >= 0
    }
    int64_t k = 0;
    for (int64_t j = 0; j < kArity; ++j) k += prefix[j] <= mass;
    if (k == kArity) [[unlikely]] {
      k = kArity - 1;
      while (k > 0 && !(value[k] > 0)) --k;
      mass = value[k];
    } else if (k > 0) {
      mass -= prefix[k - 1];
    }
    node = node * kArity + k;
  }

  static void SeqCstFence() {
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer does not model fences (and gcc refuses them under it);
    // a seq_cst RMW keeps the tool's happens-before at least as strong.
    static std::atomic<int> fence_word{0};
    fence_word.fetch_add(0, std::memory_order_seq_cst);
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  }

  // The value of `node` of `level` (>= 1) its children call for right now.
  // Pairwise sums: a short dependency chain, and always the same order.
  Pair Combined(int level, int64_t node) const {
    const std::atomic<double>* s = &sums_[Index(sum_off_[Index(level - 1)] + node * kArity)];
    double v[kArity], m[kArity];
    for (int64_t k = 0; k < kArity; ++k) v[k] = s[k].load(std::memory_order_relaxed);
    if (level == 1) {
      for (int64_t k = 0; k < kArity; ++k) m[k] = v[k] > 0 ? v[k] : kInf;  // an empty leaf is no minimum
    } else {
      const std::atomic<double>* mc = &mins_[Index(min_off_[Index(level - 1)] + node * kArity)];
      for (int64_t k = 0; k < kArity; ++k) m[k] = mc[k].load(std::memory_order_relaxed);
    }
    static_assert(kArity == 8, "Combined sums eight children pairwise");
    return {((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])),
            std::min(std::min(std::min(m[0], m[1]), std::min(m[2], m[3])),
                     std::min(std::min(m[4], m[5]), std::min(m[6], m[7])))};
  }

  Pair Stored(int level, int64_t node) const {
    return {sums_[Index(sum_off_[Index(level)] + node)].load(std::memory_order_relaxed),
            mins_[Index(min_off_[Index(level)] + node)].load(std::memory_order_relaxed)};
  }

  void Store(int level, int64_t node, Pair v) {
    sums_[Index(sum_off_[Index(level)] + node)].store(v.sum, std::memory_order_relaxed);
    mins_[Index(min_off_[Index(level)] + node)].store(v.min, std::memory_order_relaxed);
  }

  // One level of Propagate (see the header comment): store all, fence,
  // check all, and repeat for those that changed meanwhile.
  template <typename ForEachNode>
  void RecomputeLevel(int level, ForEachNode for_each) {
    for_each([&](int64_t node) { Store(level, node, Combined(level, node)); });
    for (bool changed = true; changed;) {
      SeqCstFence();
      changed = false;
      for_each([&](int64_t node) {
        const Pair want = Combined(level, node), have = Stored(level, node);
        if (have.sum != want.sum || have.min != want.min) {
          Store(level, node, want);
          changed = true;
        }
      });
    }
  }

  const int64_t capacity_;
  int top_ = 0;                     // the root's level
  std::vector<int64_t> count_;      // nodes per level, leaves first
  std::vector<int64_t> sum_off_;    // where each level starts in sums_
  std::vector<int64_t> min_off_;    // where each level >= 1 starts in mins_
  BigArray<std::atomic<double>> sums_;
  BigArray<std::atomic<double>> mins_;
};

}  // namespace flockrl
