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
    sum_ = std::make_unique<std::atomic<double>[]>(static_cast<std::size_t>(2 * size_));
    min_ = std::make_unique<std::atomic<double>[]>(static_cast<std::size_t>(2 * size_));
    for (int64_t i = 0; i < 2 * size_; ++i) {
      sum_[Index(i)].store(0.0, std::memory_order_relaxed);
      min_[Index(i)].store(kInf, std::memory_order_relaxed);
    }
  }

  int64_t capacity() const { return capacity_; }

  // Bytes a tree over `capacity` leaves allocates.
  static int64_t BytesFor(int64_t capacity) {
    int64_t size = 1;
    while (size < capacity) size *= 2;
    return 2 * 2 * size * static_cast<int64_t>(sizeof(double));
  }

  // Thread-safe. Never allocates. `value` >= 0; 0 marks an empty leaf.
  // Call Propagate for the leaf afterwards.
  void SetLeaf(int64_t leaf, double value) {
    sum_[Index(size_ + leaf)].store(value, std::memory_order_seq_cst);
    min_[Index(size_ + leaf)].store(value > 0 ? value : kInf, std::memory_order_seq_cst);
  }

  // Thread-safe racy observer: the leaf value last stored.
  double Leaf(int64_t leaf) const { return sum_[Index(size_ + leaf)].load(std::memory_order_relaxed); }

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
  double Total() const { return sum_[1].load(std::memory_order_relaxed); }
  double Min() const { return min_[1].load(std::memory_order_relaxed); }  // +inf when empty

  // The leaf where the running sum of leaves crosses `mass`, for mass in
  // [0, Total()). Masses at or past the total (rounding, or a concurrent
  // update) end on the last leaf with a positive value instead of an empty
  // one. Thread-safe.
  int64_t FindPrefixSum(double mass) const {
    int64_t node = 1;
    while (node < size_) {
      const double left = sum_[Index(2 * node)].load(std::memory_order_relaxed);
      if (mass < left) {
        node = 2 * node;
      } else if (sum_[Index(2 * node + 1)].load(std::memory_order_relaxed) > 0) {
        mass -= left;
        node = 2 * node + 1;
      } else {
        node = 2 * node;  // nothing on the right: take the left's last positive leaf
        mass = left;
      }
    }
    return node - size_;
  }

  // Recomputes every internal node from the leaves in O(N). Not thread-safe:
  // for checkpoint loads and tests, with no concurrent updates.
  void Rebuild() {
    for (int64_t node = size_ - 1; node >= 1; --node) {
      const double s = sum_[Index(2 * node)].load(std::memory_order_relaxed) +
                       sum_[Index(2 * node + 1)].load(std::memory_order_relaxed);
      const double m = std::min(min_[Index(2 * node)].load(std::memory_order_relaxed),
                                min_[Index(2 * node + 1)].load(std::memory_order_relaxed));
      sum_[Index(node)].store(s, std::memory_order_relaxed);
      min_[Index(node)].store(m, std::memory_order_relaxed);
    }
  }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();

  static std::size_t Index(int64_t i) { return static_cast<std::size_t>(i); }

  void Recompute(int64_t node) {
    std::atomic<double>& sum = sum_[Index(node)];
    std::atomic<double>& min = min_[Index(node)];
    const std::atomic<double>& sl = sum_[Index(2 * node)];
    const std::atomic<double>& sr = sum_[Index(2 * node + 1)];
    const std::atomic<double>& ml = min_[Index(2 * node)];
    const std::atomic<double>& mr = min_[Index(2 * node + 1)];
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
  std::unique_ptr<std::atomic<double>[]> sum_, min_;  // heap order: root 1, leaves [size_, 2 size_)
};

}  // namespace flockrl
