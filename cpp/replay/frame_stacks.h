// Stacked observations (e.g. Atari's 4 x 84 x 84) stored one frame each
// instead of one stack per field per transition: a replay buffer whose
// rows keep, in place of each stacked field, the FrameStore positions of
// its K frames, and a FrameStore holding every distinct frame once. An
// Atari transition's obs and next_obs (56 KB as two stacks) then take about
// one new 7 KB frame and 64 bytes of positions.
//
// Add (per writer thread, with its FrameWriter): every frame of every
// stacked field is looked up among the lane's remembered frames (by
// content: frame_writer.h) and stored only if it is not there; then the row
// with the positions goes in as any row does. Frames are written before the
// row that refers to them is published (both release stores, in program
// order: frame_store.h), so a sampler that sees the row sees its frames'
// words.
//
// Sample: rows are drawn as usual; each row's frames are then copied back
// into the stacks (ItemHook). A frame that is gone (the frame ring is
// sized above the transition ring, `frame_capacity`, but a stream can need
// more frames than transitions) evicts the item: it is drawn again, and a
// prioritized item gets priority 0. stats: frames, evictions.
//
// Thread-safety: as ReplayBuffer's, with one FrameWriter per writing thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "replay/frame_store.h"
#include "replay/frame_writer.h"
#include "replay/replay_buffer.h"

namespace flockrl {

class FrameStacks {
 public:
  // The name of the row field with the frame positions (not an identifier,
  // so never a user's field name).
  static constexpr const char* kRefsField = "@frames";

  // user_fields: the fields as declared, the stacked ones included (each of
  // shape (K, ...), all of the same shape and dtype); stacked: their names.
  FrameStacks(const std::vector<FieldSpec>& user_fields, const std::vector<std::string>& stacked,
              int64_t frame_capacity)
      : layout_(Layout::Of(user_fields, stacked)),
        store_(frame_capacity, layout_.frame_bytes) {}

  // The fields the buffer's rows hold: the unstacked ones, then the positions.
  const std::vector<FieldSpec>& row_fields() const { return layout_.row_fields; }
  int64_t stack() const { return layout_.stack; }
  int64_t frame_bytes() const { return layout_.frame_bytes; }
  const FrameStore& store() const { return store_; }

  // What the frames of such a buffer allocate, and its rows' fields, without building one.
  static int64_t BytesFor(const std::vector<FieldSpec>& user_fields, const std::vector<std::string>& stacked,
                          int64_t frame_capacity) {
    return FrameStore::BytesFor(frame_capacity, Layout::Of(user_fields, stacked).frame_bytes);
  }
  static std::vector<FieldSpec> RowFields(const std::vector<FieldSpec>& user_fields,
                                          const std::vector<std::string>& stacked) {
    return Layout::Of(user_fields, stacked).row_fields;
  }

  FrameWriter NewWriter() const { return FrameWriter(layout_.frame_bytes, layout_.stack); }

  // Adds `batch` items: src[f] points at field f's [batch, item] array, as
  // declared; lanes[i] (may be null: all 0) names the stream item i came
  // from. Thread-safe with one writer per thread.
  void Add(ReplayBuffer& buffer, FrameWriter& writer, const std::vector<const uint8_t*>& src, int64_t batch,
           const int64_t* lanes, const double* priorities) {
    const Layout& L = layout_;
    const auto stacks = static_cast<int64_t>(L.stacked.size());
    std::vector<int64_t> refs(static_cast<std::size_t>(batch * stacks * L.stack));
    std::vector<const uint8_t*> frames(1);
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t lane = lanes ? lanes[i] : 0;
      for (int64_t s = 0; s < stacks; ++s) {
        frames[0] = src[static_cast<std::size_t>(L.stacked[static_cast<std::size_t>(s)])];
        for (int64_t k = 0; k < L.stack; ++k) {
          const int64_t row = i * L.stack + k;  // the field's array as [batch * K] frames
          const uint8_t* frame = frames[0] + row * L.frame_bytes;
          const uint64_t fingerprint = FrameWriter::Fingerprint(frame, L.frame_bytes);
          int64_t pos = writer.Find(lane, frame, fingerprint, store_);
          if (pos < 0) {
            pos = static_cast<int64_t>(store_.Claim());
            // A write the ring lapped stores nothing: its items are evicted when drawn.
            if (store_.Write(static_cast<uint64_t>(pos), frames, row)) {
              writer.Remember(lane, static_cast<uint64_t>(pos), frame, fingerprint, store_);
            }
          }
          refs[static_cast<std::size_t>((i * stacks + s) * L.stack + k)] = pos;
        }
      }
    }
    std::vector<const uint8_t*> row_src;
    for (int f : L.row_sources) row_src.push_back(f >= 0 ? src[static_cast<std::size_t>(f)]
                                                        : reinterpret_cast<const uint8_t*>(refs.data()));
    buffer.Add(row_src, batch, priorities);
  }

