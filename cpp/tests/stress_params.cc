// Stress test of the shared-memory parameter store: one writer publishes as
// fast as it can, each version a pattern derived from the version number;
// reader threads pull continuously and check every word of every snapshot
// belongs to the version the pull returned (zero torn reads), that versions
// never go backwards, and that an unchanged store is not copied. Also run
// under ThreadSanitizer in CI.
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "params/param_store.h"
#include "tests/check.h"

using flockrl::Encoding;
using flockrl::LayoutMismatchError;
using flockrl::ParamLayout;
using flockrl::ParamStore;
using flockrl::ShmError;

namespace {

// Word w of tensor t at version v: a fixed random word mixed with a key of
// v, cheap enough that the writer publishes back to back (which is what
// makes it overtake readers). Small integers when stored in 16 bits (exact
// in bfloat16 and float16); never NaN, so == compares.
struct Patterns {
  std::vector<std::vector<uint32_t>> base;
  bool small;

  Patterns(const std::vector<std::size_t>& words, bool small_values) : small(small_values) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (std::size_t n : words) {
      base.emplace_back(n);
      for (auto& b : base.back()) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b = static_cast<uint32_t>(x);
      }
    }
  }
  static uint32_t Key(uint64_t v) { return static_cast<uint32_t>((v * 0xBF58476D1CE4E5B9ull) >> 32); }
  float operator()(uint64_t v, std::size_t t, std::size_t w) const {
    if (small) return static_cast<float>((base[t][w] + v) & 0xff);
    return std::bit_cast<float>((base[t][w] ^ Key(v)) & 0x3fffffffu);
  }
  void Fill(uint64_t v, std::size_t t, float* out) const {
    for (std::size_t w = 0; w < base[t].size(); ++w) out[w] = (*this)(v, t, w);
  }
};

std::string UniqueName(const char* what) {
  return std::string("test.") + what + "." + std::to_string(getpid());
}

ParamLayout MakeLayout(const std::vector<std::size_t>& words, Encoding encoding) {
  ParamLayout layout("stress layout");
  for (std::size_t n : words) layout.Add(4 * n, encoding);
  return layout;
}

// Two buffers leave the writer no choice but to overwrite a buffer readers
// may still be copying: the retry path runs often. Three is the default.
void StressReaders(Encoding encoding, uint32_t num_buffers, int copy_threads, double seconds) {
  const std::vector<std::size_t> words = {3, 1000, 65537, 250000};
  const Patterns pattern(words, encoding != Encoding::kRaw);
  const std::string name = UniqueName("stress");
  auto writer = ParamStore::Create(name, MakeLayout(words, encoding), num_buffers);
  writer->set_copy_threads(copy_threads, 64 << 10);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> pulls{0}, unchanged{0}, retries{0};

  std::thread publisher([&] {
    std::vector<std::vector<float>> tensors(words.size());
    std::vector<const void*> srcs(words.size());
    for (uint64_t v = 1; !stop.load(std::memory_order_relaxed); ++v) {
      for (std::size_t t = 0; t < words.size(); ++t) {
        tensors[t].resize(words[t]);
        pattern.Fill(v, t, tensors[t].data());
        srcs[t] = tensors[t].data();
      }
      CHECK(writer->Publish(srcs.data()) == v);
    }
  });

  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      // Readers in the test attach by name, as another process would.
      auto reader = ParamStore::Attach(name, MakeLayout(words, encoding));
      reader->set_copy_threads(copy_threads, 64 << 10);
      std::vector<std::vector<float>> tensors(words.size());
      std::vector<void*> dsts(words.size());
      for (std::size_t t = 0; t < words.size(); ++t) {
        tensors[t].assign(words[t], -1.0f);
        dsts[t] = tensors[t].data();
      }
      uint64_t have = 0, retried = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t v = reader->Pull(dsts.data(), have);
        if (v == 0) {
          // Nothing newer: the tensors must be untouched.
          unchanged.fetch_add(1, std::memory_order_relaxed);
          if (have > 0) CHECK(tensors[3][7] == pattern(have, 3, 7));
          continue;
        }
        CHECK(v > have);
        for (std::size_t t = 0; t < words.size(); ++t) {
          for (std::size_t w = 0; w < words[t]; ++w) {
            if (tensors[t][w] != pattern(v, t, w)) {
              std::fprintf(stderr, "reader %d: torn snapshot: version %llu tensor %zu word %zu\n", r,
                           static_cast<unsigned long long>(v), t, w);
              std::exit(1);
            }
          }
        }
        have = v;
        pulls.fetch_add(1, std::memory_order_relaxed);
        retries.fetch_add(reader->retries() - retried, std::memory_order_relaxed);
        retried = reader->retries();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  publisher.join();
  for (auto& t : readers) t.join();
  std::printf("encoding %d, %u buffers, %d copy threads: %llu versions, %llu verified pulls, %llu unchanged, %llu retried\n",
              static_cast<int>(encoding), num_buffers, copy_threads, static_cast<unsigned long long>(writer->version()),
              static_cast<unsigned long long>(pulls.load()), static_cast<unsigned long long>(unchanged.load()),
              static_cast<unsigned long long>(retries.load()));
  // How often readers were overtaken depends on the machine's timing (a slow
  // sanitizer build may never be); OvertakenReaderRetries forces that path.
  CHECK(pulls.load() > 10);
}

