// The pybind11 module gru_infer._core: converts types and releases the GIL, nothing else.
// Shapes are checked by the Python layer (gru_infer/model.py); here only that buffers are
// large enough, so a wrong call can never read or write out of bounds.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "runtime/checked_size.h"
#include "runtime/file_io.h"
#include "gru_infer/gru_infer.h"
#include "stream_api_table.h"
#include "stream_handle.h"

namespace py = pybind11;
using namespace gru_infer;

namespace {

// Arrays reach C++ C-contiguous and aligned to their element size: a contiguous but misaligned
// view (np.frombuffer(buf, offset=1)) is copied, never read through a misaligned pointer.
constexpr int kAligned = 0x0100;  // NPY_ARRAY_ALIGNED
using F32 = py::array_t<float, py::array::c_style | py::array::forcecast | kAligned>;
using I64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast | kAligned>;
// Threads beyond this gain nothing and could exhaust the process (predict starts one per chunk).
constexpr long long kMaxThreads = 1024;

bool is_aligned(const py::array& a) { return (a.flags() & kAligned) != 0; }
using Slots = py::array_t<std::size_t, py::array::c_style | py::array::forcecast | kAligned>;

// Ids are checked and then used by C++ running without the GIL, while the caller's array may be
// changed by another thread: check and use a copy of our own (an id changed after the check would
// give a zero row in a stream). Lengths and slots need none here: the core copies them itself
// (Model::predict, Stream::slots_valid), and get/set_slot_state bounds-check every slot.
template <typename A>
A owned_copy(const A& a) {
    if (!a) return a;
    return A(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()), a.data());  // no base: copies
}
template <typename A>
A owned_copy(py::handle x) { return owned_copy(A::ensure(x)); }

AlignedBuffer buffer(const F32& a) { return AlignedBuffer(a.data(), static_cast<std::size_t>(a.size())); }

F32 copy_out(const AlignedBuffer& b, std::vector<py::ssize_t> shape) {
    F32 out(shape);
    std::memcpy(out.mutable_data(), b.data(), b.size() * sizeof(float));
    return out;
}

void require(bool ok, const std::string& msg) {
    if (!ok) throw InvalidArgument(msg);
}

ActSpec act(const std::string& kind, float alpha, float beta) { return ActSpec{act_from_name(kind), alpha, beta}; }

py::dict act_dict(const ActSpec& a) {
    py::dict d;
    d["kind"] = act_name(a.kind);
    d["alpha"] = a.alpha;
    d["beta"] = a.beta;
    return d;
}

const char* const kDirections[] = {"forward", "reverse", "bidirectional"};
const char* const kMerges[] = {"concat", "sum", "mul", "ave"};

template <std::size_t N>
std::uint32_t index_of(const char* const (&names)[N], const std::string& s, const char* what) {
    for (std::size_t i = 0; i < N; ++i)
        if (s == names[i]) return static_cast<std::uint32_t>(i);
    throw InvalidArgument(std::string("unknown ") + what + " '" + s + "'");
}

