// Real-time safety of streams: once a stream exists, step / step_ids / run / run_ids / the slot
// calls / reset / state access (C++ and C API) allocate nothing and cannot throw. Every allocation function of this process is
// replaced by a counting one: operator new in all its forms and, on glibc, the malloc family
// (forwarded to glibc's own entry points). Models cover every layer kind: GRU (both formulations,
// return_sequences false too), Dense, Activation (every kind, softmax included), Embedding,
// LastStep, InputSkip, Affine. Also prints the heap a loaded model and a stream take, against the weight bytes.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

#include "gru_infer/c_api.h"
#include "gru_infer/gru_infer.h"
#include "test_util.h"

using namespace gru_infer;

static_assert(noexcept(std::declval<Stream&>().step(nullptr, nullptr)), "Stream::step must be noexcept");
static_assert(noexcept(std::declval<Stream&>().step_ids(nullptr, nullptr)), "Stream::step_ids must be noexcept");
static_assert(noexcept(std::declval<Stream&>().reset()), "Stream::reset must be noexcept");
static_assert(noexcept(std::declval<Stream&>().run(0, nullptr, nullptr)), "Stream::run must be noexcept");
static_assert(noexcept(std::declval<Stream&>().step_slots(0, nullptr, nullptr, nullptr)), "step_slots must be noexcept");
static_assert(noexcept(gru_infer_stream_step(nullptr, nullptr, nullptr)), "C API functions are noexcept");
static_assert(noexcept(gru_infer_stream_step_ids(nullptr, nullptr, nullptr)), "C API functions are noexcept");

// ---- counting allocator ----------------------------------------------------------------------

namespace {
std::atomic<long> g_allocations{0};
long allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace

#if defined(__GLIBC__)
extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) noexcept { ++g_allocations; return __libc_malloc(n); }
void free(void* p) noexcept { __libc_free(p); }
void* calloc(std::size_t n, std::size_t size) noexcept { ++g_allocations; return __libc_calloc(n, size); }
void* realloc(void* p, std::size_t n) noexcept { ++g_allocations; return __libc_realloc(p, n); }
void* memalign(std::size_t align, std::size_t n) noexcept { ++g_allocations; return __libc_memalign(align, n); }
void* aligned_alloc(std::size_t align, std::size_t n) noexcept { ++g_allocations; return __libc_memalign(align, n); }
void* valloc(std::size_t n) noexcept {
    ++g_allocations;
    return __libc_memalign(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), n);
}
void* pvalloc(std::size_t n) noexcept {
    ++g_allocations;
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return __libc_memalign(page, (n + page - 1) / page * page);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
    ++g_allocations;
    if (align % sizeof(void*) != 0 || (align & (align - 1)) != 0) return EINVAL;
    void* p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
}  // extern "C"

namespace {
void* raw_alloc(std::size_t n, std::size_t align) {
    return align > alignof(std::max_align_t) ? __libc_memalign(align, n ? n : 1) : __libc_malloc(n ? n : 1);
}
void raw_free(void* p) { __libc_free(p); }
}  // namespace
#else
namespace {
void* raw_alloc(std::size_t n, std::size_t align) {
    if (align <= alignof(std::max_align_t)) return std::malloc(n ? n : 1);
    return std::aligned_alloc(align, (std::max<std::size_t>(n, 1) + align - 1) / align * align);
}
void raw_free(void* p) { std::free(p); }
}  // namespace
#endif

