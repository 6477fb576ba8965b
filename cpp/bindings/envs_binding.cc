// Bindings of the batched env stepper. Every call follows the same three
// steps: with the GIL held, validate inputs and allocate outputs; release the
// GIL and run the C++ kernel; with the GIL held again, return the results.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "envs/vec_env.h"

namespace py = pybind11;

namespace flockrl::bindings {
namespace {

// The shape as Python prints it: (3,), (4, 1).
std::string ShapeString(const py::array& a) { return py::str(a.attr("shape")).cast<std::string>(); }

std::string DtypeString(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// One set of output arrays; copy=False keeps two and alternates between them.
struct OutputArrays {
  py::array_t<float> obs;
  py::array_t<double> rewards;
  py::array_t<bool> terminations, truncations;
  py::array_t<float> final_obs;  // SAME_STEP only
  py::array_t<bool> final_mask;  // SAME_STEP only
  bool same_step;

  OutputArrays(int64_t n, int obs_dim, bool same_step_mode)
      : obs({n, static_cast<int64_t>(obs_dim)}), rewards(n), terminations(n), truncations(n),
        same_step(same_step_mode) {
    if (same_step) {
      final_obs = py::array_t<float>({n, static_cast<int64_t>(obs_dim)});
      final_mask = py::array_t<bool>(n);
    }
  }

  StepOutputs Pointers() {
    StepOutputs out;
    out.obs = obs.mutable_data();
    out.rewards = rewards.mutable_data();
    out.terminations = terminations.mutable_data();
    out.truncations = truncations.mutable_data();
    if (same_step) {
      out.final_obs = final_obs.mutable_data();
      out.final_mask = final_mask.mutable_data();
    }
    return out;
  }
};

class PyVecEnv {
 public:
  PyVecEnv(const std::string& env_id, int64_t num_envs, int num_threads, int autoreset_mode, bool copy,
           int64_t max_episode_steps)
      : copy_(copy) {
    if (max_episode_steps < 0) {
      throw py::value_error("max_episode_steps: expected an int >= 1 (or 0 for the env's default), got " +
                            std::to_string(max_episode_steps));
    }
    if (num_envs < 1) throw py::value_error("num_envs: expected an int >= 1, got " + std::to_string(num_envs));
    if (num_threads < 1) {
      throw py::value_error("num_threads: expected an int >= 1, got " + std::to_string(num_threads));
    }
    if (autoreset_mode < 0 || autoreset_mode > 2) {
      throw py::value_error("autoreset_mode: expected 0 (NEXT_STEP), 1 (SAME_STEP) or 2 (DISABLED), got " +
                            std::to_string(autoreset_mode));
    }
    env_ = MakeNativeVecEnv(env_id, num_envs, num_threads, static_cast<AutoresetMode>(autoreset_mode),
                            max_episode_steps);
    if (!env_) {
      std::string ids;
      for (const EnvSpec* s : NativeEnvSpecs()) ids += (ids.empty() ? "" : ", ") + s->id;
      throw py::value_error("env_id: expected a native env id (" + ids + "), got '" + env_id + "'");
    }
    const bool discrete = env_->spec().discrete_actions;
    const std::size_t action_bytes = discrete ? sizeof(int64_t) : sizeof(float);
    actions_.resize(static_cast<std::size_t>(num_envs * env_->action_dim()) * action_bytes);
    if (!copy_) {
      for (auto& b : buffers_) b.emplace(num_envs, env_->obs_dim(), SameStep());
    }
  }

  // A step in flight reads actions_ and writes the output buffers: wait for
  // it before they are freed.
  ~PyVecEnv() {
    if (pending_ && env_) {
      py::gil_scoped_release release;
      env_->WaitStep();
    }
  }

  int64_t num_envs() const { return env().num_envs(); }

  // Resets the envs in `mask` (all if None) after reseeding those of them
  // that have a seed: `seeds` is None, a uint64 array of one seed per env,
  // or a list with, per env, the seed's 32-bit words (least significant
  // first) or None. Validates everything before changing anything.
  py::array Reset(const std::optional<py::array>& mask, const py::object& seeds) {
    CheckUsable("reset");
    Busy busy(this);
    const bool* mask_ptr = nullptr;
    py::array_t<bool> mask_arr;
    if (mask) {
      if (!was_reset_) throw py::value_error("reset: the first reset() must reset every env (no reset_mask)");
      if (mask->dtype().kind() != 'b') {
        throw py::type_error("reset_mask: expected dtype bool, got " + DtypeString(*mask));
      }
      if (mask->ndim() != 1 || mask->shape(0) != num_envs()) {
        throw py::value_error("reset_mask: expected shape (" + std::to_string(num_envs()) + ",), got " +
                              ShapeString(*mask));
      }
      mask_arr = py::array_t<bool, py::array::c_style | py::array::forcecast>(*mask);
      mask_ptr = mask_arr.data();
    }
    std::vector<std::optional<SeedSequence>> seqs = SeedSequences(seeds);
    OutputArrays& out = NextOutputs();
    float* obs = out.obs.mutable_data();
    {
      py::gil_scoped_release release;
      for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i] && (mask_ptr == nullptr || mask_ptr[i])) env_->Seed(static_cast<int64_t>(i), *seqs[i]);
      }
      env_->Reset(mask_ptr, obs);
    }
    was_reset_ = true;
    return out.obs;
  }