// One dict per layer: kind, sizes, configuration and, if asked, copies of the weights (GRU
// weights are unpacked for that: not something to do on every load).
py::list describe(const Model& m, bool with_weights) {
    py::list out;
    for (const auto& l : m.layers()) {
        py::dict d;
        d["kind"] = layer_kind_name(l->kind());
        d["input_size"] = l->input_size();
        d["output_size"] = l->output_size();
        d["parameters"] = l->parameter_count();
        switch (l->kind()) {
            case LayerKind::Gru: {
                const auto& g = static_cast<const GruLayer&>(*l);
                const GruConfig& c = g.config();
                const auto H = static_cast<py::ssize_t>(c.hidden_size), I = static_cast<py::ssize_t>(c.input_size);
                d["hidden_size"] = c.hidden_size;
                d["direction"] = kDirections[static_cast<int>(c.direction)];
                d["linear_before_reset"] = c.linear_before_reset;
                d["has_bias"] = c.has_bias;
                d["gate_activation"] = act_dict(c.gate_activation);
                d["candidate_activation"] = act_dict(c.candidate_activation);
                d["clip"] = c.clip;
                d["merge_mode"] = kMerges[static_cast<int>(c.merge_mode)];
                d["return_sequences"] = c.return_sequences;
                d["reverse_output_in_processing_order"] = c.reverse_output_in_processing_order;
                d["weight_format"] = weight_format_name(g.weight_format());
                // fp32 for reduced-precision layers small enough to run faster on the fp32 kernels
                d["computes_in"] = weight_format_name(g.runs_quantized() ? g.weight_format() : WeightFormat::F32);
                d["batches_compute_in"] =
                    weight_format_name(g.runs_quantized_batches() ? g.weight_format() : WeightFormat::F32);
                if (!with_weights) break;
                py::list dirs;
                for (const auto& w : g.weights())
                    dirs.append(py::make_tuple(copy_out(w.W, {3 * H, I}), copy_out(w.R, {3 * H, H}),
                                               copy_out(w.bW, {3 * H}), copy_out(w.bR, {3 * H})));
                d["weights"] = dirs;
                d["initial_state"] = c.initial_state.empty()
                                         ? py::object(py::none())
                                         : py::object(copy_out(AlignedBuffer(c.initial_state.data(), c.initial_state.size()),
                                                               {static_cast<py::ssize_t>(c.num_directions()), H}));
                break;
            }
            case LayerKind::Dense: {
                const auto& x = static_cast<const DenseLayer&>(*l);
                d["weight_format"] = weight_format_name(x.weight_format());
                if (!with_weights) break;
                d["weight"] = copy_out(x.weight_fp32(), {static_cast<py::ssize_t>(x.output_size()),
                                                         static_cast<py::ssize_t>(x.input_size())});
                d["bias"] = copy_out(x.bias_fp32(), {static_cast<py::ssize_t>(x.output_size())});
                break;
            }
            case LayerKind::Activation:
                d["activation"] = act_dict(static_cast<const ActivationLayer&>(*l).activation());
                break;
            case LayerKind::Embedding: {
                const auto& e = static_cast<const EmbeddingLayer&>(*l);
                d["rows"] = e.num_embeddings();
                if (!with_weights) break;
                d["table"] = copy_out(e.table(), {static_cast<py::ssize_t>(e.num_embeddings()),
                                                  static_cast<py::ssize_t>(e.output_size())});
                break;
            }
            case LayerKind::LastStep: break;
            case LayerKind::InputSkip: {
                const auto& s = static_cast<const InputSkipLayer&>(*l);
                d["start"] = s.start();
                d["model_input_size"] = s.model_input_size();
                break;
            }
            case LayerKind::Affine: {
                const auto& a = static_cast<const AffineLayer&>(*l);
                if (!with_weights) break;
                const auto n = static_cast<py::ssize_t>(a.output_size());
                d["scale"] = copy_out(a.scale(), {n});
                d["shift"] = copy_out(a.shift(), {n});
                break;
            }
        }
        out.append(d);
    }
    return out;
}