// Deterministic overtake: the writer publishes while a reader's copy is in
// flight. With two buffers the second publish must overwrite the buffer being
// copied, so the reader discards its copy and returns the newest version,
// intact. With three, the writer leaves the pinned buffer alone.
void OvertakenReaderRetries() {
  const std::vector<std::size_t> words = {5, 4099};
  const Patterns pattern(words, false);
  for (uint32_t num_buffers : {2u, 3u}) {
    const std::string name = UniqueName("overtake");
    auto writer = ParamStore::Create(name, MakeLayout(words, Encoding::kRaw), num_buffers);
    auto reader = ParamStore::Attach(name, MakeLayout(words, Encoding::kRaw));
    std::vector<std::vector<float>> src(words.size()), dst(words.size());
    std::vector<const void*> srcs;
    std::vector<void*> dsts;
    for (std::size_t t = 0; t < words.size(); ++t) {
      src[t].resize(words[t]);
      dst[t].resize(words[t]);
      srcs.push_back(src[t].data());
      dsts.push_back(dst[t].data());
    }
    auto publish = [&] {
      const uint64_t v = writer->version() + 1;
      for (std::size_t t = 0; t < words.size(); ++t) pattern.Fill(v, t, src[t].data());
      CHECK(writer->Publish(srcs.data()) == v);
    };
    publish();
    publish();
    int copies = 0;
    const uint64_t got = reader->PullObserved(dsts.data(), 0, [&] {
      if (copies++ == 0) {
        for (uint32_t i = 0; i < num_buffers; ++i) publish();
      }
    });
    const uint64_t newest = 2 + num_buffers;
    const bool overtaken = num_buffers == 2;
    CHECK(reader->retries() == (overtaken ? 1u : 0u));
    CHECK(got == (overtaken ? newest : 2u));
    for (std::size_t t = 0; t < words.size(); ++t) {
      for (std::size_t w = 0; w < words[t]; ++w) CHECK(dst[t][w] == pattern(got, t, w));
    }
    CHECK(reader->Pull(dsts.data(), got) == (overtaken ? 0u : newest));
  }
}