  py::tuple Step(const py::handle& actions) {
    CheckUsable("step");
    Busy busy(this);  // before anything that can run Python code and switch threads
    CheckWasReset("step");
    LoadActions(actions);
    OutputArrays& out = NextOutputs();
    const StepOutputs ptrs = out.Pointers();
    {
      py::gil_scoped_release release;
      env_->Step(actions_.data(), ptrs);
    }
    return Results(out);
  }

  void StepAsync(const py::handle& actions) {
    CheckUsable("step_async");
    Busy busy(this);
    CheckWasReset("step_async");
    LoadActions(actions);
    OutputArrays& out = NextOutputs();
    env_->StartStep(actions_.data(), out.Pointers());
    pending_ = &out;  // from here on every other call is refused until step_wait
  }

  py::tuple StepWait() {
    if (closed_) throw py::value_error("step_wait: this VecEnv is closed");
    if (busy_) throw py::value_error("step_wait: another thread is inside this VecEnv; use one VecEnv per thread");
    if (!pending_) throw py::value_error("step_wait: no step in flight; call step_async(actions) first");
    Busy busy(this);
    {
      py::gil_scoped_release release;
      env_->WaitStep();
    }
    OutputArrays& out = *pending_;
    pending_ = nullptr;
    return Results(out);
  }

  void Close() {
    if (closed_) return;
    if (busy_) throw py::value_error("close: another thread is inside this VecEnv");
    {
      Busy busy(this);
      if (pending_) {
        py::gil_scoped_release release;
        env_->WaitStep();
      }
    }
    pending_ = nullptr;
    closed_ = true;
    env_.reset();
    for (auto& b : buffers_) b.reset();
    last_.reset();
  }

  bool closed() const { return closed_; }
  const VecEnv& env() const {
    if (closed_) throw py::value_error("this VecEnv is closed");
    return *env_;
  }

 private:
  // Marks a call in progress while the GIL is released, so that a second
  // Python thread calling into the same VecEnv gets an error, not a race.
  struct Busy {
    explicit Busy(PyVecEnv* self) : self_(self) { self_->busy_ = true; }
    ~Busy() { self_->busy_ = false; }
    PyVecEnv* self_;
  };

  bool SameStep() const { return env_->autoreset_mode() == AutoresetMode::kSameStep; }

  void CheckUsable(const char* what) const {
    if (closed_) throw py::value_error(std::string(what) + ": this VecEnv is closed");
    if (busy_) {
      throw py::value_error(std::string(what) +
                            ": another thread is inside this VecEnv; use one VecEnv per thread");
    }
    if (pending_) {
      throw py::value_error(std::string(what) + ": a step_async() is in flight; call step_wait() first");
    }
  }