py::tuple predict(const Model& m, py::object x, py::object lengths, py::object h0, bool want_state, bool fast) {
    PredictRequest req;
    req.fast_activations = fast;
    F32 xf;
    I64 ids, lens;
    F32 h0f;
    std::size_t B, T;
    if (m.takes_ids()) {
        ids = owned_copy<I64>(x);
        require(ids && ids.ndim() == 2, "ids must be a 2-d (batch, steps) integer array");
        B = ids.shape(0); T = ids.shape(1);
        req.ids = ids.data();
    } else {
        xf = F32::ensure(x);
        require(xf && xf.ndim() == 3 && static_cast<std::size_t>(xf.shape(2)) == m.input_size(),
                "x must be a 3-d (batch, steps, " + std::to_string(m.input_size()) + ") float array");
        B = xf.shape(0); T = xf.shape(1);
        req.x = xf.data();
    }
    req.batch = B;
    req.steps = T;
    m.check_sizes(B, T);  // before allocating the output
    if (!lengths.is_none()) {
        lens = I64::ensure(lengths);  // the core checks and uses its own copy (Model::predict)
        require(lens && static_cast<std::size_t>(lens.size()) == B, "lengths must have one entry per sequence");
        req.lengths = lens.data();
    }
    const std::size_t state_floats = B * m.state_size();
    if (!h0.is_none()) {
        h0f = F32::ensure(h0);
        require(h0f && static_cast<std::size_t>(h0f.size()) == state_floats,
                "h0 must hold " + std::to_string(state_floats) + " floats");
        req.h0 = h0f.data();
    }
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(B)};
    if (m.output_has_time()) shape.push_back(static_cast<py::ssize_t>(T));
    shape.push_back(static_cast<py::ssize_t>(m.output_size()));
    F32 y(shape);
    req.y = y.mutable_data();
    py::object hn = py::none();
    F32 hnf;
    if (want_state) {
        hnf = F32(std::vector<py::ssize_t>{static_cast<py::ssize_t>(state_floats)});
        req.hn = hnf.mutable_data();
        hn = hnf;
    }
    {
        py::gil_scoped_release release;
        m.predict(req);
    }
    return py::make_tuple(y, hn);
}

class PyStream {
public:
    PyStream(std::shared_ptr<Model> m, std::size_t batch, std::size_t max_block, bool fast)
        : s_(std::move(m), batch, max_block, fast) {
        const Model& model = s_.model();
        handle_.stream = &s_;
        handle_.step = [](void* s, const float* x, float* y) { static_cast<Stream*>(s)->step(x, y); };
        handle_.step_ids = [](void* s, const std::int64_t* ids, float* y) { static_cast<Stream*>(s)->step_ids(ids, y); };
        handle_.ids_valid = [](void* s, const std::int64_t* ids) {
            try { static_cast<Stream*>(s)->check_ids(ids); return 1; } catch (...) { return 0; }
        };
        handle_.run = [](void* s, std::size_t steps, const float* x, float* y) { static_cast<Stream*>(s)->run(steps, x, y); };
        handle_.step_slots = [](void* s, std::size_t n, const std::size_t* slots, const float* x, float* y) {
            static_cast<Stream*>(s)->step_slots(n, slots, x, y);
        };
        handle_.slots_valid = [](void* s, std::size_t n, const std::size_t* slots) {
            return static_cast<Stream*>(s)->slots_valid(n, slots) ? 1 : 0;
        };
        handle_.batch = batch;
        handle_.input_size = model.input_size();
        handle_.output_size = model.output_size();
        handle_.takes_ids = model.takes_ids();
        api_ = make_stream_api(s_);
    }
    // For the Cython fast path, which keeps this object alive while it uses the handle.
    py::capsule handle() { return py::capsule(&handle_, GRU_INFER_STREAM_CAPSULE); }
    // The public table (gru_infer/stream_api.h) for other people's C and Cython code.
    py::capsule api() { return py::capsule(&api_, GRU_INFER_STREAM_API_CAPSULE); }

    // x: (batch, input_size) floats or (batch,) ids; out: (batch, output_size), written and returned.
    F32 step(py::object x, py::object out) {
        const Model& m = s_.model();
        const std::size_t B = s_.batch(), O = m.output_size();
        F32 y = out.is_none() ? F32(std::vector<py::ssize_t>{static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(O)})
                              : out.cast<F32>();
        require(static_cast<std::size_t>(y.size()) == B * O && y.writeable() && is_aligned(y),
                "out must be a writable, aligned float32 C-contiguous array of " + std::to_string(B * O) + " values");
        // The output must be the caller's own buffer, not a converted copy.
        if (!out.is_none()) require(y.ptr() == out.ptr(), "out must be an aligned float32 C-contiguous numpy array");
        float* yp = y.mutable_data();
        if (m.takes_ids()) {
            I64 ids = owned_copy<I64>(x);
            require(ids && static_cast<std::size_t>(ids.size()) == B, "step takes one id per stream row");
            s_.check_ids(ids.data());
            py::gil_scoped_release release;
            s_.step_ids(ids.data(), yp);
        } else {
            F32 xf = F32::ensure(x);
            require(xf && static_cast<std::size_t>(xf.size()) == B * m.input_size(),
                    "step takes " + std::to_string(B * m.input_size()) + " input values");
            py::gil_scoped_release release;
            s_.step(xf.data(), yp);
        }
        return y;
    }
    void reset() { s_.reset(); }

