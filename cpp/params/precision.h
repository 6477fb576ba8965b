// float32 <-> bfloat16 / float16 conversions for reduced-precision weight
// broadcast, rounding exactly as PyTorch does (round to nearest, ties to
// even; bfloat16 NaN becomes 0x7FC0), so a weight pulled through the store
// equals `tensor.to(dtype).float()` bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flockrl {

void FloatToBFloat16(const float* src, uint16_t* dst, std::size_t n);
void BFloat16ToFloat(const uint16_t* src, float* dst, std::size_t n);
void FloatToHalf(const float* src, uint16_t* dst, std::size_t n);
void HalfToFloat(const uint16_t* src, float* dst, std::size_t n);

}  // namespace flockrl
