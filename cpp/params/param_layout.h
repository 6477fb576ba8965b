// Where each tensor of a model lives in a parameter-store buffer, and how it
// is encoded there. Built in the same order by the creator and by every
// attacher; its hash guards against attaching with a different model.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/binary_file.h"

namespace flockrl {

// How a tensor's host bytes are stored: as they are, or float32 narrowed to
// bfloat16 / float16 (reduced-precision broadcast; half the bytes to read).
enum class Encoding : uint8_t { kRaw = 0, kFloatAsBFloat16 = 1, kFloatAsHalf = 2 };

struct TensorSlot {
  uint64_t host_bytes;    // bytes of the tensor in the publisher's / reader's memory
  Encoding encoding;
  uint64_t offset;        // within a buffer; 64-byte aligned
  uint64_t stored_bytes;  // bytes in the buffer
};

class ParamLayout {
 public:
  // `description` is the caller's human-readable account of the tensors
  // (names, shapes, dtypes); it is stored in the segment so a mismatch can be
  // explained, and hashed with the slots.
  explicit ParamLayout(std::string description) : description_(std::move(description)) {}

  void Add(uint64_t host_bytes, Encoding encoding) {
    if (encoding != Encoding::kRaw && host_bytes % 4 != 0) {
      throw std::invalid_argument("a float32 tensor stored in reduced precision must have a multiple of 4 bytes, got " +
                                  std::to_string(host_bytes));
    }
    if (encoding > Encoding::kFloatAsHalf) {
      throw std::invalid_argument("unknown encoding " + std::to_string(static_cast<int>(encoding)));
    }
    const uint64_t stored = encoding == Encoding::kRaw ? host_bytes : host_bytes / 2;
    slots_.push_back({host_bytes, encoding, buffer_bytes_, stored});
    buffer_bytes_ += (stored + 63) / 64 * 64;
  }

  const std::vector<TensorSlot>& slots() const { return slots_; }
  const std::string& description() const { return description_; }
  uint64_t buffer_bytes() const { return buffer_bytes_; }

  uint64_t Hash() const {
    uint64_t h = Fnv1a(0xcbf29ce484222325ull, description_.data(), description_.size());
    for (const TensorSlot& s : slots_) {
      h = Fnv1a(h, &s.host_bytes, sizeof s.host_bytes);
      h = Fnv1a(h, &s.encoding, sizeof s.encoding);
    }
    return h;
  }

 private:
  std::string description_;
  std::vector<TensorSlot> slots_;
  uint64_t buffer_bytes_ = 0;
};

}  // namespace flockrl
