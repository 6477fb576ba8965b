// What one writer thread remembers of its streams (lanes: the envs it steps)
// so that each frame is stored once: for every lane, the last `window`
// frames it stored or found, with their positions in the FrameStore, a
// private copy of their content and a fingerprint of it.
//
// A frame of an incoming stacked observation is looked up among its lane's
// remembered frames by content: the fingerprint filters, then the bytes are
// compared in full, so a match is always an identical frame. Nothing here
// relies on how an env stacks or pads (zeros or the first frame after a
// reset, a stack carried across a lost life): equal frames are shared
// wherever they occur within the window, and a frame found nowhere is
// stored anew. Lane identity and the window's size only decide how much is
// shared, never what a sampled observation holds. A stack of K frames from
// an n-step transition refers back K + n frames; the window keeps 4K + 8.
//
// Not thread-safe: one writer per thread (its own copies, no shared state).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "replay/frame_store.h"

namespace flockrl {

class FrameWriter {
 public:
  FrameWriter(int64_t frame_bytes, int64_t stack)
      : frame_bytes_(frame_bytes), window_(4 * stack + 8) {}

  static constexpr int64_t kMaxLanes = int64_t{1} << 20;

  // 64-bit fingerprint of a frame: four independent multiply-xorshift
  // chains over its 8-byte words (fast enough to hash every incoming frame).
  static uint64_t Fingerprint(const uint8_t* frame, int64_t bytes) {
    constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
    uint64_t h[4] = {1, 2, 3, 4};
    int64_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
      for (int j = 0; j < 4; ++j) {
        uint64_t w;
        std::memcpy(&w, frame + i + 8 * j, 8);
        h[j] = (h[j] ^ w) * kMul;
        h[j] ^= h[j] >> 29;
      }
    }
    uint64_t tail = static_cast<uint64_t>(bytes);
    for (; i < bytes; ++i) tail = (tail ^ frame[i]) * kMul;
    return (h[0] ^ (h[1] << 1) ^ (h[2] << 2) ^ (h[3] << 3) ^ tail) * kMul;
  }

  // The position of a stored frame equal to `frame` among lane's
  // remembered ones (checked to be still in `store`), or -1. The place
  // after the last match is tried first: consecutive frames of a stack
  // were usually remembered in order.
  int64_t Find(int64_t lane, const uint8_t* frame, uint64_t fingerprint, const FrameStore& store) {
    Lane& l = LaneOf(lane, store);
    auto matches = [&](int64_t e) {
      return l.fingerprint[E(e)] == fingerprint && std::memcmp(l.Frame(e, frame_bytes_), frame, Bytes()) == 0 &&
             store.Holds(l.pos[E(e)]);
    };
    if (l.last_match >= 0) {
      const int64_t next = (l.last_match + 1) % window_;
      if (next < l.count && matches(next)) return Hit(l, next);
    }
    for (int64_t age = 0; age < l.count; ++age) {  // newest first
      const int64_t e = (l.newest - age + window_) % window_;
      if (matches(e)) return Hit(l, e);
    }
    l.last_match = -1;
    return -1;
  }

  // Remembers that lane's frame `frame` was stored at `pos`.
  void Remember(int64_t lane, uint64_t pos, const uint8_t* frame, uint64_t fingerprint, const FrameStore& store) {
    Lane& l = LaneOf(lane, store);
    const int64_t e = l.count < window_ ? l.count++ : (l.newest + 1) % window_;
    l.newest = e;
    l.pos[E(e)] = pos;
    l.fingerprint[E(e)] = fingerprint;
    std::memcpy(l.Frame(e, frame_bytes_), frame, Bytes());
    l.last_match = e;
  }

 private:
  struct Lane {
    std::vector<uint64_t> pos, fingerprint;
    std::vector<uint8_t> frames;  // window * frame_bytes
    int64_t count = 0, newest = -1, last_match = -1;
    uint8_t* Frame(int64_t e, int64_t frame_bytes) { return frames.data() + e * frame_bytes; }
  };

  static std::size_t E(int64_t e) { return static_cast<std::size_t>(e); }
  std::size_t Bytes() const { return static_cast<std::size_t>(frame_bytes_); }

  int64_t Hit(Lane& l, int64_t e) {
    l.last_match = e;
    return static_cast<int64_t>(l.pos[E(e)]);
  }

  Lane& LaneOf(int64_t lane, const FrameStore& store) {
    if (generation_ != store.generation()) {  // the store was loaded: remembered positions mean other frames
      lanes_.clear();
      generation_ = store.generation();
    }
    if (lane >= static_cast<int64_t>(lanes_.size())) lanes_.resize(static_cast<std::size_t>(lane + 1));
    Lane& l = lanes_[static_cast<std::size_t>(lane)];
    if (l.pos.empty()) {
      l.pos.resize(E(window_));
      l.fingerprint.resize(E(window_));
      l.frames.resize(E(window_ * frame_bytes_));
    }
    return l;
  }

  const int64_t frame_bytes_, window_;
  std::vector<Lane> lanes_;
  uint64_t generation_ = 0;
};

}  // namespace flockrl