namespace {
void* counted_new(std::size_t n, std::size_t align = 0) {
    ++g_allocations;
    if (void* p = raw_alloc(n, align)) return p;
    throw std::bad_alloc();
}
void* counted_new_nothrow(std::size_t n, std::size_t align = 0) noexcept {
    ++g_allocations;
    return raw_alloc(n, align);
}
}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_new_nothrow(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_new_nothrow(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_new_nothrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_new_nothrow(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { raw_free(p); }
void operator delete[](void* p) noexcept { raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }

// ---- models with every layer kind ----------------------------------------------------------------

namespace {

constexpr long kSteps = 100000;

AlignedBuffer random_buffer(std::mt19937& rng, std::size_t n, float scale) {
    auto v = test::random_vec(rng, n, scale);
    return AlignedBuffer(v.data(), v.size());
}

std::unique_ptr<Layer> gru(std::mt19937& rng, std::size_t in, std::size_t hidden, bool lbr,
                           bool return_sequences = true) {
    GruConfig c;
    c.input_size = in;
    c.hidden_size = hidden;
    c.linear_before_reset = lbr;
    c.return_sequences = return_sequences;
    if (!lbr) {  // the other formulation with ONNX-style options
        c.clip = 2.5f;
        c.gate_activation = ActSpec{ActKind::HardSigmoid, 0.2f, 0.5f};
        c.candidate_activation = ActSpec{ActKind::Softsign};
    }
    const float s = 1.0f / std::sqrt(static_cast<float>(hidden));
    std::vector<GruWeights> w(1);
    w[0].W = random_buffer(rng, 3 * hidden * in, s);
    w[0].R = random_buffer(rng, 3 * hidden * hidden, s);
    w[0].bW = random_buffer(rng, 3 * hidden, s);
    w[0].bR = random_buffer(rng, 3 * hidden, s);
    return std::make_unique<GruLayer>(c, std::move(w));
}

std::unique_ptr<Layer> dense(std::mt19937& rng, std::size_t in, std::size_t out) {
    return std::make_unique<DenseLayer>(in, out, random_buffer(rng, in * out, 0.5f), random_buffer(rng, out, 0.5f));
}

std::unique_ptr<Layer> activation(std::size_t n, ActKind kind, float alpha = 0.0f, float beta = 0.0f) {
    return std::make_unique<ActivationLayer>(n, ActSpec{kind, alpha, beta});
}

struct TestModel {
    const char* name;
    std::shared_ptr<Model> model;
};

std::vector<TestModel> models() {
    std::mt19937 rng(11);
    std::vector<TestModel> out;

    auto m = std::make_shared<Model>();  // GRU lbr=1 -> GRU lbr=0 -> Dense -> every activation
    m->add(gru(rng, 5, 16, true));
    m->add(gru(rng, 16, 12, false));
    m->add(dense(rng, 12, 10));
    m->add(activation(10, ActKind::Identity));
    m->add(activation(10, ActKind::Sigmoid));
    m->add(activation(10, ActKind::Affine, 4.0f, -2.0f));
    m->add(activation(10, ActKind::Tanh));
    m->add(activation(10, ActKind::ScaledTanh, 1.7f, 0.66f));
    m->add(activation(10, ActKind::LeakyRelu, 0.1f));
    m->add(activation(10, ActKind::Elu, 1.0f));
    m->add(activation(10, ActKind::Softplus));
    m->add(activation(10, ActKind::Softsign));
    m->add(activation(10, ActKind::HardSigmoid, 0.2f, 0.5f));
    m->add(activation(10, ActKind::ThresholdedRelu, 0.1f));
    m->add(activation(10, ActKind::Relu));
    m->add(dense(rng, 10, 4));
    m->add(activation(4, ActKind::Softmax));
    m->add(activation(4, ActKind::LogSoftmax));
    out.push_back({"GRU lbr=1, GRU lbr=0, Dense, every activation", m});

    m = std::make_shared<Model>();  // ids in, final state only
    m->add(std::make_unique<EmbeddingLayer>(50, 6, random_buffer(rng, 50 * 6, 1.0f)));
    m->add(gru(rng, 6, 10, true, /*return_sequences=*/false));
    m->add(dense(rng, 10, 3));
    m->add(activation(3, ActKind::LogSoftmax));
    out.push_back({"Embedding, GRU return_sequences=false, Dense, log_softmax", m});

    m = std::make_shared<Model>();
    m->add(gru(rng, 4, 8, false));
    m->add(std::make_unique<LastStepLayer>(8));
    m->add(dense(rng, 8, 2));
    m->add(activation(2, ActKind::Softmax));
    out.push_back({"GRU lbr=0, LastStep, Dense, softmax", m});

    m = std::make_shared<Model>();  // guitar-amp shape: GRU -> Dense -> skip from the input, then affine
    m->add(gru(rng, 3, 8, true));
    m->add(dense(rng, 8, 2));
    m->add(std::make_unique<InputSkipLayer>(2, 1, 3));
    m->add(std::make_unique<AffineLayer>(2, random_buffer(rng, 2, 2.0f), random_buffer(rng, 2, 1.0f)));
    for (ActKind k : {ActKind::Gelu, ActKind::GeluTanh, ActKind::Silu, ActKind::HardSwish, ActKind::Mish})
        m->add(activation(2, k));
    m->add(activation(2, ActKind::Clip, -1.0f, 1.0f));
    m->add(activation(2, ActKind::Selu, 1.6732632f, 1.0507009f));
    m->add(activation(2, ActKind::Celu, 0.5f));
    out.push_back({"GRU, Dense, InputSkip, Affine, gelu/silu/clip/... activations", m});
    // Reduced-precision copies (Model::quantize) of the first two: the same contract.
    if (!has_reduced_precision()) return out;  // a build without them (GRU_INFER_REDUCED_PRECISION=OFF)
    out.push_back({"int8: GRU lbr=1, GRU lbr=0, Dense, every activation", out[0].model->quantize(WeightFormat::Int8)});
    out.push_back({"bf16: GRU lbr=1, GRU lbr=0, Dense, every activation", out[0].model->quantize(WeightFormat::BF16)});
    out.push_back({"fp16: GRU lbr=1, GRU lbr=0, Dense, every activation", out[0].model->quantize(WeightFormat::F16)});
    out.push_back({"int8: Embedding, GRU return_sequences=false, Dense", out[1].model->quantize(WeightFormat::Int8)});
    return out;
}

// A ring of inputs, made before counting starts: floats (ring, B, F) or ids (ring, B).
struct Inputs {
    static constexpr std::size_t kRing = 64;
    std::vector<float> x;
    std::vector<std::int64_t> ids;
    Inputs(const Model& m, std::size_t batch, std::mt19937& rng) {
        if (m.takes_ids()) {
            const auto rows = static_cast<const EmbeddingLayer&>(*m.layers()[0]).num_embeddings();
            for (std::size_t i = 0; i < kRing * batch; ++i) ids.push_back(static_cast<std::int64_t>(rng() % rows));
        } else {
            x = test::random_vec(rng, kRing * batch * m.input_size(), 2.0f);
        }
    }
};

bool all_finite(const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

// C++ API: allocations over `steps` steps of a freshly created stream, with resets and state access.
void count_cpp_steps(const TestModel& tm, std::size_t batch, long steps, std::mt19937& rng) {
    const Model& m = *tm.model;
    Inputs in(m, batch, rng);
    std::vector<float> y(batch * m.output_size()), saved(batch * m.state_size());
    Stream s(tm.model, batch);

    const long before = allocations();
    long first_step = 0;
    for (long i = 0; i < steps; ++i) {
        const std::size_t r = static_cast<std::size_t>(i) % Inputs::kRing;
        if (m.takes_ids()) s.step_ids(in.ids.data() + r * batch, y.data());
        else s.step(in.x.data() + r * batch * m.input_size(), y.data());
        if (i == 0) first_step = allocations() - before;
        if (i % 1000 == 999) s.reset();
        if (i % 777 == 0 && !saved.empty()) std::memcpy(saved.data(), s.state(), saved.size() * sizeof(float));
    }
    const long n = allocations() - before;
    std::printf("  C++ stream, batch %zu, %ld steps: %ld allocations (first step: %ld)\n", batch, steps, n,
                first_step);
    CHECK(n == 0);
    CHECK(all_finite(y));
}

// C API: the same through gru_infer_stream_*, errors included; outputs equal the C++ stream's.
void count_c_steps(const TestModel& tm, std::size_t batch, std::mt19937& rng) {
    const Model& m = *tm.model;
    const auto bytes = serialize_model(m);
    gru_infer_model* cm = nullptr;
    CHECK(gru_infer_model_load_memory(bytes.data(), bytes.size(), &cm) == GRU_INFER_OK);
    gru_infer_stream* cs = nullptr;
    CHECK(gru_infer_stream_create(cm, batch, &cs) == GRU_INFER_OK);
    if (!cs) return;
    Inputs in(m, batch, rng);
    std::vector<float> y(batch * m.output_size()), state(gru_infer_stream_state_floats(cs));
    std::vector<std::int64_t> bad_ids(batch, -1);
    const long steps = kSteps / 10;

    const long before = allocations();
    bool ok = true;
    for (long i = 0; i < steps; ++i) {
        const std::size_t r = static_cast<std::size_t>(i) % Inputs::kRing;
        ok &= (m.takes_ids() ? gru_infer_stream_step_ids(cs, in.ids.data() + r * batch, y.data())
                             : gru_infer_stream_step(cs, in.x.data() + r * batch * m.input_size(), y.data())) ==
              GRU_INFER_OK;
        if (i % 100 == 0) {  // state out and back in, and a refused call: none may allocate
            ok &= gru_infer_stream_get_state(cs, state.data(), state.size()) == GRU_INFER_OK;
            ok &= gru_infer_stream_set_state(cs, state.data(), state.size()) == GRU_INFER_OK;
            ok &= (m.takes_ids() ? gru_infer_stream_step_ids(cs, bad_ids.data(), y.data())
                                 : gru_infer_stream_step_ids(cs, nullptr, y.data())) ==
                  GRU_INFER_ERROR_INVALID_ARGUMENT;
        }
    }
    const long n = allocations() - before;
    std::printf("  C API stream, batch %zu, %ld steps: %ld allocations\n", batch, steps, n);
    CHECK(ok);
    CHECK(n == 0);

    // Same inputs through the C++ stream: the same numbers.
    Stream s(tm.model, batch);
    std::vector<float> y_cpp(y.size());
    for (long i = 0; i < steps; ++i) {
        const std::size_t r = static_cast<std::size_t>(i) % Inputs::kRing;
        if (m.takes_ids()) s.step_ids(in.ids.data() + r * batch, y_cpp.data());
        else s.step(in.x.data() + r * batch * m.input_size(), y_cpp.data());
    }
    CHECK(y == y_cpp);
    gru_infer_stream_free(cs);
    gru_infer_model_free(cm);
}

// Blocks (run, run_ids, longer than max_block too) and slots (step_slots, reset_slots, slot state),
// C++ and C API, refused calls included: no allocation. Then run against step calls: the same
// outputs within 1e-6.
void count_blocks_and_slots(const TestModel& tm, std::size_t batch, std::mt19937& rng) {
    const Model& m = *tm.model;
    const std::size_t F = m.input_size(), O = m.output_size(), S = m.state_size();
    const std::size_t lengths[] = {1, 5, 16, 40};  // max_block is 16
    std::vector<std::vector<float>> xs;
    std::vector<std::vector<std::int64_t>> ids;
    for (std::size_t n : lengths) {
        xs.push_back(test::random_vec(rng, batch * n * F, 2.0f));
        ids.emplace_back(batch * n);
        for (auto& id : ids.back()) id = static_cast<std::int64_t>(rng() % 50);
    }
    std::vector<float> y(batch * 40 * O), slot_state(S);
    std::vector<std::size_t> slots(batch), dup{0, 0};
    for (std::size_t j = 0; j < batch; ++j) slots[j] = batch - 1 - j;  // reversed order
    Stream s(tm.model, batch, 16);
    const auto bytes = serialize_model(m);
    gru_infer_model* cm = nullptr;
    CHECK(gru_infer_model_load_memory(bytes.data(), bytes.size(), &cm) == GRU_INFER_OK);
    gru_infer_stream* cs = nullptr;
    CHECK(gru_infer_stream_create_ex(cm, batch, 16, &cs) == GRU_INFER_OK);
    if (!cs) return;

    const long before = allocations();
    bool ok = true;
    for (int round = 0; round < 50; ++round) {
        for (std::size_t k = 0; k < 4; ++k) {
            const std::size_t n = lengths[k];
            if (m.takes_ids()) {
                s.run_ids(n, ids[k].data(), y.data());
                ok &= gru_infer_stream_run_ids(cs, n, ids[k].data(), y.data()) == GRU_INFER_OK;
            } else {
                s.run(n, xs[k].data(), y.data());
                ok &= gru_infer_stream_run(cs, n, xs[k].data(), y.data()) == GRU_INFER_OK;
            }
        }
        for (std::size_t n = 1; n <= batch; ++n) {  // the last n slots, in reverse order
            if (m.takes_ids()) {
                s.step_ids_slots(n, slots.data(), ids[3].data(), y.data());
                ok &= gru_infer_stream_step_ids_slots(cs, n, slots.data(), ids[3].data(), y.data()) == GRU_INFER_OK;
            } else {
                s.step_slots(n, slots.data(), xs[3].data(), y.data());
                ok &= gru_infer_stream_step_slots(cs, n, slots.data(), xs[3].data(), y.data()) == GRU_INFER_OK;
            }
        }
        s.get_slot_state(0, slot_state.data());
        s.set_slot_state(batch - 1, slot_state.data());
        s.reset_slots(1, slots.data());
        ok &= gru_infer_stream_get_slot_state(cs, 0, slot_state.data(), S) == GRU_INFER_OK;
        ok &= gru_infer_stream_set_slot_state(cs, batch - 1, slot_state.data(), S) == GRU_INFER_OK;
        ok &= gru_infer_stream_reset_slots(cs, 1, slots.data()) == GRU_INFER_OK;
        if (batch > 1)  // refused: a slot twice
            ok &= gru_infer_stream_step_slots(cs, 2, dup.data(), xs[3].data(), y.data()) == GRU_INFER_ERROR_INVALID_ARGUMENT;
    }
    const long n_alloc = allocations() - before;
    std::printf("  blocks and slots, batch %zu, C++ and C API: %ld allocations\n", batch, n_alloc);
    CHECK(ok);
    CHECK(n_alloc == 0);
    CHECK(all_finite(y));
    gru_infer_stream_free(cs);
    gru_infer_model_free(cm);

    // run of 40 steps (pieces of 16) against 40 step calls.
    Stream a(tm.model, batch, 16), b(tm.model, batch);
    std::vector<float> yr(batch * 40 * O), xt(batch * F), yt(batch * O);
    std::vector<std::int64_t> it(batch);
    if (m.takes_ids()) a.run_ids(40, ids[3].data(), yr.data());
    else a.run(40, xs[3].data(), yr.data());
    float err = 0.0f;
    for (std::size_t t = 0; t < 40; ++t) {
        for (std::size_t r = 0; r < batch; ++r) {
            if (F) std::memcpy(&xt[r * F], &xs[3][(r * 40 + t) * F], F * sizeof(float));
            it[r] = ids[3][r * 40 + t];
        }
        if (m.takes_ids()) b.step_ids(it.data(), yt.data());
        else b.step(xt.data(), yt.data());
        for (std::size_t r = 0; r < batch; ++r)
            err = std::max(err, test::max_abs_diff(&yt[r * O], &yr[(r * 40 + t) * O], O));
    }
    CHECK(err < 1e-6f);
}

// The stream contract on these models: step t gives predict(x[:, :t+1])'s last output.
void check_contract(const TestModel& tm, std::mt19937& rng) {
    const Model& m = *tm.model;
    const std::size_t B = 2, T = 9, F = m.input_size(), O = m.output_size();
    auto x = test::random_vec(rng, B * T * F, 2.0f);
    std::vector<std::int64_t> ids(B * T);
    for (auto& id : ids) id = static_cast<std::int64_t>(rng() % 50);
    Stream s(tm.model, B);
    std::vector<float> xt(B * F), yt(B * O);
    std::vector<std::int64_t> idt(B);
    float err = 0.0f;
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t b = 0; b < B; ++b) {
            std::memcpy(&xt[b * F], &x[(b * T + t) * F], F * sizeof(float));
            idt[b] = ids[b * T + t];
        }
        if (m.takes_ids()) s.step_ids(idt.data(), yt.data());
        else s.step(xt.data(), yt.data());
        // predict on the first t+1 steps (a copy of them, batch-first).
        std::vector<float> xs(B * (t + 1) * F);
        std::vector<std::int64_t> is(B * (t + 1));
        for (std::size_t b = 0; b < B; ++b) {
            std::memcpy(&xs[b * (t + 1) * F], &x[b * T * F], (t + 1) * F * sizeof(float));
            std::memcpy(&is[b * (t + 1)], &ids[b * T], (t + 1) * sizeof(std::int64_t));
        }
        std::vector<float> y(m.output_floats(B, t + 1));
        PredictRequest req;
        req.batch = B; req.steps = t + 1; req.y = y.data();
        if (m.takes_ids()) req.ids = is.data(); else req.x = xs.data();
        m.predict(req);
        const std::size_t last = m.output_has_time() ? t : 0, steps_out = m.output_has_time() ? t + 1 : 1;
        for (std::size_t b = 0; b < B; ++b)
            err = std::max(err, test::max_abs_diff(&yt[b * O], &y[(b * steps_out + last) * O], O));
    }
    CHECK(err < 1e-5f);
}

std::size_t weight_floats(const Model& m) {
    std::size_t n = 0;
    for (const auto& l : m.layers()) {
        if (l->kind() == LayerKind::Gru)
            for (const auto& w : static_cast<const GruLayer&>(*l).weights()) n += w.W.size() + w.R.size() + w.bW.size() + w.bR.size();
        if (l->kind() == LayerKind::Dense)
            n += static_cast<const DenseLayer&>(*l).weight().size() + static_cast<const DenseLayer&>(*l).bias().size();
        if (l->kind() == LayerKind::Embedding) n += static_cast<const EmbeddingLayer&>(*l).table().size();
    }
    return n;
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
std::size_t heap_in_use() {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;  // arena chunks in use + mmapped chunks
}

// Heap taken by a model loaded from memory, and by a stream of batch 1, against the weight bytes.
void measure_memory(const char* name, const Model& built) {
    const auto bytes = serialize_model(built);
    const std::size_t weights = weight_floats(built) * sizeof(float);
    const std::size_t before = heap_in_use();
    auto loaded = load_model_from_memory(bytes.data(), bytes.size());
    const std::size_t model_heap = heap_in_use() - before;
    std::size_t stream_heap = 0;
    {
        const std::size_t before_stream = heap_in_use();
        Stream s(loaded, 1);
        stream_heap = heap_in_use() - before_stream;
    }
    std::printf("  %s: file %zu bytes, weights %zu bytes, loaded model %zu heap bytes (%.3fx), stream(batch 1) "
                "%zu heap bytes\n", name, bytes.size(), weights, model_heap,
                static_cast<double>(model_heap) / static_cast<double>(weights), stream_heap);
    // One copy of the weights plus per-tensor padding and bookkeeping, never a second copy.
    CHECK(model_heap < weights + weights / 8 + 16384);

    // In place (zero-copy) from an aligned image: only bookkeeping on the heap, no weights.
    AlignedBuffer image((bytes.size() + 3) / 4);
    std::memcpy(image.data(), bytes.data(), bytes.size());
    const std::size_t before_view = heap_in_use();
    auto viewed = load_model_from_memory(image.data(), bytes.size(), LoadMode::View);
    const std::size_t view_heap = heap_in_use() - before_view;
    std::printf("  %s: loaded in place: %zu heap bytes\n", name, view_heap);
    CHECK(view_heap < 16384);
}
#endif

}  // namespace

int main() {
    std::mt19937 rng(3);
    const auto all = models();
    // First, in a process where nothing has run a kernel yet: every allocation a first step might
    // make lazily (kernel selection, ...) is counted too.
    for (const auto& tm : all) {
        std::printf("%s\n", tm.name);
        count_cpp_steps(tm, 1, kSteps, rng);
        count_cpp_steps(tm, 3, kSteps / 10, rng);  // fewer: this test also runs under qemu
        count_c_steps(tm, 3, rng);
        count_blocks_and_slots(tm, 1, rng);
        count_blocks_and_slots(tm, 5, rng);
        check_contract(tm, rng);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    std::printf("memory\n");
    measure_memory("model with every layer kind", *all[0].model);
    auto big = std::make_shared<Model>();
    big->add(gru(rng, 128, 256, true));
    big->add(gru(rng, 256, 256, true));
    big->add(dense(rng, 256, 10));
    measure_memory("GRU 128->256, GRU 256->256, Dense 256->10", *big);
#endif
    return test::finish("test_realtime");
}
