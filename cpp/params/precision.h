// float32 <-> bfloat16 / float16 conversions for reduced-precision weight
// broadcast, rounding exactly as PyTorch does (round to nearest, ties to
// even; bfloat16 NaN becomes 0x7FC0), so a weight pulled through the store
// equals `tensor.to(dtype).float()` bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

namespace flockrl {

inline uint16_t FloatToBFloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  const uint32_t rounding_bias = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}

inline float BFloat16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace detail {

// Compiled twice: for the baseline ISA and with F16C, whose vcvtps2ph /
// vcvtph2ps do eight conversions per instruction; picked once at run time.
#define FLOCKRL_HALF_KERNELS(suffix, attr)                                             \
  attr inline void FloatToHalf##suffix(const float* src, uint16_t* dst, std::size_t n) { \
    for (std::size_t i = 0; i < n; ++i) {                                              \
      const _Float16 h = static_cast<_Float16>(src[i]);                                \
      std::memcpy(dst + i, &h, 2);                                                     \
    }                                                                                  \
  }                                                                                    \
  attr inline void HalfToFloat##suffix(const uint16_t* src, float* dst, std::size_t n) { \
    for (std::size_t i = 0; i < n; ++i) {                                              \
      _Float16 h;                                                                      \
      std::memcpy(&h, src + i, 2);                                                     \
      dst[i] = static_cast<float>(h);                                                  \
    }                                                                                  \
  }

FLOCKRL_HALF_KERNELS(Baseline, )
#if defined(__x86_64__)
FLOCKRL_HALF_KERNELS(F16c, __attribute__((target("avx2,f16c"))))
inline bool HasF16c() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  return has;
}
#endif
#undef FLOCKRL_HALF_KERNELS

}  // namespace detail

inline void FloatToHalf(const float* src, uint16_t* dst, std::size_t n) {
#if defined(__x86_64__)
  if (detail::HasF16c()) return detail::FloatToHalfF16c(src, dst, n);
#endif
  detail::FloatToHalfBaseline(src, dst, n);
}

inline void HalfToFloat(const uint16_t* src, float* dst, std::size_t n) {
#if defined(__x86_64__)
  if (detail::HasF16c()) return detail::HalfToFloatF16c(src, dst, n);
#endif
  detail::HalfToFloatBaseline(src, dst, n);
}

inline void FloatToBFloat16(const float* src, uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = FloatToBFloat16(src[i]);
}

inline void BFloat16ToFloat(const uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = BFloat16ToFloat(src[i]);
}

}  // namespace flockrl
