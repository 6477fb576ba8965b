// The data of a replay buffer: named fields declared up front, stored row
// by row: all fields of one item side by side (each padded to whole 8-byte
// words), so a sampled item costs one or two cache-line misses instead of
// one per field.
//
// Rows are copied word by word with atomic release stores and acquire loads
// (std::atomic_ref), because a reader may copy a row while a writer
// overwrites it: the slot table's seqlock discards such a copy (the orders
// are what it relies on, see slot_table.h), and the racing accesses
// themselves must not be undefined behaviour.
//
// Long rows (>= 64 words) are instead streamed (StreamRow) on x86-64 with
// non-temporal 8-byte stores (movnti): they skip the read-for-ownership of
// every destination line, which nearly doubles the copy rate into a buffer
// far larger than the cache. Each is an aligned 8-byte store, single-copy
// atomic like the release store it replaces, so a racing reader still sees
// each word old or new. What changes is ordering: streamed stores may become
// visible after later ordinary stores, so the writer brackets them with
// StreamFence (sfence: earlier stores, streamed or not, become visible
// before later ones) after claiming its slots (the WRITING word before any
// new data) and before publishing them (all data before READY). This steps
// outside the ISO C++ model, hence only on x86-64 and never under
// ThreadSanitizer, whose builds take the portable atomic path so the tool
// still checks the protocol.
//
// Thread-safety: WriteRow/StreamRow/ReadRow may run concurrently on any
// slots; the caller (the slot table protocol) decides which copies count.
// Never allocate.
#pragma once

#include <algorithm>
#include <bit>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#include <immintrin.h>
#define FLOCKRL_STREAM_ROWS 1
#endif

#include "common/big_array.h"

