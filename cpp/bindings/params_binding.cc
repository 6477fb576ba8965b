// Bindings of the shared-memory parameter store. Tensors cross as raw
// addresses: the Python wrapper (flockrl/params.py) checks every tensor's
// dtype, shape, device and contiguity against the layout and keeps the
// tensors alive during the call; here we check the count and release the GIL
// for the copies.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "params/param_store.h"

namespace py = pybind11;

namespace flockrl::bindings {
namespace {

// (host_bytes, encoding) per tensor, in layout order.
using SlotTuple = std::tuple<uint64_t, int>;

ParamLayout MakeLayout(std::string description, const std::vector<SlotTuple>& slots) {
  ParamLayout layout(std::move(description));
  for (const auto& [bytes, encoding] : slots) {
    if (encoding < 0 || encoding > static_cast<int>(Encoding::kFloatAsHalf)) {
      throw py::value_error("encoding: expected 0 (raw), 1 (bfloat16) or 2 (float16), got " +
                            std::to_string(encoding));
    }
    layout.Add(bytes, static_cast<Encoding>(encoding));
  }
  return layout;
}

// ShmError family -> the Python exception a user would expect.
template <typename Fn>
auto ShmErrorsToPython(Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const ShmNotFoundError& e) {
    PyErr_SetString(PyExc_FileNotFoundError, e.what());
  } catch (const ShmInUseError& e) {
    PyErr_SetString(PyExc_FileExistsError, e.what());
  } catch (const ShmSystemError& e) {
    PyErr_SetString(PyExc_OSError, e.what());
  } catch (const ShmError& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  }
  throw py::error_already_set();
}

class PyParamStore {
 public:
  explicit PyParamStore(std::unique_ptr<ParamStore> store) : store_(std::move(store)) {}

  static PyParamStore Create(const std::string& name, std::string description, const std::vector<SlotTuple>& slots,
                             uint32_t num_buffers) {
    return ShmErrorsToPython([&] {
      return PyParamStore(ParamStore::Create(name, MakeLayout(std::move(description), slots), num_buffers));
    });
  }

  static PyParamStore Attach(const std::string& name, std::string description, const std::vector<SlotTuple>& slots) {
    return ShmErrorsToPython(
        [&] { return PyParamStore(ParamStore::Attach(name, MakeLayout(std::move(description), slots))); });
  }

  // The copies run without the GIL and hold their own reference, so a
  // close() from another thread cannot unmap the segment under them.
  uint64_t Publish(const std::vector<uintptr_t>& addresses) {
    const auto srcs = Pointers<const void*>(addresses);
    std::shared_ptr<ParamStore> store = store_;
    py::gil_scoped_release release;
    return store->Publish(srcs.data());
  }

  uint64_t Pull(const std::vector<uintptr_t>& addresses, uint64_t newer_than) {
    const auto dsts = Pointers<void*>(addresses);
    std::shared_ptr<ParamStore> store = store_;
    py::gil_scoped_release release;
    return store->Pull(dsts.data(), newer_than);
  }

  void Close() {
    if (store_) store_->Close();
    store_.reset();
  }

  ParamStore& store() const {
    if (!store_) throw py::value_error("the parameter store is closed");
    return *store_;
  }

 private:
  template <typename Ptr>
  std::vector<Ptr> Pointers(const std::vector<uintptr_t>& addresses) const {
    const std::size_t n = store().layout().slots().size();
    if (addresses.size() != n) {
      throw py::value_error("expected " + std::to_string(n) + " tensor addresses, got " +
                            std::to_string(addresses.size()));
    }
    std::vector<Ptr> out;
    out.reserve(n);
    for (uintptr_t a : addresses) {
      if (a == 0) throw py::value_error("tensor address is null");
      out.push_back(reinterpret_cast<Ptr>(a));
    }
    return out;
  }

  std::shared_ptr<ParamStore> store_;
};

}  // namespace

void BindParams(py::module_& m) {
  py::class_<PyParamStore>(m, "ParamStoreCore", "Shared-memory parameter store (use flockrl.ParamStore).")
      .def_static("create", &PyParamStore::Create, py::arg("name"), py::arg("description"), py::arg("slots"),
                  py::arg("num_buffers"))
      .def_static("attach", &PyParamStore::Attach, py::arg("name"), py::arg("description"), py::arg("slots"))
      .def_static(
          "read_description",
          [](const std::string& name) { return ShmErrorsToPython([&] { return ParamStore::ReadDescription(name); }); },
          py::arg("name"))
      .def_static(
          "reclaim_if_stale",
          [](const std::string& name) { return ShmErrorsToPython([&] { return ParamStore::ReclaimIfStale(name); }); },
          py::arg("name"))
      .def("publish", &PyParamStore::Publish, py::arg("addresses"))
      .def("pull", &PyParamStore::Pull, py::arg("addresses"), py::arg("newer_than"))
      .def("close", &PyParamStore::Close)
      .def_property_readonly("version", [](const PyParamStore& s) { return s.store().version(); })
      .def_property_readonly("is_owner", [](const PyParamStore& s) { return s.store().is_owner(); })
      .def_property_readonly("owner_alive", [](const PyParamStore& s) { return s.store().owner_alive(); })
      .def_property_readonly("owner_pid", [](const PyParamStore& s) { return s.store().owner_pid(); })
      .def_property_readonly("num_buffers", [](const PyParamStore& s) { return s.store().num_buffers(); })
      .def_property_readonly("segment_bytes", [](const PyParamStore& s) { return s.store().segment_bytes(); })
      .def_property_readonly("posix_name", [](const PyParamStore& s) { return s.store().posix_name(); })
      .def_property_readonly("retries", [](const PyParamStore& s) { return s.store().retries(); })
      .def_property(
          "copy_threads", [](const PyParamStore& s) { return s.store().copy_threads(); },
          [](PyParamStore& s, int threads) {
            if (threads < 1 || threads > 64) {
              throw py::value_error("copy_threads: expected an int from 1 to 64, got " + std::to_string(threads));
            }
            s.store().set_copy_threads(threads);
          });
}

}  // namespace flockrl::bindings
