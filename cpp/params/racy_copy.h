// Byte copies into and out of a seqlock-protected buffer that another thread
// or process may be writing at the same moment. The seqlock's sequence
// numbers (not these copies) decide whether what was read is kept.
//
// Protocol (param_store.h): the writer marks the buffer odd, calls
// SeqlockWriteFence, copies in; a reader copies out, calls SeqlockReadFence,
// then re-reads the sequence number.
//
// Release builds use memcpy: at 10 MB and more, glibc's non-temporal memcpy
// moves 13 GB/s here against 8 GB/s for a loop of relaxed 8-byte atomics,
// and the seqlock bandwidth target is a fraction of memcpy's. Formally the
// overlapping plain accesses are a data race; in practice memcpy is an
// opaque call ordered by the fences around it (the Linux kernel's seqlocks
// read the same way), and a torn copy is always discarded. ThreadSanitizer
// builds copy with relaxed atomics instead, so TSAN checks the protocol
// (fences and sequence loads are identical in both builds) without
// reporting the intended race. TSAN does not model fences (gcc rejects them
// under -fsanitize=thread), so there each copied word carries the ordering
// the fence gives the whole copy: release stores and acquire loads, the
// fence-free form of the same seqlock.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

namespace flockrl {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kAtomicRacyCopies = true;
#else
inline constexpr bool kAtomicRacyCopies = false;
#endif

// Orders the writer's odd sequence store before its data stores.
inline void SeqlockWriteFence() {
  if constexpr (!kAtomicRacyCopies) std::atomic_thread_fence(std::memory_order_release);
}

// Orders the reader's data loads before its second sequence load.
inline void SeqlockReadFence() {
  if constexpr (!kAtomicRacyCopies) std::atomic_thread_fence(std::memory_order_acquire);
}

// Copies from the shared buffer `src` (8-byte aligned) into private memory.
inline void CopyFromShared(void* dst, const void* src, std::size_t n) {
  if constexpr (!kAtomicRacyCopies) {
    std::memcpy(dst, src, n);
  } else {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      auto* word = reinterpret_cast<uint64_t*>(const_cast<uint8_t*>(s + i));
      const uint64_t w = std::atomic_ref<uint64_t>(*word).load(std::memory_order_acquire);
      std::memcpy(d + i, &w, 8);
    }
    for (; i < n; ++i) d[i] = std::atomic_ref<uint8_t>(const_cast<uint8_t&>(s[i])).load(std::memory_order_acquire);
  }
}

// Copies private memory into the shared buffer `dst` (8-byte aligned).
inline void CopyToShared(void* dst, const void* src, std::size_t n) {
  if constexpr (!kAtomicRacyCopies) {
    std::memcpy(dst, src, n);
  } else {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(d + i)).store(w, std::memory_order_release);
    }
    for (; i < n; ++i) std::atomic_ref<uint8_t>(d[i]).store(s[i], std::memory_order_release);
  }
}

}  // namespace flockrl