    // A block, checked by the Python layer: x (batch, steps, input_size) floats or (batch, steps)
    // ids; out (batch, steps, output_size), written.
    void run(py::object x, py::object out_obj) {
        F32 out = caller_buffer(out_obj);
        const Model& m = s_.model();
        const std::size_t B = s_.batch();
        require(out.writeable() && out.size() % (B * m.output_size()) == 0, "out: wrong size");
        const std::size_t steps = static_cast<std::size_t>(out.size()) / (B * m.output_size());
        float* yp = out.mutable_data();
        if (m.takes_ids()) {
            I64 ids = owned_copy<I64>(x);
            require(ids && static_cast<std::size_t>(ids.size()) == B * steps, "run: ids do not match out");
            s_.check_ids(ids.data(), B * steps);
            py::gil_scoped_release release;
            s_.run_ids(steps, ids.data(), yp);
        } else {
            F32 xf = F32::ensure(x);
            require(xf && static_cast<std::size_t>(xf.size()) == B * steps * m.input_size(), "run: x does not match out");
            py::gil_scoped_release release;
            s_.run(steps, xf.data(), yp);
        }
    }
    // One step of some slots: x (n, input_size) floats or (n,) ids; out (n, output_size).
    // Slots: the core reads each once and keeps the checked copy (Stream::slots_valid), so the
    // caller's array is used as given here.
    void step_slots(const Slots& slots, py::object x, py::object out_obj) {
        F32 out = caller_buffer(out_obj);
        const Model& m = s_.model();
        const std::size_t n = static_cast<std::size_t>(slots.size());
        s_.check_slots(n, slots.data());
        require(out.writeable() && static_cast<std::size_t>(out.size()) == n * m.output_size(), "out: wrong size");
        float* yp = out.mutable_data();
        if (m.takes_ids()) {
            I64 ids = owned_copy<I64>(x);
            require(ids && static_cast<std::size_t>(ids.size()) == n, "step: one id per slot");
            s_.check_ids(ids.data(), n);
            py::gil_scoped_release release;
            s_.step_ids_slots(n, slots.data(), ids.data(), yp);
        } else {
            F32 xf = F32::ensure(x);
            require(xf && static_cast<std::size_t>(xf.size()) == n * m.input_size(), "step: x does not match slots");
            py::gil_scoped_release release;
            s_.step_slots(n, slots.data(), xf.data(), yp);
        }
    }
    void reset_slots(const Slots& slots) {
        s_.check_slots(static_cast<std::size_t>(slots.size()), slots.data());
        s_.reset_slots(static_cast<std::size_t>(slots.size()), slots.data());
    }
    // The state of some slots in the state layout of a batch of len(slots) (and back).
    F32 get_slot_states(const Slots& slots) const {
        const std::size_t n = static_cast<std::size_t>(slots.size()), S = s_.model().state_size();
        check_slot_range(slots);
        F32 out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n * S)});
        std::vector<float> one(S);
        for (std::size_t j = 0; j < n; ++j) {
            s_.get_slot_state(slots.data()[j], one.data());
            for_each_state_block([&](std::size_t off, std::size_t H) {
                std::memcpy(out.mutable_data() + off * n + j * H, one.data() + off, H * sizeof(float));
            });
        }
        return out;
    }
    void set_slot_states(const Slots& slots, const F32& v) {
        const std::size_t n = static_cast<std::size_t>(slots.size()), S = s_.model().state_size();
        s_.check_slots(n, slots.data());
        require(static_cast<std::size_t>(v.size()) == n * S, "state must hold " + std::to_string(n * S) + " floats");
        std::vector<float> one(S);
        for (std::size_t j = 0; j < n; ++j) {
            for_each_state_block([&](std::size_t off, std::size_t H) {
                std::memcpy(one.data() + off, v.data() + off * n + j * H, H * sizeof(float));
            });
            s_.set_slot_state(slots.data()[j], one.data());
        }
    }
    std::size_t max_block() const { return s_.max_block(); }
    F32 get_state() const {
        F32 out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(s_.state_floats())});
        if (s_.state_floats()) std::memcpy(out.mutable_data(), s_.state(), s_.state_floats() * sizeof(float));
        return out;
    }
    void set_state(const F32& v) {
        require(static_cast<std::size_t>(v.size()) == s_.state_floats(),
                "state must hold " + std::to_string(s_.state_floats()) + " floats");
        if (s_.state_floats()) std::memcpy(s_.state(), v.data(), s_.state_floats() * sizeof(float));
    }
    std::size_t batch() const { return s_.batch(); }

