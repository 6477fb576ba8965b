// A ring of frames (one image each, e.g. 84x84 uint8) for a replay buffer
// of stacked observations: each frame is written once, at a position handed
// out by an atomic cursor, and read back by position. Frame `pos` lives in
// slot pos % capacity until frame pos + capacity overwrites it.
//
// Each slot has a state word from SlotTable (slot_table.h): READY(pos) once
// frame pos is complete. Writers claim positions with one fetch_add and copy
// frames without locks (long frames streamed, as replay rows are: storage.h);
// a reader copies a frame under the per-slot seqlock and learns whether the
// copy is frame `pos` intact, or whether that frame is gone (overwritten, or
// being overwritten): Read returns false then, never a frame mixed from two
// writes.
//
// Memory ordering: as slot_table.h states for rows (the same words, the
// same copy routines). A writer ends each frame with a release store of
// READY(pos); a transition that refers to the frame is published later by
// the same thread with its own release store, so a sampler that acquired
// the transition sees the frame's word at READY(pos) or later.
//
// Thread-safety: Claim, Write, Read and Holds may run concurrently on any
// positions. Save/Load are not thread-safe. Never allocates after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/binary_file.h"
#include "replay/slot_table.h"
#include "replay/storage.h"

namespace flockrl {

class FrameStore {
 public:
  FrameStore(int64_t capacity, int64_t frame_bytes)
      : capacity_(capacity), frame_bytes_(frame_bytes), storage_(capacity, Fields(frame_bytes)), slots_(capacity) {}

  static int64_t BytesFor(int64_t capacity, int64_t frame_bytes) {
    return ReplayStorage::BytesFor(capacity, Fields(frame_bytes)) + capacity * 8;  // + slot words
  }

  int64_t capacity() const { return capacity_; }
  int64_t frame_bytes() const { return frame_bytes_; }

  // Racy observer: frames written so far (positions handed out).
  uint64_t frames_claimed() const { return cursor_.load(std::memory_order_relaxed); }

  // Incremented by Load: positions remembered from before it name other frames now.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // A position for a new frame. Relaxed: the increment only hands out
  // distinct positions. Thread-safe.
  uint64_t Claim() { return cursor_.fetch_add(1, std::memory_order_relaxed); }

  // Writes frame `pos` (from Claim): frames[0] + row * frame_bytes. Returns
  // false if a newer frame already took the slot (the ring lapped this
  // writer), then the frame is not stored. Thread-safe.
  bool Write(uint64_t pos, const std::vector<const uint8_t*>& frames, int64_t row) {
    if (!slots_.BeginWrite(pos)) return false;
    const int64_t slot = slots_.SlotOf(pos);
    if (storage_.streams()) {
      ReplayStorage::StreamFence();  // the WRITING word before any new data
      storage_.StreamRow(slot, frames, row);
      ReplayStorage::StreamFence();  // all the data before READY
    } else {
      storage_.WriteRow(slot, frames, row);
    }
    slots_.EndWrite(pos);
    return true;
  }

  // Copies frame `pos` to dst; false if that frame is gone. Thread-safe.
  bool Read(uint64_t pos, uint8_t* dst) const {
    const int64_t slot = slots_.SlotOf(pos);
    uint64_t word;
    if (!slots_.BeginRead(slot, &word) || SlotTable::PosOf(word) != pos) return false;
    storage_.ReadField(0, slot, dst);
    return slots_.EndRead(slot, word);
  }

  // Racy observer: whether frame `pos` is still stored.
  bool Holds(uint64_t pos) const {
    return slots_.Load(slots_.SlotOf(pos)) == SlotTable::Word(pos, SlotTable::kReady);
  }

  void SaveTo(AtomicFileWriter& out) const {
    out.Put(cursor_.load());
    std::vector<uint8_t> frame(static_cast<std::size_t>(frame_bytes_));
    for (int64_t slot = 0; slot < capacity_; ++slot) {
      const uint64_t word = slots_.Load(slot);
      if (word != SlotTable::kEmpty && SlotTable::TagOf(word) != SlotTable::kReady) {
        throw std::runtime_error("save: frame slot " + std::to_string(slot) + " is being written; stop adds first");
      }
      out.Put(word);
      if (word == SlotTable::kEmpty) continue;
      storage_.ReadField(0, slot, frame.data());
      out.Write(frame.data(), frame.size());
    }
  }

  void LoadFrom(FileReader& in) {
    cursor_.store(in.Get<uint64_t>());
    std::vector<uint8_t> frame(static_cast<std::size_t>(frame_bytes_));
    const std::vector<const uint8_t*> src = {frame.data()};
    for (int64_t slot = 0; slot < capacity_; ++slot) {
      const auto word = in.Get<uint64_t>();
      slots_.Store(slot, word);
      if (word == SlotTable::kEmpty) continue;
      in.Read(frame.data(), frame.size());
      storage_.WriteRow(slot, src, 0);
    }
    generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  static std::vector<FieldSpec> Fields(int64_t frame_bytes) { return {{"frame", {frame_bytes}, DType::kUInt8}}; }

  const int64_t capacity_, frame_bytes_;
  ReplayStorage storage_;
  SlotTable slots_;
  alignas(64) std::atomic<uint64_t> cursor_{0};
  alignas(64) std::atomic<uint64_t> generation_{0};
};

}  // namespace flockrl