  std::vector<std::optional<SeedSequence>> SeedSequences(const py::object& seeds) const {
    const auto n = static_cast<std::size_t>(num_envs());
    std::vector<std::optional<SeedSequence>> seqs(n);
    if (seeds.is_none()) return seqs;
    if (py::isinstance<py::array>(seeds)) {
      const auto arr = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>(seeds);
      if (arr.ndim() != 1 || static_cast<std::size_t>(arr.shape(0)) != n) {
        throw py::value_error("seed: expected " + std::to_string(n) + " seeds, got shape " + ShapeString(arr));
      }
      for (std::size_t i = 0; i < n; ++i) seqs[i].emplace(SeedSequence::WordsOf(arr.data()[i]));
      return seqs;
    }
    const auto words = seeds.cast<std::vector<std::optional<std::vector<uint32_t>>>>();
    if (words.size() != n) {
      throw py::value_error("seed: expected " + std::to_string(n) + " seeds, got " + std::to_string(words.size()));
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (words[i]) seqs[i].emplace(*words[i]);
    }
    return seqs;
  }

  void CheckWasReset(const char* what) const {
    if (!was_reset_) throw py::value_error(std::string(what) + ": call reset() before the first step");
  }

  OutputArrays& NextOutputs() {
    if (copy_) {
      last_.emplace(num_envs(), env_->obs_dim(), SameStep());
      return *last_;
    }
    flip_ ^= 1;
    return *buffers_[flip_];
  }

  // Converts, validates and copies the actions into actions_, so the step
  // never reads memory Python code could change while the GIL is released.
  void LoadActions(const py::handle& actions) {
    const EnvSpec& spec = env_->spec();
    const int64_t n = num_envs();
    py::array arr = py::array::ensure(actions);
    if (!arr) {
      throw py::type_error("actions: expected a numpy array, got " +
                           py::str(py::type::of(actions).attr("__name__")).cast<std::string>());
    }
    const char kind = arr.dtype().kind();
    if (spec.discrete_actions) {
      if (kind != 'i' && kind != 'u') {
        throw py::type_error("actions: expected an integer array for Discrete(" + std::to_string(spec.num_actions) +
                             ") actions, got dtype " + DtypeString(arr));
      }
      if (arr.ndim() != 1 || arr.shape(0) != n) {
        throw py::value_error("actions: expected shape (" + std::to_string(n) + ",), got " + ShapeString(arr));
      }
      if (kind == 'u' && arr.itemsize() == 8) {  // values past INT64_MAX would wrap in the cast
        const auto u = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>(arr);
        for (int64_t i = 0; i < n; ++i) {
          if (u.data()[i] >= static_cast<uint64_t>(spec.num_actions)) {
            throw py::value_error("actions[" + std::to_string(i) + "] = " + std::to_string(u.data()[i]) +
                                  ": expected an action of Discrete(" + std::to_string(spec.num_actions) + ")");
          }
        }
      }
      const auto typed = py::array_t<int64_t, py::array::c_style | py::array::forcecast>(arr);
      std::memcpy(actions_.data(), typed.data(), static_cast<std::size_t>(n) * sizeof(int64_t));
    } else {
      // float32 only: gymnasium would compute in float64 for float64 actions,
      // so casting them would silently change the trajectory.
      if (kind != 'f' || arr.itemsize() != 4) {
        throw py::type_error("actions: expected a float32 array for " + spec.id +
                             "'s Box(float32) actions (cast with .astype(np.float32)), got dtype " + DtypeString(arr));
      }
      const int64_t dim = env_->action_dim();
      if (arr.ndim() != 2 || arr.shape(0) != n || arr.shape(1) != dim) {
        throw py::value_error("actions: expected shape (" + std::to_string(n) + ", " + std::to_string(dim) +
                              "), got " + ShapeString(arr));
      }
      const auto typed = py::array_t<float, py::array::c_style | py::array::forcecast>(arr);
      std::memcpy(actions_.data(), typed.data(), static_cast<std::size_t>(n * dim) * sizeof(float));
    }
    const int64_t bad = env_->FirstInvalidAction(actions_.data());
    if (bad >= 0) throw py::value_error(InvalidActionMessage(bad));
    if (env_->autoreset_mode() == AutoresetMode::kDisabled) {
      const int64_t stale = env_->FirstEnvNeedingReset();
      if (stale >= 0) {
        throw py::value_error("step: env " + std::to_string(stale) +
                              "'s episode has ended; with autoreset_mode=DISABLED reset it first "
                              "(reset(options={'reset_mask': mask}))");
      }
    }
  }