private:
    // The output must be the caller's own float32 C-contiguous buffer, not a converted copy.
    static F32 caller_buffer(py::object out) {
        F32 y = out.cast<F32>();
        require(y.ptr() == out.ptr(), "out must be a float32 C-contiguous numpy array");
        return y;
    }
    void check_slot_range(const Slots& slots) const {
        for (py::ssize_t j = 0; j < slots.size(); ++j)
            require(slots.data()[j] < s_.batch(), "slot " + std::to_string(slots.data()[j]) + " is outside [0, " +
                                                      std::to_string(s_.batch()) + ")");
    }
    // f(offset, size) per layer's state block, offsets within one row's state (a stream's GRU
    // layers are forward-only: one (1, batch, H) block each).
    template <typename F>
    void for_each_state_block(F&& f) const {
        std::size_t off = 0;
        for (const auto& l : s_.model().layers())
            if (const std::size_t H = l->state_size()) { f(off, H); off += H; }
    }

    Stream s_;
    gru_infer_stream_handle handle_{};
    gru_infer_stream_api api_{};
};

}  // namespace

// setup.py passes the [project] version of pyproject.toml as -DVERSION_INFO=0.2.0.
#define GRU_INFER_STRINGIFY(x) #x
#define GRU_INFER_MACRO_STRINGIFY(x) GRU_INFER_STRINGIFY(x)

