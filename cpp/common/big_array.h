// Large arrays on their own anonymous mappings, backed by transparent huge
// pages where the kernel offers them (madvise mode). Replay trees and rows
// are read at random: with 4 KiB pages nearly every access is also a TLB
// miss, with 2 MiB pages almost none is. Pages are zero until first written
// and only then take memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <sys/mman.h>

namespace flockrl {

// Brings the cache line of `x` in with an ordinary relaxed load whose value
// is then dropped. On the 2-core Xeon VM the benchmarks run on, such loads
// overlap like prefetch instructions but, unlike those, do speed up the
// reads that follow (prioritized sample 256 at 1M: 38 -> 28 us).
template <typename T>
inline void Touch(const std::atomic<T>& x) {
  const T v = x.load(std::memory_order_relaxed);
  asm volatile("" : : "g"(v));  // the value must exist: the load stays
}
inline void Touch(uint64_t& x) {
  const uint64_t v = std::atomic_ref<uint64_t>(x).load(std::memory_order_relaxed);
  asm volatile("" : : "g"(v));
}

template <typename T>
class BigArray {
  static_assert(std::is_trivially_destructible_v<T>, "BigArray holds trivially destructible types");

 public:
  BigArray() = default;
  explicit BigArray(std::size_t n) : n_(n) {
    if (n == 0) return;
    bytes_ = n * sizeof(T);
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (bytes_ >= kHugePage) madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
    data_ = static_cast<T*>(p);
    // Begin the elements' lifetimes (atomics); plain data stays untouched.
    if constexpr (!std::is_trivially_default_constructible_v<T>) {
      for (std::size_t i = 0; i < n; ++i) new (data_ + i) T();
    }
  }
  ~BigArray() {
    if (data_) munmap(data_, bytes_);
  }
  BigArray(BigArray&& o) noexcept : data_(o.data_), n_(o.n_), bytes_(o.bytes_) { o.data_ = nullptr; }
  BigArray& operator=(BigArray&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  BigArray(const BigArray&) = delete;
  BigArray& operator=(const BigArray&) = delete;

  T* get() const { return data_; }
  T& operator[](std::size_t i) const { return data_[i]; }
  std::size_t size() const { return n_; }

 private:
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;

  T* data_ = nullptr;
  std::size_t n_ = 0, bytes_ = 0;
};

}  // namespace flockrl