  std::string InvalidActionMessage(int64_t i) const {
    const EnvSpec& spec = env_->spec();
    std::ostringstream s;
    if (spec.discrete_actions) {
      const int64_t value = reinterpret_cast<const int64_t*>(actions_.data())[i];
      s << "actions[" << i << "] = " << value << ": expected an action of Discrete(" << spec.num_actions
        << ") for " << spec.id << ", i.e. 0 to " << spec.num_actions - 1;
    } else {
      const float* a = reinterpret_cast<const float*>(actions_.data()) + i * env_->action_dim();
      s << "actions[" << i << "] = [";
      for (int d = 0; d < env_->action_dim(); ++d) s << (d ? ", " : "") << a[d];
      s << "]: expected finite values for " << spec.id << "'s Box action";
    }
    return s.str();
  }

  py::tuple Results(OutputArrays& out) {
    py::dict infos;
    if (out.same_step) {
      infos["final_obs"] = out.final_obs;
      infos["_final_obs"] = out.final_mask;
      infos["final_info"] = py::dict();
      infos["_final_info"] = out.final_mask;
    }
    return py::make_tuple(out.obs, out.rewards, out.terminations, out.truncations, infos);
  }

  std::unique_ptr<VecEnv> env_;
  bool copy_;
  std::vector<unsigned char> actions_;
  std::optional<OutputArrays> buffers_[2];
  std::optional<OutputArrays> last_;  // copy=True: the arrays of the latest call
  OutputArrays* pending_ = nullptr;
  int flip_ = 0;
  bool closed_ = false;
  bool busy_ = false;
  bool was_reset_ = false;
};

py::dict SpecDict(const EnvSpec& s) {
  py::dict d;
  d["id"] = s.id;
  d["max_episode_steps"] = s.max_episode_steps;
  d["reward_threshold"] = s.has_reward_threshold ? py::object(py::float_(s.reward_threshold)) : py::none();
  d["obs_low"] = py::array_t<float>(static_cast<py::ssize_t>(s.obs_low.size()), s.obs_low.data());
  d["obs_high"] = py::array_t<float>(static_cast<py::ssize_t>(s.obs_high.size()), s.obs_high.data());
  d["discrete_actions"] = s.discrete_actions;
  d["num_actions"] = s.num_actions;
  d["action_low"] = py::array_t<float>(static_cast<py::ssize_t>(s.action_low.size()), s.action_low.data());
  d["action_high"] = py::array_t<float>(static_cast<py::ssize_t>(s.action_high.size()), s.action_high.data());
  return d;
}

}  // namespace

void BindEnvs(py::module_& m) {
  m.def(
      "native_env_specs",
      [] {
        py::list out;
        for (const EnvSpec* s : NativeEnvSpecs()) out.append(SpecDict(*s));
        return out;
      },
      "Specs (spaces, time limit, reward threshold) of the native envs.");

  py::class_<PyVecEnv>(m, "VecEnvCore", "N native envs stepped together in C++ (use flockrl.make_vec).")
      .def(py::init<const std::string&, int64_t, int, int, bool, int64_t>(), py::arg("env_id"), py::arg("num_envs"),
           py::arg("num_threads"), py::arg("autoreset_mode"), py::arg("copy"), py::arg("max_episode_steps") = 0)
      .def("reset", &PyVecEnv::Reset, py::arg("mask") = std::nullopt, py::arg("seeds") = py::none(),
           "Reseed (where seeds has a seed) and reset the envs in mask (all if None); returns every env's "
           "observation. seeds: None, a uint64 array, or per env a list of 32-bit words or None.")
      .def("step", &PyVecEnv::Step, py::arg("actions"),
           "Step every env; returns (obs, rewards, terminations, truncations, infos).")
      .def("step_async", &PyVecEnv::StepAsync, py::arg("actions"),
           "Start a step on background threads and return at once.")
      .def("step_wait", &PyVecEnv::StepWait, "Wait for the step started by step_async and return its results.")
      .def("close", &PyVecEnv::Close)
      .def_property_readonly("closed", &PyVecEnv::closed)
      .def_property_readonly("num_envs", &PyVecEnv::num_envs)
      .def_property_readonly("num_threads", [](const PyVecEnv& v) { return v.env().num_threads(); })
      .def_property_readonly("max_episode_steps", [](const PyVecEnv& v) { return v.env().max_episode_steps(); })
      .def_property_readonly("spec", [](const PyVecEnv& v) { return SpecDict(v.env().spec()); });
}

}  // namespace flockrl::bindings
