// Bindings of the replay buffers. As everywhere: validate and allocate with
// the GIL held, run the C++ core without it, wrap the results with it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "replay/frame_stacks.h"
#include "replay/replay_buffer.h"

namespace py = pybind11;

namespace flockrl::bindings {
namespace {

const std::map<std::string, DType>& DTypesByName() {
  static const std::map<std::string, DType> m = {
      {"float32", DType::kFloat32}, {"float64", DType::kFloat64}, {"int64", DType::kInt64},
      {"int32", DType::kInt32},     {"uint8", DType::kUInt8},     {"bool", DType::kBool},
  };
  return m;
}

using FieldTuple = std::tuple<std::string, std::vector<int64_t>, std::string>;
// (samples_per_insert, min_size_to_sample, error_buffer)
using LimiterTuple = std::tuple<double, int64_t, double>;

// frame_stack: the names of fields stored as frames (frame_stacks.h), with
// `frame_capacity` frames; empty for an ordinary buffer.
struct FrameOptions {
  std::vector<std::string> stacked;
  int64_t frame_capacity = 0;
};

ReplayConfig MakeConfig(int64_t capacity, const std::vector<FieldTuple>& fields, bool prioritized, double alpha,
                        double eps, uint64_t seed, const std::optional<LimiterTuple>& limiter) {
  if (capacity < 1) throw py::value_error("capacity: expected an int >= 1, got " + std::to_string(capacity));
  if (capacity > (int64_t{1} << 40)) {
    throw py::value_error("capacity: expected at most 2**40, got " + std::to_string(capacity));
  }
  if (fields.empty()) throw py::value_error("fields: expected at least one field, got none");
  if (!(alpha >= 0 && std::isfinite(alpha))) {
    throw py::value_error("alpha: expected a finite number >= 0, got " + std::to_string(alpha));
  }
  if (!(eps >= 0 && std::isfinite(eps))) {
    throw py::value_error("eps: expected a finite number >= 0, got " + std::to_string(eps));
  }
  ReplayConfig c;
  if (limiter) {
    const auto [spi, min_size, error_buffer] = *limiter;
    if (!(spi > 0 && std::isfinite(spi))) {
      throw py::value_error("samples_per_insert: expected a finite number > 0, got " + std::to_string(spi));
    }
    if (min_size < 1 || min_size > capacity) {
      throw py::value_error("min_size_to_sample: expected an int in [1, capacity=" + std::to_string(capacity) +
                            "], got " + std::to_string(min_size));
    }
    if (!(error_buffer >= std::max(1.0, spi) && std::isfinite(error_buffer))) {
      throw py::value_error("error_buffer: expected a finite number >= max(1, samples_per_insert) = " +
                            py::str(py::float_(std::max(1.0, spi))).cast<std::string>() + " (room for one item " +
                            "each way), got " + py::str(py::float_(error_buffer)).cast<std::string>());
    }
    c.rate_limiter = RateLimiterConfig{spi, min_size, error_buffer};
  }
  c.capacity = capacity;
  c.prioritized = prioritized;
  c.alpha = alpha;
  c.eps = eps;
  c.seed = seed;
  for (const auto& [name, shape, dtype] : fields) {
    auto it = DTypesByName().find(dtype);
    if (it == DTypesByName().end()) throw py::value_error("fields['" + name + "']: unsupported dtype " + dtype);
    for (int64_t d : shape) {
      if (d < 1) throw py::value_error("fields['" + name + "']: every dimension must be >= 1");
    }
    c.fields.push_back({name, shape, it->second});
  }
  // Every size in bytes must fit in an int64 (no silent wrap-around).
  int64_t total = capacity * 8;
  for (const FieldSpec& f : c.fields) {
    int64_t item = DTypeSize(f.dtype), rows = 0;
    bool overflow = false;
    for (int64_t d : f.shape) overflow |= __builtin_mul_overflow(item, d, &item);
    overflow |= item > (int64_t{1} << 48) || __builtin_mul_overflow(capacity, (item + 7) / 8 * 8, &rows) ||
                __builtin_add_overflow(total, rows, &total);
    if (overflow) {
      throw py::value_error("fields['" + f.name + "']: a buffer of " + std::to_string(capacity) +
                            " such items is too large to address");
    }
  }
  // Row padding (storage.h) adds less than one cache line per row.
  if (__builtin_add_overflow(total, capacity * 64, &total)) {
    throw py::value_error("fields: a buffer of " + std::to_string(capacity) + " such items is too large to address");
  }
  return c;
}

// The frame side of a buffer, or null; its frame ring is checked here.
std::unique_ptr<FrameStacks> MakeFrames(const ReplayConfig& c, const FrameOptions& frames) {
  if (frames.stacked.empty()) return nullptr;
  if (frames.frame_capacity < 1 || frames.frame_capacity > (int64_t{1} << 40)) {
    throw py::value_error("frame_capacity: expected an int in [1, 2**40], got " +
                          std::to_string(frames.frame_capacity));
  }
  try {
    return std::make_unique<FrameStacks>(c.fields, frames.stacked, frames.frame_capacity);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

// The buffer's own configuration: with frame stacks, its rows hold frame positions instead.
ReplayConfig RowConfig(ReplayConfig c, const FrameStacks* frames) {
  if (frames) c.fields = frames->row_fields();
  return c;
}

int64_t BytesFor(const ReplayConfig& c, const FrameOptions& frames) {
  if (frames.stacked.empty()) return ReplayBuffer::BytesFor(c);
  try {
    ReplayConfig rows = c;
    rows.fields = FrameStacks::RowFields(c.fields, frames.stacked);
    return ReplayBuffer::BytesFor(rows) + FrameStacks::BytesFor(c.fields, frames.stacked, frames.frame_capacity);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

// One writer thread's memory of its streams (flockrl keeps one per thread).
class PyFrameWriter {
 public:
  explicit PyFrameWriter(FrameWriter w) : writer(std::move(w)) {}
  FrameWriter writer;
};

class PyReplay {
 public:
  PyReplay(int64_t capacity, const std::vector<FieldTuple>& fields, bool prioritized, double alpha, double eps,
           uint64_t seed, const std::optional<LimiterTuple>& limiter, const FrameOptions& frames)
      : user_config_(MakeConfig(capacity, fields, prioritized, alpha, eps, seed, limiter)),
        frames_(MakeFrames(user_config_, frames)),
        buffer_(RowConfig(user_config_, frames_.get())) {
    for (const FieldSpec& f : user_config_.fields) dtype_nums_.push_back(py::dtype(NumpyName(f.dtype)).num());
  }

  PyFrameWriter NewWriter() const {
    if (!frames_) throw py::value_error("writer: only a buffer with frame_stack has writers");
    return PyFrameWriter(frames_->NewWriter());
  }

  // The fast path of ReplayBuffer.add: exactly the declared fields, each a
  // C-contiguous array of exactly the field's dtype and item shape. Returns
  // None for anything else; the Python wrapper then converts (or explains
  // what is wrong) and calls Add.
  py::object AddIfExact(const py::dict& items, const std::optional<py::array_t<double>>& prio, double timeout,
                        const std::optional<py::array_t<int64_t>>& lanes, PyFrameWriter* writer) {
    const auto& fields = user_config_.fields;
    if (items.size() != fields.size()) return py::none();
    std::vector<py::array> arrays;
    arrays.reserve(fields.size());
    int64_t batch = -1;
    for (std::size_t f = 0; f < fields.size(); ++f) {
      PyObject* obj = PyDict_GetItemString(items.ptr(), fields[f].name.c_str());  // borrowed
      if (obj == nullptr || !py::isinstance<py::array>(obj)) return py::none();
      auto a = py::reinterpret_borrow<py::array>(obj);
      const auto& shape = fields[f].shape;
      const char order = a.dtype().byteorder();  // '=' native, '|' n/a, '<'/'>' explicit
      if (a.dtype().num() != dtype_nums_[f] || !(order == '=' || order == '|' || order == kNativeOrder) ||
          !(a.flags() & py::array::c_style) ||
          a.ndim() != static_cast<py::ssize_t>(shape.size()) + 1) {
        return py::none();
      }
      for (std::size_t d = 0; d < shape.size(); ++d) {
        if (a.shape(static_cast<py::ssize_t>(d) + 1) != shape[d]) return py::none();
      }
      if (batch >= 0 && a.shape(0) != batch) return py::none();
      batch = a.shape(0);
      arrays.push_back(std::move(a));
    }
    return py::bool_(Add(arrays, batch, prio, timeout, lanes, writer));
  }

  // arrays[f]: C-contiguous [batch, *shape] arrays of each field's dtype
  // (checked by the Python wrapper, re-checked here by size). Returns false
  // if the rate limiter did not let the batch in within `timeout` seconds
  // (negative: wait indefinitely).
  // lanes: the stream of each item (frame stacks: see frame_writer.h),
  // written through `writer`, this thread's.
  bool Add(const std::vector<py::array>& arrays, int64_t batch, const std::optional<py::array_t<double>>& prio,
           double timeout, const std::optional<py::array_t<int64_t>>& lanes, PyFrameWriter* writer) {
    const auto& fields = user_config_.fields;
    if (arrays.size() != fields.size()) throw py::value_error("add: wrong number of field arrays");
    if (batch < 1 || batch > buffer_.capacity()) {
      throw py::value_error("add: expected a batch of 1 to capacity=" + std::to_string(buffer_.capacity()) +
                            " items, got " + std::to_string(batch));
    }
    std::vector<const uint8_t*> src;
    for (std::size_t f = 0; f < fields.size(); ++f) {
      const py::array& a = arrays[f];
      if (!(a.flags() & py::array::c_style) || a.nbytes() != batch * fields[f].ItemBytes()) {
        throw py::value_error("add: field '" + fields[f].name + "' has the wrong layout");
      }
      src.push_back(static_cast<const uint8_t*>(a.data()));
    }
    const double* p = nullptr;
    if (prio) {
      if (!buffer_.config().prioritized) throw py::value_error("add: priorities= needs a PrioritizedReplayBuffer");
      if (prio->ndim() != 1 || prio->shape(0) != batch) {
        throw py::value_error("priorities: expected shape (" + std::to_string(batch) + ",), got " +
                              py::str(prio->attr("shape")).cast<std::string>());
      }
      p = prio->data();
      CheckPriorities(p, batch);
    }
    const int64_t* lane = nullptr;
    if (frames_) {
      if (writer == nullptr) throw py::value_error("add: a frame-stacked buffer adds through a writer");
      if (lanes) {
        if (lanes->ndim() != 1 || lanes->shape(0) != batch) {
          throw py::value_error("env: expected shape (" + std::to_string(batch) + ",), got " +
                                py::str(lanes->attr("shape")).cast<std::string>());
        }
        lane = lanes->data();
        for (int64_t i = 0; i < batch; ++i) {
          if (lane[i] < 0 || lane[i] >= FrameWriter::kMaxLanes) {
            throw py::value_error("env[" + std::to_string(i) + "] = " + std::to_string(lane[i]) +
                                  ": expected an env index in [0, 2**20)");
          }
        }
      }
    }
    if (RateLimiter* limiter = buffer_.rate_limiter()) {
      if (!limiter->AllowableInsert(batch)) {
        throw py::value_error("add: a batch of " + std::to_string(batch) +
                              " items could stall the rate limiter (batch * samples_per_insert must be <= "
                              "error_buffer = " + py::str(py::float_(limiter->error_buffer())).cast<std::string>() +
                              "); add smaller batches or raise error_buffer");
      }
      if (!Await(*limiter, [&](double t, uint64_t seen) { return limiter->AwaitInsert(batch, t, seen); }, timeout)) {
        return false;
      }
    }
    py::gil_scoped_release release;
    if (frames_) {
      frames_->Add(buffer_, writer->writer, src, batch, lane, p);
    } else {
      buffer_.Add(src, batch, p);
    }
    buffer_.InsertsWritten(batch);
    return true;
  }

  // Returns None if the rate limiter did not allow the sample within
  // `timeout`, else (arrays, handles, weights, masses): weights None for
  // uniform buffers, masses (each item's p^alpha) only when asked for.
  py::object Sample(int64_t batch, double beta, double timeout, bool with_masses) {
    if (with_masses && !buffer_.config().prioritized) {
      throw py::value_error("sample: masses need a PrioritizedReplayBuffer");
    }
    if (batch < 1) throw py::value_error("batch_size: expected an int >= 1, got " + std::to_string(batch));
    if (!(beta >= 0 && std::isfinite(beta))) {
      throw py::value_error("beta: expected a finite number >= 0, got " + std::to_string(beta));
    }
    if (RateLimiter* limiter = buffer_.rate_limiter()) {
      if (!limiter->AllowableSample(batch)) {
        throw py::value_error("sample: a batch of " + std::to_string(batch) +
                              " could stall the rate limiter (batch_size must be <= error_buffer = " +
                              py::str(py::float_(limiter->error_buffer())).cast<std::string>() +
                              "); raise error_buffer");
      }
      if (!Await(*limiter, [&](double t, uint64_t seen) { return limiter->AwaitSample(batch, t, seen); }, timeout)) {
        return py::none();
      }
    }
    if (buffer_.Size() == 0) throw py::value_error("sample: the buffer is empty; add items first");
    if (buffer_.tree() && !(buffer_.tree()->Total() > 0)) {
      throw py::value_error("sample: every priority is 0 (priority 0 with eps=0): nothing can be drawn");
    }
    py::list out;
    std::vector<uint8_t*> dst;
    for (const FieldSpec& f : user_config_.fields) {
      std::vector<py::ssize_t> shape = {batch};
      shape.insert(shape.end(), f.shape.begin(), f.shape.end());
      py::array a(py::dtype(NumpyName(f.dtype)), shape);
      dst.push_back(static_cast<uint8_t*>(a.mutable_data()));
      out.append(a);
    }
    py::array_t<int64_t> handles(batch);
    py::object weights = py::none();
    double* w = nullptr;
    if (buffer_.config().prioritized) {
      py::array_t<double> wa(batch);
      w = wa.mutable_data();
      weights = wa;
    }
    py::object masses = py::none();
    double* m = nullptr;
    if (with_masses) {
      py::array_t<double> ma(batch);
      m = ma.mutable_data();
      masses = ma;
    }
    int64_t* h = handles.mutable_data();
    {
      py::gil_scoped_release release;
      if (frames_) {
        frames_->Sample(buffer_, batch, beta, dst, h, w, m);
      } else {
        buffer_.Sample(batch, beta, dst, h, w, m);
      }
    }
    return py::make_tuple(out, handles, weights, masses);
  }

  int64_t UpdatePriorities(const py::array_t<int64_t, py::array::c_style>& handles,
                           const py::array_t<double, py::array::c_style>& priorities) {
    if (!buffer_.config().prioritized) throw py::value_error("update_priorities: needs a PrioritizedReplayBuffer");
    if (handles.ndim() != 1) {
      throw py::value_error("handles: expected a 1-d array, got shape " +
                            py::str(handles.attr("shape")).cast<std::string>());
    }
    const int64_t n = handles.shape(0);
    if (priorities.ndim() != 1 || priorities.shape(0) != n) {
      throw py::value_error("priorities: expected shape (" + std::to_string(n) + ",) like handles, got " +
                            py::str(priorities.attr("shape")).cast<std::string>());
    }
    const int64_t* h = handles.data();
    const double* p = priorities.data();
    CheckPriorities(p, n);
    const int64_t foreign = buffer_.FirstForeignHandle(h, n);
    if (foreign >= 0) {
      throw py::value_error("handles[" + std::to_string(foreign) + "] = " + std::to_string(h[foreign]) +
                            " was not issued by this buffer (handles come from its sample())");
    }
    py::gil_scoped_release release;
    return buffer_.UpdatePriorities(h, p, n);
  }

  void Save(const std::string& path) const {
    CheckPath(path);
    FileErrorsToPython([&] {
      py::gil_scoped_release release;
      if (frames_) {
        const SaveSections sections = frames_->Sections();
        buffer_.Save(path, &sections);
      } else {
        buffer_.Save(path);
      }
    });
  }

  void Load(const std::string& path) {
    CheckPath(path);
    FileErrorsToPython([&] {
      py::gil_scoped_release release;
      if (frames_) {
        const LoadSections sections = frames_->Restorer();
        buffer_.Load(path, &sections);
      } else {
        buffer_.Load(path);
      }
    });
  }

  // Wakes threads blocked by the rate limiter: their add/sample give up.
  void Interrupt() {
    if (RateLimiter* limiter = buffer_.rate_limiter()) limiter->Interrupt();
  }

  // (sum, min) of p^alpha over the filled slots: two atomic loads, so a
  // concurrent add or update may land between them.
  py::tuple mass() const {
    const PriorityTree* t = buffer_.tree();
    if (!t) throw py::value_error("mass: needs a PrioritizedReplayBuffer");
    return py::make_tuple(t->Total(), t->Min());
  }

  int64_t size() const { return buffer_.Size(); }
  int64_t capacity() const { return buffer_.capacity(); }
  double max_priority() const { return buffer_.MaxPriority(); }
  int64_t nbytes() const {
    return ReplayBuffer::BytesFor(buffer_.config()) +
           (frames_ ? FrameStore::BytesFor(frames_->store().capacity(), frames_->frame_bytes()) : 0);
  }

  py::dict stats() const {
    const ReplayStats s = buffer_.Stats();
    py::dict d;
    d["adds"] = s.adds;
    d["dropped"] = s.dropped;
    d["samples"] = s.samples;
    d["torn_redraws"] = s.torn_redraws;
    d["evictions"] = s.evictions;
    if (frames_) d["frames"] = static_cast<int64_t>(frames_->store().frames_claimed());
    d["updates"] = s.updates;
    d["stale_updates"] = s.stale_updates;
    return d;
  }

  // Test hooks: the tree as it stands (leaf values p^alpha per slot, total, min).
  py::tuple tree_state() const {
    const PriorityTree* t = buffer_.tree();
    if (!t) throw py::value_error("tree_state: needs a PrioritizedReplayBuffer");
    py::array_t<double> leaves(buffer_.capacity());
    for (int64_t i = 0; i < buffer_.capacity(); ++i) leaves.mutable_data()[i] = t->Leaf(i);
    return py::make_tuple(leaves, t->Total(), t->Min());
  }

 private:
  static std::string NumpyName(DType t) {
    for (const auto& [name, dtype] : DTypesByName()) {
      if (dtype == t) return name;
    }
    return "";
  }

  // Waits for `claim(slice, interrupts_seen)` in slices of at most 50 ms
  // with the GIL released, checking for Ctrl-C in between. timeout < 0: no
  // limit. False on timeout or on limiter.Interrupt().
  template <typename Claim>
  static bool Await(const RateLimiter& limiter, Claim claim, double timeout) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const uint64_t interrupts = limiter.interrupts();
    for (;;) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const double left = timeout < 0 ? 0.05 : std::min(0.05, timeout - elapsed);
      bool ok;
      {
        py::gil_scoped_release release;
        ok = claim(std::max(left, 0.0), interrupts);
      }
      if (ok) return true;
      if (limiter.interrupts() != interrupts || limiter.interrupted()) return false;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (timeout >= 0 && std::chrono::duration<double>(Clock::now() - start).count() >= timeout) return false;
    }
  }

  static void CheckPath(const std::string& path) {
    if (path.empty() || path.find('\0') != std::string::npos) {
      throw py::value_error("path: expected a non-empty file name without NUL characters");
    }
  }

  // I/O failures become OSError, bad file content ValueError.
  template <typename Fn>
  static void FileErrorsToPython(Fn fn) {
    try {
      fn();
    } catch (const FileIoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
      throw py::error_already_set();
    } catch (const BinaryFileError& e) {
      throw py::value_error(e.what());
    }
  }

  // Finite, >= 0, and (p + eps)^alpha neither overflowing the tree's sum
  // nor underflowing to 0 (which would make an item silently unsampleable).
  void CheckPriorities(const double* p, int64_t n) const {
    const ReplayConfig& c = buffer_.config();
    const double max_leaf = DBL_MAX / static_cast<double>(c.capacity);
    for (int64_t i = 0; i < n; ++i) {
      auto fail = [&](const std::string& why) {
        throw py::value_error("priorities[" + std::to_string(i) + "] = " + py::str(py::float_(p[i])).cast<std::string>() +
                              ": " + why);
      };
      if (!(p[i] >= 0) || !std::isfinite(p[i])) fail("expected a finite number >= 0");
      const double raw = p[i] + c.eps, leaf = std::pow(raw, c.alpha);
      if (!(leaf <= max_leaf)) fail("(priority + eps) ** alpha overflows the sum of priorities");
      if (raw > 0 && leaf == 0) fail("(priority + eps) ** alpha underflows to 0");
    }
  }

  static constexpr char kNativeOrder = std::endian::native == std::endian::little ? '<' : '>';

  const ReplayConfig user_config_;       // the fields as declared
  std::unique_ptr<FrameStacks> frames_;  // null unless frame_stack
  ReplayBuffer buffer_;
  std::vector<int> dtype_nums_;  // numpy type number of each declared field
};

}  // namespace

void BindReplay(py::module_& m) {
  m.def(
      "replay_bytes_for",
      [](int64_t capacity, const std::vector<FieldTuple>& fields, bool prioritized,
         const std::vector<std::string>& frame_stack, int64_t frame_capacity) {
        return BytesFor(MakeConfig(capacity, fields, prioritized, 0.6, 0.0, 0, std::nullopt),
                        FrameOptions{frame_stack, frame_capacity});
      },
      py::arg("capacity"), py::arg("fields"), py::arg("prioritized"),
      py::arg("frame_stack") = std::vector<std::string>{}, py::arg("frame_capacity") = 0,
      "Bytes a replay buffer of this configuration allocates.");

  py::class_<PyFrameWriter>(m, "FrameWriter", "One thread's memory of its streams' frames (see ReplayBuffer).");

  py::class_<PyReplay>(m, "ReplayCore", "Lock-free replay storage (use flockrl.ReplayBuffer/PrioritizedReplayBuffer).")
      .def(py::init([](int64_t capacity, const std::vector<FieldTuple>& fields, bool prioritized, double alpha,
                       double eps, uint64_t seed, const std::optional<LimiterTuple>& limiter,
                       const std::vector<std::string>& frame_stack, int64_t frame_capacity) {
             return std::make_unique<PyReplay>(capacity, fields, prioritized, alpha, eps, seed, limiter,
                                               FrameOptions{frame_stack, frame_capacity});
           }),
           py::arg("capacity"), py::arg("fields"), py::arg("prioritized"), py::arg("alpha"), py::arg("eps"),
           py::arg("seed"), py::arg("rate_limiter") = std::nullopt,
           py::arg("frame_stack") = std::vector<std::string>{}, py::arg("frame_capacity") = 0)
      .def("new_writer", &PyReplay::NewWriter, py::keep_alive<0, 1>())
      .def("add", &PyReplay::Add, py::arg("arrays"), py::arg("batch"), py::arg("priorities") = std::nullopt,
           py::arg("timeout") = -1.0, py::arg("lanes") = std::nullopt, py::arg("writer") = nullptr)
      .def("add_if_exact", &PyReplay::AddIfExact, py::arg("items"), py::arg("priorities") = std::nullopt,
           py::arg("timeout") = -1.0, py::arg("lanes") = std::nullopt, py::arg("writer") = nullptr)
      .def("sample", &PyReplay::Sample, py::arg("batch_size"), py::arg("beta"), py::arg("timeout") = -1.0,
           py::arg("with_masses") = false)
      .def("mass", &PyReplay::mass)
      .def("interrupt", &PyReplay::Interrupt)
      .def("save", &PyReplay::Save, py::arg("path"))
      .def("load", &PyReplay::Load, py::arg("path"))
      .def("update_priorities", &PyReplay::UpdatePriorities, py::arg("handles"), py::arg("priorities"))
      .def("tree_state", &PyReplay::tree_state)
      .def_property_readonly("size", &PyReplay::size)
      .def_property_readonly("capacity", &PyReplay::capacity)
      .def_property_readonly("max_priority", &PyReplay::max_priority)
      .def_property_readonly("nbytes", &PyReplay::nbytes)
      .def_property_readonly("stats", &PyReplay::stats);
}

}  // namespace flockrl::bindings