// Copies split over threads (at 64-byte cuts, tensors of odd sizes and mixed
// encodings) give the same bytes as one thread, both ways.
void SplitCopiesMatchOneThread() {
  ParamLayout layout("split layout");
  const std::vector<std::pair<uint64_t, Encoding>> slots = {
      {3, Encoding::kRaw}, {4000, Encoding::kFloatAsBFloat16}, {100001, Encoding::kRaw},
      {280004, Encoding::kFloatAsHalf}, {7, Encoding::kRaw}, {65536, Encoding::kFloatAsBFloat16}};
  for (const auto& [bytes, encoding] : slots) layout.Add(bytes, encoding);
  std::vector<std::vector<uint8_t>> host(slots.size());
  std::vector<const void*> srcs;
  uint64_t x = 88172645463325252ull;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    host[i].resize(slots[i].first);
    for (auto& b : host[i]) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = static_cast<uint8_t>(x);
    }
    srcs.push_back(host[i].data());
  }
  std::vector<uint8_t> one(layout.buffer_bytes()), many(layout.buffer_bytes());
  flockrl::SnapshotCopier copier(layout);
  copier.Encode(srcs.data(), one.data());
  copier.set_threads(3, 4096);
  copier.Encode(srcs.data(), many.data());
  CHECK(one == many);
  for (int threads : {1, 3}) {
    copier.set_threads(threads, 4096);
    std::vector<std::vector<uint8_t>> out(slots.size());
    std::vector<void*> dsts;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      out[i].assign(slots[i].first, 0xAB);
      dsts.push_back(out[i].data());
    }
    copier.Decode(many.data(), dsts.data());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].second == Encoding::kRaw) CHECK(out[i] == host[i]);
    }
    if (threads == 1) continue;
    std::vector<std::vector<uint8_t>> ref(slots.size());
    std::vector<void*> ref_dsts;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      ref[i].assign(slots[i].first, 0xCD);
      ref_dsts.push_back(ref[i].data());
    }
    copier.set_threads(1);
    copier.Decode(many.data(), ref_dsts.data());
    CHECK(ref == out);
  }
}

void Lifecycle() {
  const std::string name = UniqueName("life");
  {
    auto owner = ParamStore::Create(name, MakeLayout({4, 8}, Encoding::kRaw));
    CHECK(owner->version() == 0);
    // A second owner for a live name is refused.
    bool refused = false;
    try {
      ParamStore::Create(name, MakeLayout({4, 8}, Encoding::kRaw));
    } catch (const ShmError&) {
      refused = true;
    }
    CHECK(refused);
    // Attaching with another layout is refused.
    bool mismatch = false;
    try {
      ParamStore::Attach(name, MakeLayout({4, 9}, Encoding::kRaw));
    } catch (const LayoutMismatchError&) {
      mismatch = true;
    }
    CHECK(mismatch);
    CHECK(ParamStore::ReadDescription(name) == "stress layout");
    auto reader = ParamStore::Attach(name, MakeLayout({4, 8}, Encoding::kRaw));
    std::vector<float> a(4), b(8);
    void* dsts[] = {a.data(), b.data()};
    CHECK(reader->Pull(dsts, 0) == 0);  // nothing published yet
    const std::vector<float> x = {1, 2, 3, 4}, y = {5, 6, 7, 8, 9, 10, 11, 12};
    const void* srcs[] = {x.data(), y.data()};
    CHECK(owner->Publish(srcs) == 1);
    CHECK(reader->Pull(dsts, 0) == 1 && a == x && b == y);
    CHECK(reader->Pull(dsts, 1) == 0);
    bool reader_publish = false;
    try {
      reader->Publish(srcs);
    } catch (const std::logic_error&) {
      reader_publish = true;
    }
    CHECK(reader_publish);
    CHECK(owner->owner_alive() && reader->owner_alive());
    owner->Close();
    CHECK(!reader->owner_alive());
    CHECK(reader->Pull(dsts, 0) == 1);  // the reader's mapping outlives the name
  }
  bool missing = false;
  try {
    ParamStore::Attach(name, MakeLayout({4, 8}, Encoding::kRaw));
  } catch (const ShmError&) {
    missing = true;
  }
  CHECK(missing);
}

}  // namespace

int main() {
  Lifecycle();
  OvertakenReaderRetries();
  const double seconds = flockrl::kAtomicRacyCopies ? 2.0 : 1.0;
  SplitCopiesMatchOneThread();
  for (uint32_t num_buffers : {2u, 3u}) {
    const int copy_threads = num_buffers == 2 ? 1 : 3;  // 3 copy threads split every snapshot
    StressReaders(Encoding::kRaw, num_buffers, copy_threads, seconds);
    StressReaders(Encoding::kFloatAsBFloat16, num_buffers, copy_threads, seconds);
    StressReaders(Encoding::kFloatAsHalf, num_buffers, copy_threads, seconds);
  }
  std::printf("ok\n");
  return 0;
}
