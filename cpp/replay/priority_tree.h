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
// once. A thread that changes leaves must then call Propagate for them; it
// recomputes each ancestor as `store(left + right)` and then re-reads both
// children, repeating until they are unchanged. After all updaters return,
// every node equals the combination of its final children: the last store
// to a node was checked against its children after the store, and a child
// changed later would be followed by its writer's own store to the node.
// Readers (Total, Min, FindPrefixSum) see a tree that may be mid-update:
// each node value is one a writer stored, not necessarily consistent with
// its children; callers treat results as samples and validate the leaf.
//
// Memory ordering: node stores and the verifying loads are seq_cst. The
// check "store the parent, then load the children" is a store-then-load
// pattern (as in Dekker's algorithm) that acquire/release does not order:
// under x86-TSO a store may still sit in the store buffer when a later load
// runs. Readers use relaxed loads: each value is an individually atomic
// double, and no other data is published through the tree.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace flockrl {

class PriorityTree {
 public:
  explicit PriorityTree(int64_t capacity) : capacity_(capacity) {
    while (size_ < capacity) size_ *= 2;
    nodes_ = std::make_unique<Node[]>(static_cast<std::size_t>(2 * size_));
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
    n.sum.store(value, std::memory_order_seq_cst);
    n.min.store(value > 0 ? value : kInf, std::memory_order_seq_cst);
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
    while (!leaves.empty() && leaves.front() > 1) {
      // Parents of sorted nodes come out sorted: dedupe in place.
      std::size_t n = 0;
      for (int64_t node : leaves) {
        const int64_t parent = node >> 1;
        if (n == 0 || leaves[n - 1] != parent) leaves[n++] = parent;
      }
      leaves.resize(n);
      // Start every line's miss before the (serialising) seq_cst stores.
      for (int64_t parent : leaves) __builtin_prefetch(&nodes_[Index(2 * parent)], 1);
      for (int64_t parent : leaves) Recompute(parent);
    }
  }

  // Recomputes the ancestors of the contiguous leaves [begin, end). Thread-safe.
  void PropagateRange(int64_t begin, int64_t end) {
    int64_t lo = (size_ + begin) >> 1, hi = (size_ + end - 1) >> 1;
    while (lo >= 1) {
      for (int64_t node = lo; node <= hi; ++node) Recompute(node);
      lo >>= 1;
      hi >>= 1;
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

  void Recompute(int64_t node) {
    std::atomic<double>& sum = nodes_[Index(node)].sum;
    std::atomic<double>& min = nodes_[Index(node)].min;
    const std::atomic<double>& sl = nodes_[Index(2 * node)].sum;
    const std::atomic<double>& sr = nodes_[Index(2 * node + 1)].sum;
    const std::atomic<double>& ml = nodes_[Index(2 * node)].min;
    const std::atomic<double>& mr = nodes_[Index(2 * node + 1)].min;
    for (;;) {
      const double l = sl.load(std::memory_order_seq_cst), r = sr.load(std::memory_order_seq_cst);
      const double a = ml.load(std::memory_order_seq_cst), b = mr.load(std::memory_order_seq_cst);
      sum.store(l + r, std::memory_order_seq_cst);
      min.store(std::min(a, b), std::memory_order_seq_cst);
      if (sl.load(std::memory_order_seq_cst) == l && sr.load(std::memory_order_seq_cst) == r &&
          ml.load(std::memory_order_seq_cst) == a && mr.load(std::memory_order_seq_cst) == b) {
        return;
      }
    }
  }

  const int64_t capacity_;
  int64_t size_ = 1;  // leaves, padded to a power of two
  std::unique_ptr<Node[]> nodes_;  // heap order: root 1, leaves [size_, 2 size_)
};

}  // namespace flockrl
