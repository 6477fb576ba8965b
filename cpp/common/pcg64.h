// numpy.random.PCG64 (PCG XSL-RR 128/64) and the parts of numpy.random.Generator
// the native envs use, reproduced bit for bit: Generator(PCG64(SeedSequence(s)))
// in C++ yields the same doubles as in numpy.
// Reference: numpy/random/src/pcg64/pcg64.h, numpy/random/src/distributions.
#pragma once

#include <cstdint>

#include "common/seed_sequence.h"

namespace flockrl {

__extension__ typedef unsigned __int128 uint128_t;

class Pcg64 {
 public:
  Pcg64() { Seed(SeedSequence({0u})); }

  // PCG64(seed_seq): 4 uint64 words = (state hi, state lo, inc hi, inc lo).
  void Seed(const SeedSequence& seq) {
    uint64_t words[4];
    seq.GenerateState64(words, 4);
    const uint128_t init_state = (uint128_t{words[0]} << 64) | words[1];
    const uint128_t init_seq = (uint128_t{words[2]} << 64) | words[3];
    state_ = 0;
    inc_ = (init_seq << 1) | 1u;
    Advance();
    state_ += init_state;
    Advance();
  }

  uint64_t NextUint64() {
    Advance();
    const uint64_t folded = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
    const unsigned rot = static_cast<unsigned>(state_ >> 122);
    return (folded >> rot) | (folded << ((64u - rot) & 63u));
  }

  // Generator.random(): 53 random bits in [0, 1).
  double NextDouble() { return static_cast<double>(NextUint64() >> 11) * (1.0 / 9007199254740992.0); }

  // Generator.uniform(low, high): numpy computes `low + (high - low) * u` with
  // the range taken in double first, which is why callers pass the range.
  double Uniform(double low, double range) { return low + range * NextDouble(); }

 private:
  static constexpr uint128_t kMultiplier =
      (uint128_t{2549297995355413924ULL} << 64) | 4865540595714422341ULL;

  void Advance() { state_ = state_ * kMultiplier + inc_; }

  uint128_t state_ = 0;
  uint128_t inc_ = 1;
};

}  // namespace flockrl
