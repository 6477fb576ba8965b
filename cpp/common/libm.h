// The libm calls numpy makes for `x ** 2` on float64/float32 scalars. glibc's
// pow is not always correctly rounded, so it can differ from x * x: to match
// gymnasium these must stay real calls. std::pow goes through __builtin_pow,
// which gcc folds into x * x whatever the flags; the plain C names are left
// alone under -fno-builtin-pow/-fno-builtin-powf (set in CMakeLists.txt).
#pragma once

#include <math.h>

namespace flockrl {

inline double LibmPow(double x, double y) { return ::pow(x, y); }
inline float LibmPowf(float x, float y) { return ::powf(x, y); }

}  // namespace flockrl