namespace flockrl {

enum class DType : int { kFloat32 = 0, kFloat64, kInt64, kInt32, kUInt8, kBool };

inline int64_t DTypeSize(DType t) {
  switch (t) {
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

struct FieldSpec {
  std::string name;
  std::vector<int64_t> shape;  // of one item, () for a scalar
  DType dtype = DType::kFloat32;

  int64_t ItemBytes() const {
    int64_t n = DTypeSize(dtype);
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t RowWords() const { return (ItemBytes() + 7) / 8; }
};

class ReplayStorage {
 public:
  ReplayStorage(int64_t capacity, std::vector<FieldSpec> fields)
      : capacity_(capacity), fields_(std::move(fields)), stride_(RowStride(fields_)) {
    int64_t offset = 0;
    for (const FieldSpec& f : fields_) {
      columns_.push_back({offset, f.ItemBytes()});
      offset += f.RowWords();
    }
    // Pages are touched as rows are written; only written rows are read.
    data_ = BigArray<uint64_t>(static_cast<std::size_t>(capacity_ * stride_));
  }

  // Words from one row to the next. A row of up to 8 words is padded to a
  // power of two if that costs at most 25% more memory (then it never
  // straddles two cache lines); a long row (>= 64 words) is padded to whole
  // lines (< 1/8 more) so that its copies stream whole lines.
  static int64_t RowStride(const std::vector<FieldSpec>& fields) {
    int64_t words = 0;
    for (const FieldSpec& f : fields) words += f.RowWords();
    if (words <= 8) {
      const auto pow2 = static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(words)));
      return 4 * pow2 <= 5 * words ? pow2 : words;
    }
    return words >= 64 ? (words + 7) / 8 * 8 : words;
  }

  // Bytes the data of `capacity` rows of `fields` takes.
  static int64_t BytesFor(int64_t capacity, const std::vector<FieldSpec>& fields) {
    return capacity * RowStride(fields) * 8;
  }

  int64_t capacity() const { return capacity_; }
  const std::vector<FieldSpec>& fields() const { return fields_; }

  // Copies item `row` of every field's source batch (src[f] points at a
  // contiguous [batch, item] array) into `slot`.
  void WriteRow(int64_t slot, const std::vector<const uint8_t*>& src, int64_t row) {
    uint64_t* dst = Row(slot);
    for (std::size_t f = 0; f < columns_.size(); ++f) {
      const Column c = columns_[f];
      CopyToWords(src[f] + row * c.bytes, dst + c.offset, c.bytes);
    }
  }

  // Whether this layout's rows are streamed (StreamRow) rather than written.
  bool streams() const {
#ifdef FLOCKRL_STREAM_ROWS
    return stride_ >= kStreamWords;
#else
    return false;
#endif
  }

  // WriteRow for long rows (streams() true): whole words, padding included,
  // so every destination line is written in full. Call StreamFence after
  // claiming the slots and again before publishing them.
  void StreamRow(int64_t slot, const std::vector<const uint8_t*>& src, int64_t row) {
#ifdef FLOCKRL_STREAM_ROWS
    uint64_t* dst = Row(slot);
    int64_t w = 0;
    for (std::size_t f = 0; f < columns_.size(); ++f) {
      const int64_t bytes = columns_[f].bytes, full = bytes / 8, tail = bytes % 8;
      const uint8_t* s = src[f] + row * bytes;
      for (int64_t k = 0; k < full; ++k) {
        uint64_t v;
        std::memcpy(&v, s + 8 * k, 8);
        Stream(dst + w++, v);
      }
      if (tail) {
        uint64_t v = 0;
        CopyTail(&v, s + 8 * full, tail);
        Stream(dst + w++, v);
      }
    }
    for (; w < stride_; ++w) Stream(dst + w, 0);
#else
    WriteRow(slot, src, row);
#endif
  }

  // Orders streamed stores with ordinary ones (see the header comment); the
  // signal fence keeps the compiler from moving stores across it either.
  static void StreamFence() {
#ifdef FLOCKRL_STREAM_ROWS
    std::atomic_signal_fence(std::memory_order_seq_cst);
    _mm_sfence();
    std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
  }

  // Hint that `slot` is about to be read: up to its first four lines (the
  // rest streams), and the line its last prefetched word is on.
  void PrefetchRow(int64_t slot) const {
    uint64_t* row = Row(slot);
    const int64_t words = std::min<int64_t>(stride_, 32);
    for (int64_t w = 0; w < words; w += 8) Touch(row[w]);
    Touch(row[words - 1]);
  }

  // Copies field `field` of `slot` to `dst` (ItemBytes bytes).
  void ReadField(std::size_t field, int64_t slot, uint8_t* dst) const {
    CopyFromWords(Row(slot) + columns_[field].offset, dst, columns_[field].bytes);
  }

  // Copies `slot` into item `row` of every field's destination batch.
  void ReadRow(int64_t slot, const std::vector<uint8_t*>& dst, int64_t row) const {
    uint64_t* src = Row(slot);
    for (std::size_t f = 0; f < columns_.size(); ++f) {
      const Column c = columns_[f];
      CopyFromWords(src + c.offset, dst[f] + row * c.bytes, c.bytes);
    }
  }

 private:
  uint64_t* Row(int64_t slot) const { return data_.get() + static_cast<std::size_t>(slot * stride_); }

#ifdef FLOCKRL_STREAM_ROWS
  static void Stream(uint64_t* dst, uint64_t v) {
    _mm_stream_si64(reinterpret_cast<long long*>(dst), static_cast<long long>(v));
  }
#endif

  // The 1-7 bytes after the whole words: the common sizes as single moves
  // (a variable-size memcpy would be a call or a byte loop per item).
  static void CopyTail(void* dst, const void* src, int64_t tail) {
    switch (tail) {
      case 1: std::memcpy(dst, src, 1); break;
      case 2: std::memcpy(dst, src, 2); break;
      case 4: std::memcpy(dst, src, 4); break;
      default: std::memcpy(dst, src, static_cast<std::size_t>(tail));
    }
  }

  // Whole words first (fixed-size memcpy compiles to one move), then the
  // partial last word.
  static void CopyToWords(const uint8_t* src, uint64_t* dst, int64_t bytes) {
    const int64_t full = bytes / 8, tail = bytes % 8;
    for (int64_t k = 0; k < full; ++k) {
      uint64_t w;
      std::memcpy(&w, src + 8 * k, 8);
      std::atomic_ref<uint64_t>(dst[k]).store(w, std::memory_order_release);
    }
    if (tail) {
      uint64_t w = 0;
      CopyTail(&w, src + 8 * full, tail);
      std::atomic_ref<uint64_t>(dst[full]).store(w, std::memory_order_release);
    }
  }

  static void CopyFromWords(uint64_t* src, uint8_t* dst, int64_t bytes) {
    const int64_t full = bytes / 8, tail = bytes % 8;
    for (int64_t k = 0; k < full; ++k) {
      const uint64_t w = std::atomic_ref<uint64_t>(src[k]).load(std::memory_order_acquire);
      std::memcpy(dst + 8 * k, &w, 8);
    }
    if (tail) {
      const uint64_t w = std::atomic_ref<uint64_t>(src[full]).load(std::memory_order_acquire);
      CopyTail(dst + 8 * full, &w, tail);
    }
  }

  static constexpr int64_t kStreamWords = 64;  // 512-byte rows: 8 lines

  const int64_t capacity_;
  std::vector<FieldSpec> fields_;
  const int64_t stride_;          // words per row
  struct Column {
    int64_t offset;  // in the row, in words
    int64_t bytes;   // of one item of the field
  };
  std::vector<Column> columns_;  // per field, precomputed: copies run per item
  BigArray<uint64_t> data_;       // capacity rows of stride_ words
};

}  // namespace flockrl
