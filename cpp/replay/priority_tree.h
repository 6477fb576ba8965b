// Sum and min trees over the leaf priorities of a prioritized replay buffer,
// updated concurrently by many threads without a lock.
//
// Leaves hold p_i^alpha (0 for an empty slot); internal sums are float64 and
// every parent is recomputed from its two children, never adjusted by a
// delta, so the sums do not drift however many updates happen. The min tree
// treats a zero leaf as +inf, so its root is the smallest priority among
// filled slots.
//
// Concurrency: SetLeaf and Propagate may run on any number of threads at
// once. A thread that changes leaves must then call Propagate for them. It
// works level by level: store every changed parent as the combination of
// its children, then a seq_cst fence, then check every one of them against
// its children again, redoing those that no longer match, until a check
// finds none. After all updaters return, every node equals the combination
// of its final children: the last store to a node was checked after a fence,
// and a child changed after that check is followed by its writer's fence
// and then its own store to the node, which would come later still.
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
// in the parent's modification order ([atomics.order]). One fence per level
// instead of a locked instruction per node store is what makes updates
// cheap. No other data is published through the tree.
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
  explicit PriorityTree(int64_t capacity) : capacity_(capacity) {
    while (size_ < capacity) size_ *= 2;
    nodes_ = BigArray<Node>(static_cast<std::size_t>(2 * size_));
    for (int64_t i = 0; i < 2 * size_; ++i) {
      nodes_[Index(i)].sum.store(0.0, std::memory_order_relaxed);
      nodes_[Index(i)].min.store(kInf, std::memory_order_relaxed);
    }
  }

  int64_t capacity() const { return capacity_; }

  // Bytes a tree over `capacity` leaves allocates.
  static int64_t BytesFor(int64_t capacity) {
    int64_t size = 1;
    while (size < capacity) size *= 2;
    return 2 * size * static_cast<int64_t>(sizeof(Node));
  }

  // Number of levels below the root.
  int depth() const {
    int d = 0;
    while ((int64_t{1} << d) < size_) ++d;
    return d;
  }

  // Thread-safe. Never allocates. `value` >= 0; 0 marks an empty leaf.
  // Call Propagate for the leaf afterwards.
  void SetLeaf(int64_t leaf, double value) {
    Node& n = nodes_[Index(size_ + leaf)];
    n.sum.store(value, std::memory_order_relaxed);
    n.min.store(value > 0 ? value : kInf, std::memory_order_relaxed);
  }

  // Thread-safe racy observer: the leaf value last stored.
  double Leaf(int64_t leaf) const { return nodes_[Index(size_ + leaf)].sum.load(std::memory_order_relaxed); }

  // Hint that `leaf` is about to be read or written.
  void PrefetchLeaf(int64_t leaf) const { __builtin_prefetch(&nodes_[Index(size_ + leaf)]); }

  // Recomputes every ancestor of `leaves` (which it sorts and rewrites as
  // scratch). Thread-safe. Never allocates.
  void Propagate(std::vector<int64_t>& leaves) {
    for (int64_t& l : leaves) l += size_;
    std::sort(leaves.begin(), leaves.end());
    SeqCstFence();  // the leaf stores come before any parent store
    while (!leaves.empty() && leaves.front() > 1) {
      // Parents of sorted nodes come out sorted: dedupe in place.
      std::size_t n = 0;
      for (int64_t node : leaves) {
        const int64_t parent = node >> 1;
        if (n == 0 || leaves[n - 1] != parent) leaves[n++] = parent;
      }
      leaves.resize(n);
      for (int64_t parent : leaves) __builtin_prefetch(&nodes_[Index(2 * parent)], 1);
      RecomputeLevel([&](auto&& fn) {
        for (int64_t parent : leaves) fn(parent);
      });
    }
  }

  // Recomputes the ancestors of the contiguous leaves [begin, end). Thread-safe.
  void PropagateRange(int64_t begin, int64_t end) {
    SeqCstFence();
    for (int64_t lo = (size_ + begin) >> 1, hi = (size_ + end - 1) >> 1; lo >= 1; lo >>= 1, hi >>= 1) {
      RecomputeLevel([&](auto&& fn) {
        for (int64_t node = lo; node <= hi; ++node) fn(node);
      });
    }
  }

  // Thread-safe racy observers.
  double Total() const { return nodes_[1].sum.load(std::memory_order_relaxed); }
  double Min() const { return nodes_[1].min.load(std::memory_order_relaxed); }  // +inf when empty

  // The leaf where the running sum of leaves crosses `mass`, for mass in
  // [0, Total()). Masses at or past the total (rounding, or a concurrent
  // update) end on the last leaf with a positive value instead of an empty
  // one. Thread-safe.
  int64_t FindPrefixSum(double mass) const {
    int64_t node = 1;
    while (node < size_) Descend(node, mass);
    return node - size_;
  }

  // FindPrefixSum for many masses at once, level by level: the children of
  // every walk are prefetched before any is read, so the cache misses of a
  // batch overlap instead of queueing one after another. `nodes` is scratch
  // of the same length as `masses` (which it consumes); leaves come out in
  // `nodes`. Thread-safe. Never allocates.
  void FindPrefixSums(double* masses, int64_t* nodes, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) nodes[i] = 1;
    for (int64_t level = 1; level < size_; level *= 2) {
      for (int64_t i = 0; i < n; ++i) __builtin_prefetch(&nodes_[Index(2 * nodes[i])]);
      for (int64_t i = 0; i < n; ++i) Descend(nodes[i], masses[i]);
    }
    for (int64_t i = 0; i < n; ++i) nodes[i] -= size_;
  }

  // Recomputes every internal node from the leaves in O(N). Not thread-safe:
  // for checkpoint loads and tests, with no concurrent updates.
  void Rebuild() {
    for (int64_t node = size_ - 1; node >= 1; --node) {
      const Node& l = nodes_[Index(2 * node)];
      const Node& r = nodes_[Index(2 * node + 1)];
      nodes_[Index(node)].sum.store(l.sum.load(std::memory_order_relaxed) + r.sum.load(std::memory_order_relaxed),
                                    std::memory_order_relaxed);
      nodes_[Index(node)].min.store(
          std::min(l.min.load(std::memory_order_relaxed), r.min.load(std::memory_order_relaxed)),
          std::memory_order_relaxed);
    }
  }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();

  // A node's sum and min side by side: a pair of siblings fills half a
  // cache line, so a step down the tree or a recompute touches one line.
  struct alignas(16) Node {
    struct Pair {
      double sum, min;
    };
    std::atomic<double> sum;
    std::atomic<double> min;
  };

  static std::size_t Index(int64_t i) { return static_cast<std::size_t>(i); }

  // One step of a prefix-sum walk. Masses at or past a subtree's total
  // (rounding, or a concurrent update) go to its last positive leaf.
  void Descend(int64_t& node, double& mass) const {
    const double left = nodes_[Index(2 * node)].sum.load(std::memory_order_relaxed);
    if (mass < left) {
      node = 2 * node;
    } else if (nodes_[Index(2 * node + 1)].sum.load(std::memory_order_relaxed) > 0) {
      mass -= left;
      node = 2 * node + 1;
    } else {
      node = 2 * node;  // nothing on the right: take the left's last positive leaf
      mass = left;
    }
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

  // The value of `node` its children call for right now.
  Node::Pair Combined(int64_t node) const {
    const Node& l = nodes_[Index(2 * node)];
    const Node& r = nodes_[Index(2 * node + 1)];
    return {l.sum.load(std::memory_order_relaxed) + r.sum.load(std::memory_order_relaxed),
            std::min(l.min.load(std::memory_order_relaxed), r.min.load(std::memory_order_relaxed))};
  }

  void Store(int64_t node, Node::Pair v) {
    nodes_[Index(node)].sum.store(v.sum, std::memory_order_relaxed);
    nodes_[Index(node)].min.store(v.min, std::memory_order_relaxed);
  }

  // One level of Propagate (see the header comment): store all, fence,
  // check all, and repeat for those that changed meanwhile.
  template <typename ForEachNode>
  void RecomputeLevel(ForEachNode for_each) {
    for_each([&](int64_t node) { Store(node, Combined(node)); });
    for (bool changed = true; changed;) {
      SeqCstFence();
      changed = false;
      for_each([&](int64_t node) {
        const Node::Pair want = Combined(node);
        const Node& n = nodes_[Index(node)];
        if (n.sum.load(std::memory_order_relaxed) != want.sum || n.min.load(std::memory_order_relaxed) != want.min) {
          Store(node, want);
          changed = true;
        }
      });
    }
  }

  const int64_t capacity_;
  int64_t size_ = 1;  // leaves, padded to a power of two
  BigArray<Node> nodes_;  // heap order: root 1, leaves [size_, 2 size_)
};

}  // namespace flockrl