  // Draws `batch` items into dst[f] ([batch, item] arrays of the declared
  // fields, stacks rebuilt from their frames); otherwise as ReplayBuffer::Sample.
  void Sample(ReplayBuffer& buffer, int64_t batch, double beta, const std::vector<uint8_t*>& dst, int64_t* handles,
              double* weights, double* masses) const {
    const Layout& L = layout_;
    const auto stacks = static_cast<int64_t>(L.stacked.size());
    std::vector<int64_t> refs(static_cast<std::size_t>(batch * stacks * L.stack));
    std::vector<uint8_t*> row_dst;
    for (int f : L.row_sources) row_dst.push_back(f >= 0 ? dst[static_cast<std::size_t>(f)]
                                                        : reinterpret_cast<uint8_t*>(refs.data()));
    const ItemHook gather = [&](std::size_t item) {
      const auto i = static_cast<int64_t>(item);
      for (int64_t s = 0; s < stacks; ++s) {
        uint8_t* out = dst[static_cast<std::size_t>(L.stacked[static_cast<std::size_t>(s)])];
        for (int64_t k = 0; k < L.stack; ++k) {
          const auto pos = static_cast<uint64_t>(refs[static_cast<std::size_t>((i * stacks + s) * L.stack + k)]);
          if (!store_.Read(pos, out + (i * L.stack + k) * L.frame_bytes)) return false;
        }
      }
      return true;
    };
    buffer.Sample(batch, beta, row_dst, handles, weights, masses, &gather);
  }

  // Checkpoint sections (ReplayBuffer::Save/Load): the frame layout, then the frames.
  SaveSections Sections() const {
    return {[this](AtomicFileWriter& out) { PutLayout(out); }, [this](AtomicFileWriter& out) { store_.SaveTo(out); }};
  }
  LoadSections Restorer() {
    return {[this](FileReader& in, const std::string& path) { CheckLayout(in, path); },
            [this](FileReader& in) { store_.LoadFrom(in); }};
  }

 private:
  struct Layout {
    std::vector<int> stacked;      // declared index of each stacked field
    std::vector<int> row_sources;  // per row field: its declared index, or -1 for the positions
    std::vector<FieldSpec> row_fields;
    int64_t stack = 0, frame_bytes = 0;

    static Layout Of(const std::vector<FieldSpec>& fields, const std::vector<std::string>& names) {
      Layout L;
      if (names.empty()) throw std::invalid_argument("frame stacks: expected at least one stacked field");
      const FieldSpec* first = nullptr;
      for (const std::string& name : names) {
        auto it = std::find_if(fields.begin(), fields.end(), [&](const FieldSpec& f) { return f.name == name; });
        if (it == fields.end()) throw std::invalid_argument("frame_stack: '" + name + "' is not a field");
        if (std::count(names.begin(), names.end(), name) > 1) {
          throw std::invalid_argument("frame_stack: '" + name + "' is listed twice");
        }
        if (it->shape.size() < 2) {
          throw std::invalid_argument("frame_stack: '" + name + "' must have shape (stack, ...frame), got rank " +
                                      std::to_string(it->shape.size()));
        }
        if (first && (it->shape != first->shape || it->dtype != first->dtype)) {
          throw std::invalid_argument("frame_stack: '" + name + "' must have the shape and dtype of '" +
                                      first->name + "' (they share one frame store)");
        }
        first = first ? first : &*it;
        L.stacked.push_back(static_cast<int>(it - fields.begin()));
      }
      L.stack = first->shape[0];
      L.frame_bytes = first->ItemBytes() / L.stack;
      for (std::size_t f = 0; f < fields.size(); ++f) {
        if (std::find(L.stacked.begin(), L.stacked.end(), static_cast<int>(f)) != L.stacked.end()) continue;
        L.row_sources.push_back(static_cast<int>(f));
        L.row_fields.push_back(fields[f]);
      }
      L.row_sources.push_back(-1);
      L.row_fields.push_back({kRefsField, {static_cast<int64_t>(names.size()), L.stack}, DType::kInt64});
      return L;
    }
  };

  void PutLayout(AtomicFileWriter& out) const {
    out.Put(static_cast<uint32_t>(layout_.stacked.size()));
    for (int f : layout_.stacked) out.Put(static_cast<int32_t>(f));
    out.Put(layout_.stack);
    out.Put(layout_.frame_bytes);
    out.Put(store_.capacity());
  }

  void CheckLayout(FileReader& in, const std::string& path) const {
    auto fail = [&](const std::string& what) {
      return BinaryFileError(path + ": " + what + " differs from this buffer's frame stacks");
    };
    const auto n = in.Get<uint32_t>();
    if (n != layout_.stacked.size()) throw fail("the number of stacked fields");
    for (int f : layout_.stacked) {
      if (in.Get<int32_t>() != f) throw fail("the stacked fields");
    }
    if (in.Get<int64_t>() != layout_.stack) throw fail("the stack size");
    if (in.Get<int64_t>() != layout_.frame_bytes) throw fail("the frame size");
    if (const auto c = in.Get<int64_t>(); c != store_.capacity()) {
      throw fail("frame_capacity (the checkpoint has " + std::to_string(c) + ", this buffer " +
                 std::to_string(store_.capacity()) + ")");
    }
  }

  const Layout layout_;
  FrameStore store_;
};

}  // namespace flockrl
