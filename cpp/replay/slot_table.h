// The per-slot state words of a replay buffer: who may touch a slot's data
// and which insertion the data belongs to. Inserts are numbered by a global
// position `pos` (0, 1, 2, ...); insertion pos lives in slot pos % capacity,
// and `pos` itself is the handle that names it.
//
// A state word is EMPTY (0) or (pos + 1) * 4 + tag, tag one of
//   WRITING   a writer is copying insertion pos into the slot;
//   READY     the data of insertion pos is complete;
//   UPDATING  the data is complete and one thread is changing its priority.
//
// Transitions (all by CAS on the word, so each is exclusive):
//   writer  EMPTY or READY(p) -> WRITING(pos) -> READY(pos), for p < pos.
//           If the word is WRITING(p)/UPDATING(p) with p < pos it waits for
//           READY(p); if the slot already holds a newer p > pos, the older
//           insertion is dropped (it was overwritten before it was written).
//   update  READY(pos) -> UPDATING(pos) -> READY(pos); any other word means
//           the handle is stale and the update is skipped.
// A writer and an update therefore serialise only when they meet on the
// same slot (an update of the oldest item racing its overwrite): no global
// lock on any path. The wait is a few stores long; a waiter that spins for
// long yields its core, since the thread it waits for may be preempted
// (more threads than cores).
//
// Reading a slot's data is a per-slot seqlock: load the word, copy the data,
// load the word again; the copy is consistent if both loads name the same
// complete insertion (READY or UPDATING of one pos).
//
// Memory ordering: a writer's CAS to WRITING is acquire (it must not copy
// data before owning the slot). The row is then copied with release stores
// of 8-byte words and read with acquire loads (storage.h); on x86 both are
// plain moves. (Long rows are streamed with non-temporal stores instead,
// fenced after the claim and before READY: storage.h says why that keeps
// the argument below.) A reader whose load returns any new word therefore
// synchronises with that store, so the WRITING word, which precedes it, is
// visible to the reader's second load of the state, and that load cannot be
// reordered before the acquire data loads. This is the fence-free form of
// the seqlock (Boehm, "Can seqlocks get along with programming language
// memory models?", 2012); fences are avoided because ThreadSanitizer does
// not model them. The store of READY is release: a reader's acquire load of
// READY(pos) sees the whole row.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "common/big_array.h"
#include "common/thread_pool.h"  // FLOCKRL_CPU_RELAX

namespace flockrl {

// One round of waiting for another thread: pause at first, then give the
// core away so a preempted owner can finish.
inline void Backoff(int& round) {
  if (++round < 64) {
    FLOCKRL_CPU_RELAX();
  } else {
    std::this_thread::yield();
  }
}

class SlotTable {
 public:
  enum Tag : uint64_t { kWriting = 1, kReady = 2, kUpdating = 3 };
  static constexpr uint64_t kEmpty = 0;

  static uint64_t Word(uint64_t pos, Tag tag) { return ((pos + 1) << 2) | tag; }
  static uint64_t PosOf(uint64_t word) { return (word >> 2) - 1; }  // word != kEmpty
  static uint64_t TagOf(uint64_t word) { return word & 3u; }

  explicit SlotTable(int64_t capacity)
      : capacity_(capacity), words_(static_cast<std::size_t>(capacity)) {
    for (int64_t i = 0; i < capacity; ++i) words_[Index(i)].store(kEmpty, std::memory_order_relaxed);
  }

  int64_t capacity() const { return capacity_; }
  int64_t SlotOf(uint64_t pos) const { return static_cast<int64_t>(pos % static_cast<uint64_t>(capacity_)); }

  // Writer: takes the slot of `pos` for writing. Returns false when the slot
  // already holds a newer insertion (then `pos` is dropped). Thread-safe.
  bool BeginWrite(uint64_t pos) {
    std::atomic<uint64_t>& w = words_[Index(SlotOf(pos))];
    uint64_t cur = w.load(std::memory_order_relaxed);
    for (int round = 0;;) {
      if (cur != kEmpty && PosOf(cur) >= pos) return false;
      if (cur != kEmpty && TagOf(cur) != kReady) {  // an older write or an update in progress
        Backoff(round);
        cur = w.load(std::memory_order_relaxed);
        continue;
      }
      if (w.compare_exchange_weak(cur, Word(pos, kWriting), std::memory_order_acquire, std::memory_order_relaxed)) {
        return true;
      }
    }
  }

  // Writer: the data of `pos` is complete. Thread-safe.
  void EndWrite(uint64_t pos) { words_[Index(SlotOf(pos))].store(Word(pos, kReady), std::memory_order_release); }

  // Update: takes the slot of `pos` to change its priority. Returns false if
  // the handle is stale (overwritten, or being overwritten). Thread-safe.
  bool BeginUpdate(uint64_t pos) {
    std::atomic<uint64_t>& w = words_[Index(SlotOf(pos))];
    const uint64_t ready = Word(pos, kReady);
    for (int round = 0;;) {
      uint64_t cur = ready;
      if (w.compare_exchange_weak(cur, Word(pos, kUpdating), std::memory_order_acquire,
                                  std::memory_order_relaxed)) {
        return true;
      }
      if (cur != ready && cur != Word(pos, kUpdating)) return false;
      Backoff(round);  // spurious failure, or another thread updating the same item
    }
  }

  void EndUpdate(uint64_t pos) { words_[Index(SlotOf(pos))].store(Word(pos, kReady), std::memory_order_release); }

  // Reader, seqlock side. Returns the complete insertion in `slot`, or false
  // when it is empty or being written.
  bool BeginRead(int64_t slot, uint64_t* word) const {
    *word = words_[Index(slot)].load(std::memory_order_acquire);
    return *word != kEmpty && TagOf(*word) != kWriting;
  }
  // True if the data copied (with acquire loads) since BeginRead belongs to
  // that insertion alone.
  bool EndRead(int64_t slot, uint64_t word) const {
    const uint64_t now = words_[Index(slot)].load(std::memory_order_relaxed);
    return now != kEmpty && PosOf(now) == PosOf(word) && TagOf(now) != kWriting;
  }

  void Prefetch(int64_t slot) const { Touch(words_[Index(slot)]); }

  // Racy observer: the word of `slot`.
  uint64_t Load(int64_t slot) const { return words_[Index(slot)].load(std::memory_order_acquire); }
  // For checkpoint loads: not thread-safe.
  void Store(int64_t slot, uint64_t word) { words_[Index(slot)].store(word, std::memory_order_relaxed); }

 private:
  static std::size_t Index(int64_t i) { return static_cast<std::size_t>(i); }

  const int64_t capacity_;
  BigArray<std::atomic<uint64_t>> words_;
};

}  // namespace flockrl
