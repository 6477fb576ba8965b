// Stress test of the prioritized replay buffer, built as a plain executable
// so it also runs under ThreadSanitizer: three writer threads, a sampling
// thread and a priority-updating thread on a small buffer (constant
// overwrites) for a fixed time. Checks:
//   - every sampled row is internally consistent (all fields from one write);
//   - every counter adds up (adds + dropped = items offered);
//   - once quiet, each tree node equals the combination of its children
//     (the root equals the sum of the leaves, the min the smallest leaf).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "replay/replay_buffer.h"
#include "tests/check.h"

using namespace flockrl;

namespace {

constexpr int64_t kCapacity = 128;

ReplayConfig Config(int64_t row_floats) {
  ReplayConfig c;
  c.capacity = kCapacity;
  c.prioritized = true;
  c.alpha = 0.6;
  c.eps = 1e-3;
  c.seed = 7;
  c.fields = {{"obs", {row_floats}, DType::kFloat32}, {"tag", {}, DType::kInt64}};
  return c;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

// Two threads update two leaves of a tree at the same moment, round after
// round; after each round the root must equal what the leaves call for. A
// parent update lost to the race (a thread storing a combination of a stale
// child last) shows here at once. Siblings race at every level; leaves in
// different subtrees race only where their paths meet.
void StressTree(int64_t capacity, int64_t leaf_a, int64_t leaf_b) {
  PriorityTree tree(capacity);
  constexpr int kRounds = 50000;
  std::atomic<int> arrived{0};
  // Both threads reach `generation`. Spin briefly (the point is to start
  // the next round together), then yield: on a loaded machine the partner
  // may be descheduled, and pure spinning made each round a time slice.
  auto barrier = [&](int generation) {
    arrived.fetch_add(1);
    for (int spins = 0; arrived.load() < 2 * generation; ++spins) {
      if (spins < 2000) {
        FLOCKRL_CPU_RELAX();
      } else {
        std::this_thread::yield();
      }
    }
  };
  int mismatches = 0;
  auto worker = [&](int64_t leaf, int salt) {
    std::vector<int64_t> dirty;
    dirty.reserve(1);
    for (int round = 0; round < kRounds; ++round) {
      barrier(2 * round + 1);
      tree.SetLeaf(leaf, static_cast<double>(Mix(static_cast<uint64_t>(round * 2 + salt)) % 1000 + 1));
      dirty.assign(1, leaf);
      tree.Propagate(dirty);
      barrier(2 * round + 2);
      if (salt == 0) {
        const double a = tree.Leaf(leaf_a), b = tree.Leaf(leaf_b);
        if (tree.Total() != a + b || tree.Min() != std::min(a, b)) ++mismatches;
      }
    }
  };
  std::thread other(worker, leaf_b, 1);
  worker(leaf_a, 0);
  other.join();
  CHECK(mismatches == 0);
}

// Two inserters and a sampler through the rate limiter: blocking waits,
// interrupts, and the samples-per-insert bounds under contention.
void StressRateLimiter() {
  constexpr double kSpi = 4.0, kErrorBuffer = 256.0;
  constexpr int64_t kMinSize = 64;
  RateLimiter limiter(kSpi, kMinSize, kErrorBuffer);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> inserted{0}, sampled{0};
  auto inserter = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (limiter.AwaitInsert(16, 0.01, limiter.interrupts())) {
        inserted.fetch_add(16);
        limiter.InsertDone(16);  // the rows are written: samples may count them
      }
    }
  };
  auto sampler = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (limiter.AwaitSample(32, 0.01, limiter.interrupts())) sampled.fetch_add(32);
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(inserter);
  threads.emplace_back(inserter);
  threads.emplace_back(sampler);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  limiter.Interrupt();
  for (auto& t : threads) t.join();
  const double diff = static_cast<double>(inserted.load()) * kSpi - static_cast<double>(sampled.load());
  CHECK(diff >= kSpi * kMinSize - kErrorBuffer && diff <= kSpi * kMinSize + kErrorBuffer);
  CHECK(limiter.inserts() == inserted.load() && limiter.samples() == sampled.load());
  CHECK(sampled.load() > 0);
}