PYBIND11_MODULE(_core, mod) {
    mod.doc() = "gru_infer C++ core (see gru_infer.Model for the Python API)";
#ifdef VERSION_INFO
    mod.attr("__version__") = GRU_INFER_MACRO_STRINGIFY(VERSION_INFO);
#else
    mod.attr("__version__") = "dev";
#endif
    py::register_exception<FormatError>(mod, "ModelFormatError", PyExc_ValueError);
    // A file that cannot be read or written: OSError(errno, message, path), so Python picks the
    // subclass (FileNotFoundError, PermissionError, ...) from the errno as for its own files.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const FileError& e) {
            const std::string message = e.action() + ": " + e.code().message();
            py::object err = py::module_::import("builtins").attr("OSError")(e.code().value(), message, e.path());
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
        }
    });

    py::class_<Model, std::shared_ptr<Model>>(mod, "Model")
        .def(py::init<>())
        .def("add_gru",
             [](Model& m, std::size_t I, std::size_t H, const std::string& direction, bool lbr, bool has_bias,
                const std::string& f, float fa, float fb, const std::string& g, float ga, float gb, float clip,
                const std::string& merge, bool return_sequences, bool processing_order,
                const std::vector<std::tuple<F32, F32, F32, F32>>& dirs, const std::optional<F32>& initial_state) {
                 // The layer checks its weights' sizes against 3 * H * I: keep that product exact.
                 require(I >= 1 && I <= kMaxLayerWidth && H >= 1 && H <= kMaxLayerWidth,
                         "GRU sizes must be in [1, " + std::to_string(kMaxLayerWidth) + "], got input_size=" +
                             std::to_string(I) + ", hidden_size=" + std::to_string(H));
                 GruConfig c;
                 c.input_size = I; c.hidden_size = H;
                 c.direction = static_cast<GruDirection>(index_of(kDirections, direction, "GRU direction"));
                 c.linear_before_reset = lbr; c.has_bias = has_bias;
                 c.gate_activation = act(f, fa, fb);
                 c.candidate_activation = act(g, ga, gb);
                 c.clip = clip;
                 c.merge_mode = static_cast<MergeMode>(index_of(kMerges, merge, "merge mode"));
                 c.return_sequences = return_sequences;
                 c.reverse_output_in_processing_order = processing_order;
                 if (initial_state) c.initial_state.assign(initial_state->data(), initial_state->data() + initial_state->size());
                 std::vector<GruWeights> w;
                 for (const auto& d : dirs)
                     w.push_back(GruWeights{buffer(std::get<0>(d)), buffer(std::get<1>(d)),
                                            buffer(std::get<2>(d)), buffer(std::get<3>(d))});
                 m.add(std::make_unique<GruLayer>(c, std::move(w)));
             })
        .def("add_dense",
             [](Model& m, const F32& W, const F32& b) {
                 require(W.ndim() == 2, "Dense weight must be 2-d (out, in)");
                 m.add(std::make_unique<DenseLayer>(W.shape(1), W.shape(0), buffer(W), buffer(b)));
             })
        .def("add_activation",
             [](Model& m, std::size_t n, const std::string& kind, float alpha, float beta) {
                 m.add(std::make_unique<ActivationLayer>(n, act(kind, alpha, beta)));
             })
        .def("add_embedding",
             [](Model& m, const F32& table) {
                 require(table.ndim() == 2, "Embedding table must be 2-d (rows, dim)");
                 m.add(std::make_unique<EmbeddingLayer>(table.shape(0), table.shape(1), buffer(table)));
             })
        .def("add_last_step", [](Model& m, std::size_t n) { m.add(std::make_unique<LastStepLayer>(n)); })
        .def("add_input_skip",
             [](Model& m, std::size_t n, std::size_t start) {
                 const std::size_t model_in = m.layers().empty() ? n : m.input_size();
                 m.add(std::make_unique<InputSkipLayer>(n, start, model_in));
             })
        .def("add_affine",
             [](Model& m, const F32& scale, const F32& shift) {
                 require(scale.ndim() == 1 && shift.ndim() == 1 && scale.size() == shift.size(),
                         "Affine scale and shift must be 1-d arrays of the same length");
                 m.add(std::make_unique<AffineLayer>(scale.size(), buffer(scale), buffer(shift)));
             })
        .def_readwrite("source", &Model::source)
        .def_property_readonly("input_size", &Model::input_size)
        .def_property_readonly("output_size", &Model::output_size)
        .def_property_readonly("output_has_time", &Model::output_has_time)
        .def_property_readonly("takes_ids", &Model::takes_ids)
        .def_property_readonly("state_size", &Model::state_size)
        .def_property_readonly("max_stream_batch", [](const Model& m) { return Stream::max_batch(m); })
        .def_property_readonly("max_batch_steps", &Model::max_batch_steps)
        .def("describe", &describe, py::arg("with_weights") = true)
        .def("predict", &predict, py::arg("x"), py::arg("lengths"), py::arg("h0"), py::arg("want_state"),
             py::arg("fast_activations") = false)
        .def("quantize",
             [](const Model& m, const std::string& kind, const std::vector<std::size_t>& keep_fp32,
                const std::vector<float>& input_scales) {
                 QuantizeOptions o;
                 o.keep_fp32 = keep_fp32;
                 o.input_scales = input_scales;
                 const WeightFormat f = parse_weight_format(kind);
                 py::gil_scoped_release r;
                 return m.quantize(f, o);
             })
        .def("layer_input_absmax",
             [](const Model& m, py::object x) {
                 F32 xf;
                 I64 ids;
                 std::size_t B, T;
                 if (m.takes_ids()) {
                     ids = owned_copy<I64>(x);
                     require(ids && ids.ndim() == 2, "ids must be a 2-d (batch, steps) integer array");
                     B = ids.shape(0); T = ids.shape(1);
                 } else {
                     xf = F32::ensure(x);
                     require(xf && xf.ndim() == 3 && static_cast<std::size_t>(xf.shape(2)) == m.input_size(),
                             "x must be a 3-d (batch, steps, " + std::to_string(m.input_size()) + ") float array");
                     B = xf.shape(0); T = xf.shape(1);
                 }
                 py::gil_scoped_release r;
                 const bool by_id = m.takes_ids();
                 return m.layer_input_absmax(by_id ? nullptr : xf.data(), by_id ? ids.data() : nullptr, B, T);
             })
        .def("save", [](const Model& m, const std::string& path) { py::gil_scoped_release r; save_model(m, path); })
        .def("serialize",
             [](const Model& m) {
                 auto b = serialize_model(m);
                 return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
             })
        .def_static("load", [](const std::string& path) { py::gil_scoped_release r; return load_model(path); })
        .def_static("from_bytes", [](py::buffer data) {  // bytes, bytearray, a 1-d byte memoryview
            py::buffer_info b = data.request();
            require(b.ndim == 1 && b.itemsize == 1 && b.strides[0] == 1,
                    "model bytes must be a contiguous 1-d buffer of bytes");
            py::gil_scoped_release r;
            return load_model_from_memory(b.ptr, static_cast<std::size_t>(b.size));
        });

    py::class_<PyStream>(mod, "Stream")
        .def(py::init<std::shared_ptr<Model>, std::size_t, std::size_t, bool>(), py::arg("model"), py::arg("batch"),
             py::arg("max_block") = 0, py::arg("fast_activations") = false)
        .def("step", &PyStream::step, py::arg("x"), py::arg("out") = py::none())
        .def("run", &PyStream::run, py::arg("x"), py::arg("out"))
        .def("step_slots", &PyStream::step_slots, py::arg("slots"), py::arg("x"), py::arg("out"))
        .def("reset_slots", &PyStream::reset_slots, py::arg("slots"))
        .def("get_slot_states", &PyStream::get_slot_states, py::arg("slots"))
        .def("set_slot_states", &PyStream::set_slot_states, py::arg("slots"), py::arg("state"))
        .def_property_readonly("max_block", &PyStream::max_block)
        .def("reset", &PyStream::reset)
        .def_property("state", &PyStream::get_state, &PyStream::set_state)
        .def_property_readonly("batch", &PyStream::batch)
        .def("_handle", &PyStream::handle)
        .def("_api", &PyStream::api);

    mod.def("write_file", [](const std::string& path, py::bytes data) {
        const std::string bytes = data;  // a copy of our own, written without the GIL
        py::gil_scoped_release r;
        write_file_atomically(path, bytes.data(), bytes.size());
    }, py::arg("path"), py::arg("data"), "Write bytes atomically (temporary file, fsync, rename): OSError on failure");
    mod.def("available_isas", &available_isas);
    mod.def("active_isa", [] { return std::string(active_isa()); });
    mod.def("set_isa", &set_isa);
    mod.def("set_num_threads", [](py::handle n) {
        const std::string want = "set_num_threads: expected an integer in [0, " + std::to_string(kMaxThreads) +
                                 "] (0 = one per core), got ";
        long long v = -1;
        int overflow = 0;
        if (!py::isinstance<py::bool_>(n) && PyIndex_Check(n.ptr())) {
            py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(n.ptr()));
            if (!i) throw py::error_already_set();
            v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
        }
        if (overflow || v < 0 || v > kMaxThreads) throw InvalidArgument(want + py::repr(n).cast<std::string>());
        set_num_threads(static_cast<std::size_t>(v));
    }, py::arg("n"));
    mod.def("get_num_threads", &get_num_threads);
}
