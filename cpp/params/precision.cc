#include "params/precision.h"

#include <cstring>

namespace flockrl {

// Each loop is compiled for the baseline ISA and for x86-64-v3 (AVX2, F16C),
// picked once at load time: the AVX2 clones convert 2x faster (bfloat16) and
// use vcvtps2ph/vcvtph2ps for float16 instead of a libgcc call per element.
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define FLOCKRL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FLOCKRL_CLONES
#endif

// Branch-free so it vectorises: NaN is selected, not branched to.
FLOCKRL_CLONES void FloatToBFloat16(const float* src, uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, src + i, 4);
    const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    dst[i] = static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? 0x7fc0u : rounded);
  }
}

FLOCKRL_CLONES void BFloat16ToFloat(const uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
    std::memcpy(dst + i, &bits, 4);
  }
}

FLOCKRL_CLONES void FloatToHalf(const float* src, uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const _Float16 h = static_cast<_Float16>(src[i]);
    std::memcpy(dst + i, &h, 2);
  }
}

FLOCKRL_CLONES void HalfToFloat(const uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    _Float16 h;
    std::memcpy(&h, src + i, 2);
    dst[i] = static_cast<float>(h);
  }
}

}  // namespace flockrl
