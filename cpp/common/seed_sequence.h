// numpy.random.SeedSequence, reimplemented bit for bit so that a C++ env seeded
// with `s` draws exactly the numbers gymnasium's env draws after reset(seed=s).
// Reference: numpy/random/bit_generator.pyx (hashmix, mix, mix_entropy,
// generate_state), pool size 4, no spawn key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace flockrl {

class SeedSequence {
 public:
  static constexpr std::size_t kPoolSize = 4;

  // `entropy` holds the seed's 32-bit words, least significant first, as numpy
  // splits a non-negative Python int (0 is the single word {0}).
  explicit SeedSequence(const std::vector<uint32_t>& entropy) {
    uint32_t hash_const = kInitA;
    auto hashmix = [&hash_const](uint32_t value) {
      value ^= hash_const;
      hash_const *= kMultA;
      value *= hash_const;
      value ^= value >> kXShift;
      return value;
    };
    auto mix = [](uint32_t x, uint32_t y) {
      uint32_t result = kMixMultL * x - kMixMultR * y;
      result ^= result >> kXShift;
      return result;
    };
    for (std::size_t i = 0; i < kPoolSize; ++i) {
      pool_[i] = hashmix(i < entropy.size() ? entropy[i] : 0u);
    }
    for (std::size_t src = 0; src < kPoolSize; ++src) {
      for (std::size_t dst = 0; dst < kPoolSize; ++dst) {
        if (src != dst) pool_[dst] = mix(pool_[dst], hashmix(pool_[src]));
      }
    }
    for (std::size_t src = kPoolSize; src < entropy.size(); ++src) {
      for (std::size_t dst = 0; dst < kPoolSize; ++dst) {
        pool_[dst] = mix(pool_[dst], hashmix(entropy[src]));
      }
    }
  }

  // The words of a seed in [0, 2^64), as numpy's _int_to_uint32_array gives them.
  static std::vector<uint32_t> WordsOf(uint64_t seed) {
    if (seed <= UINT32_MAX) return {static_cast<uint32_t>(seed)};
    return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  }

  // generate_state(n_words, uint32): cycles through the pool.
  void GenerateState(uint32_t* out, std::size_t n_words) const {
    uint32_t hash_const = kInitB;
    for (std::size_t i = 0; i < n_words; ++i) {
      uint32_t value = pool_[i % kPoolSize];
      value ^= hash_const;
      hash_const *= kMultB;
      value *= hash_const;
      value ^= value >> kXShift;
      out[i] = value;
    }
  }

  // generate_state(n, uint64): pairs of 32-bit words, low word first.
  void GenerateState64(uint64_t* out, std::size_t n) const {
    std::vector<uint32_t> words(2 * n);
    GenerateState(words.data(), words.size());
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = uint64_t{words[2 * i]} | (uint64_t{words[2 * i + 1]} << 32);
    }
  }

 private:
  static constexpr uint32_t kInitA = 0x43b0d7e5;
  static constexpr uint32_t kMultA = 0x931e8875;
  static constexpr uint32_t kInitB = 0x8b51f9dd;
  static constexpr uint32_t kMultB = 0x58f38ded;
  static constexpr uint32_t kMixMultL = 0xca01f9dd;
  static constexpr uint32_t kMixMultR = 0x4973f715;
  static constexpr int kXShift = 16;

  uint32_t pool_[kPoolSize] = {};
};

}  // namespace flockrl
