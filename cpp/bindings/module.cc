// flockrl._core: the compiled module. One binding file per C++ core.
#include <pybind11/pybind11.h>

namespace flockrl::bindings {
void BindEnvs(pybind11::module_& m);
void BindReplay(pybind11::module_& m);
void BindParams(pybind11::module_& m);
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "flockrl's C++ cores (private; use the flockrl package)";
  flockrl::bindings::BindEnvs(m);
  flockrl::bindings::BindReplay(m);
  flockrl::bindings::BindParams(m);
}
