// SeedSequence + PCG64 against values printed by numpy 2.4:
//   np.random.PCG64(np.random.SeedSequence(s)).random_raw(4)
//   np.random.Generator(np.random.PCG64(np.random.SeedSequence(s))).random()
#include <cstdint>

#include "common/pcg64.h"
#include "tests/check.h"

using flockrl::Pcg64;
using flockrl::SeedSequence;

static Pcg64 Seeded(uint64_t seed) {
  Pcg64 rng;
  rng.Seed(SeedSequence(SeedSequence::WordsOf(seed)));
  return rng;
}

int main() {
  struct Case {
    uint64_t seed;
    uint64_t raw[4];
  };
  const Case cases[] = {
      {0, {11749869230777074271ull, 4976686463289251617ull, 755828109848996024ull, 304881062738325533ull}},
      {1, {9441442522235856127ull, 17532960557476522086ull, 2659275481604167885ull, 17499493567006797778ull}},
      // A seed above 2^32 has two entropy words.
      {5000000000ull, {13612822108948717442ull, 9602355123249257654ull, 8495558616909289051ull, 2332977847367855828ull}},
  };
  for (const Case& c : cases) {
    Pcg64 rng = Seeded(c.seed);
    for (uint64_t expected : c.raw) CHECK(rng.NextUint64() == expected);
  }
  // Generator.random() and uniform(): 53-bit doubles.
  Pcg64 rng = Seeded(42);
  CHECK(rng.NextDouble() == 0.7739560485559633);
  Pcg64 rng0 = Seeded(0);
  CHECK(rng0.Uniform(-0.05, 0.05 - -0.05) == 0.013696168732145436);
  std::puts("test_rng: 1 passed, 0 failed");
  return 0;
}