// Writers, a sampler and an updater on one buffer with rows of `row_floats` floats.
void StressBuffer(const int64_t row_floats) {
  ReplayBuffer buffer(Config(row_floats));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> offered{0}, sampled{0}, torn_seen{0};

  auto writer = [&](int w) {
    std::vector<float> obs;
    std::vector<int64_t> tag;
    std::vector<double> prio;
    for (uint64_t round = 0; !stop.load(std::memory_order_relaxed); ++round) {
      const int64_t n = 1 + static_cast<int64_t>(Mix(round * 3 + static_cast<uint64_t>(w)) % 32);
      obs.resize(static_cast<std::size_t>(n * row_floats));
      tag.resize(static_cast<std::size_t>(n));
      prio.resize(static_cast<std::size_t>(n));
      for (int64_t k = 0; k < n; ++k) {
        const int64_t value = (w + 1) * 1000000 + static_cast<int64_t>(round % 1000) * 100 + k;
        tag[static_cast<std::size_t>(k)] = value;
        prio[static_cast<std::size_t>(k)] = static_cast<double>(Mix(static_cast<uint64_t>(value)) % 1000) / 100.0;
        for (int64_t j = 0; j < row_floats; ++j) obs[static_cast<std::size_t>(k * row_floats + j)] = static_cast<float>(value);
      }
      const bool with_priorities = round % 2 == 0;
      buffer.Add({reinterpret_cast<const uint8_t*>(obs.data()), reinterpret_cast<const uint8_t*>(tag.data())}, n,
                 with_priorities ? prio.data() : nullptr);
      offered.fetch_add(n, std::memory_order_relaxed);
    }
  };

  auto check_batch = [&](int64_t n, const std::vector<float>& obs, const std::vector<int64_t>& tag) {
    for (int64_t k = 0; k < n; ++k) {
      for (int64_t j = 0; j < row_floats; ++j) {
        if (obs[static_cast<std::size_t>(k * row_floats + j)] != static_cast<float>(tag[static_cast<std::size_t>(k)])) {
          torn_seen.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  };

  auto sampler = [&](bool update) {
    constexpr int64_t n = 32;
    std::vector<float> obs(n * row_floats);
    std::vector<int64_t> tag(n), handles(n);
    std::vector<double> weights(n), prio(n);
    for (uint64_t round = 0; !stop.load(std::memory_order_relaxed); ++round) {
      buffer.Sample(n, 0.4, {reinterpret_cast<uint8_t*>(obs.data()), reinterpret_cast<uint8_t*>(tag.data())},
                    handles.data(), weights.data());
      check_batch(n, obs, tag);
      for (double w : weights) CHECK(w > 0 && std::isfinite(w));
      sampled.fetch_add(n, std::memory_order_relaxed);
      if (update) {
        CHECK(buffer.FirstForeignHandle(handles.data(), n) == -1);
        for (int64_t k = 0; k < n; ++k) prio[static_cast<std::size_t>(k)] = static_cast<double>(Mix(round + static_cast<uint64_t>(k)) % 500) / 50.0;
        buffer.UpdatePriorities(handles.data(), prio.data(), n);
      }
    }
  };

  {
    // Seed the buffer so samplers never see it empty.
    std::vector<float> obs(kCapacity * row_floats, 0.0f);
    std::vector<int64_t> tag(kCapacity, 0);
    buffer.Add({reinterpret_cast<const uint8_t*>(obs.data()), reinterpret_cast<const uint8_t*>(tag.data())},
               kCapacity, nullptr);
    offered.fetch_add(kCapacity);
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) threads.emplace_back(writer, w);
  threads.emplace_back(sampler, false);
  threads.emplace_back(sampler, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  for (auto& t : threads) t.join();

  CHECK(torn_seen.load() == 0);
  CHECK(sampled.load() > 0);
  const ReplayStats stats = buffer.Stats();
  CHECK(stats.adds + stats.dropped == offered.load());
  CHECK(stats.samples == sampled.load());
  CHECK(buffer.Size() == kCapacity);

  // Quiet now: the concurrently maintained tree must equal a rebuilt one.
  const PriorityTree& tree = *buffer.tree();
  double sum = 0, min = INFINITY;
  for (int64_t i = 0; i < kCapacity; ++i) {
    sum += tree.Leaf(i);
    if (tree.Leaf(i) > 0) min = std::min(min, tree.Leaf(i));
  }
  CHECK(std::abs(tree.Total() - sum) <= 1e-12 * sum);
  CHECK(tree.Min() == min);
  const double total_before = tree.Total();
  const_cast<PriorityTree&>(tree).Rebuild();
  CHECK(tree.Total() == total_before);  // recomputed from children both ways: bit-identical

  std::printf("stress_replay: adds %lld, dropped %lld, samples %lld, torn redraws %lld, stale updates %lld\n",
              static_cast<long long>(stats.adds), static_cast<long long>(stats.dropped),
              static_cast<long long>(stats.samples), static_cast<long long>(stats.torn_redraws),
              static_cast<long long>(stats.stale_updates));
}

int main() {
  StressTree(2, 0, 1);        // one level: the root over both leaves
  StressTree(512, 0, 1);      // three levels, siblings at each
  StressTree(512, 0, 511);    // three levels, paths meeting at the root
  StressRateLimiter();
  StressBuffer(64);   // rows written with atomic word stores
  StressBuffer(128);  // rows of >= 64 words: streamed where the platform allows
  std::puts("stress_replay: 1 passed, 0 failed");
  return 0;
}
