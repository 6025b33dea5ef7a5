// The C API of gru_infer_micro.h: the arena plan, and a step through the layers (Affine here; fp32
// Dense and the activations from the hosted scalar sources; GRU steps in micro_gru_f32.cpp and
// micro_int8.cpp).
#include <string.h>

#include "kernels/act_scalar.h"
#include "micro_model.h"

namespace gru_infer {
void gemm_nt_f32_scalar(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                        std::size_t ldb, const float* bias, float* C, std::size_t ldc);  // gemm_nt_f32_scalar.cpp
}  // namespace gru_infer

using namespace gru_micro_impl;

struct gru_micro {
    Runtime rt;
};

namespace {

size_t up8(size_t n) { return (n + 7) / 8 * 8; }

// The arena: the runtime, the layer table, the states, two layer outputs, the step scratch.
struct Offsets {
    size_t layers, states, buf0, buf1, scratch, total;
    static size_t table_offset() { return up8(sizeof(gru_micro)); }
    explicit Offsets(const Plan& p) {
        layers = table_offset();
        states = layers + up8(p.n_layers * sizeof(Layer));
        buf0 = states + up8(p.state_floats * sizeof(float));
        buf1 = buf0 + up8(p.max_width * sizeof(float));
        scratch = buf1 + up8(p.max_width * sizeof(float));
        total = scratch + up8(p.scratch_bytes) + 7;  // + 7: any arena alignment
    }
};

// As gru_infer's apply_activation_rows (csrc/activation.cpp) for the kinds parse accepts, from the same source.
void activate(const Layer& l, float* v) {
    if (l.act == kSoftmax) return gru_infer::softmax_row<float, false>(v, l.in);
    gru_infer::apply_activation_scalar({gru_infer::ActKind(l.act), l.alpha, l.beta}, v, l.in);
}

}  // namespace

extern "C" {

gru_micro_status gru_micro_arena_size(const void* model, size_t model_size, size_t* arena_bytes) {
    Plan p;
    if (!arena_bytes) return GRU_MICRO_BAD_ARGUMENT;
    const gru_micro_status s = parse(static_cast<const uint8_t*>(model), model_size, nullptr, 0, &p);
    if (s == GRU_MICRO_OK) *arena_bytes = Offsets(p).total;
    return s;
}

gru_micro_status gru_micro_create(const void* model, size_t model_size, void* arena, size_t arena_bytes,
                                  gru_micro** out) {
    if (!arena || !out) return GRU_MICRO_BAD_ARGUMENT;
    *out = nullptr;
    // One parse, writing the layer table where it goes in the arena (its offset does not depend on
    // the model) as far as the arena has room; then the arena's size is checked against the plan.
    const size_t pad = (8 - reinterpret_cast<uintptr_t>(arena) % 8) % 8;
    char* base = static_cast<char*>(arena) + pad;
    const size_t table = Offsets::table_offset();
    const size_t room = arena_bytes > pad + table ? (arena_bytes - pad - table) / sizeof(Layer) : 0;
    Plan p;
    const gru_micro_status s =
        parse(static_cast<const uint8_t*>(model), model_size, reinterpret_cast<Layer*>(base + table), room, &p);
    if (s != GRU_MICRO_OK) return s;
    const Offsets o(p);
    if (arena_bytes < o.total) return GRU_MICRO_ARENA_TOO_SMALL;
    auto* m = reinterpret_cast<gru_micro*>(base);
    Runtime& rt = m->rt;
    rt.layers = reinterpret_cast<Layer*>(base + o.layers);
    rt.n_layers = p.n_layers; rt.input = p.input; rt.output = p.output;
    rt.states = reinterpret_cast<float*>(base + o.states);
    rt.buf[0] = reinterpret_cast<float*>(base + o.buf0);
    rt.buf[1] = reinterpret_cast<float*>(base + o.buf1);
    rt.scratch = base + o.scratch;
    gru_micro_reset(m);
    *out = m;
    return GRU_MICRO_OK;
}

size_t gru_micro_input_size(const gru_micro* m) { return m ? m->rt.input : 0; }
size_t gru_micro_output_size(const gru_micro* m) { return m ? m->rt.output : 0; }

void gru_micro_reset(gru_micro* m) {
    if (!m) return;
    for (uint32_t i = 0; i < m->rt.n_layers; ++i) {
        const Layer& l = m->rt.layers[i];
        if (l.kind != kGru) continue;
        float* h = m->rt.states + l.state;
        if (l.h0) memcpy(h, l.h0, l.hidden * sizeof(float));
        else memset(h, 0, l.hidden * sizeof(float));
    }
}

gru_micro_status gru_micro_step(gru_micro* m, const float* x, float* y) {
    if (!m || !x || !y) return GRU_MICRO_BAD_ARGUMENT;
    Runtime& rt = m->rt;
    const float* in = x;
    for (uint32_t i = 0; i < rt.n_layers; ++i) {
        const Layer& l = rt.layers[i];
        float* out = i + 1 == rt.n_layers ? y : rt.buf[i % 2];
        switch (l.kind) {
            case kGru:
                if (l.format == kFormatInt8) gru_step_int8(l, in, rt.states + l.state, out, rt.scratch);
                else gru_step_f32(l, in, rt.states + l.state, out, rt.scratch);
                break;
            case kDense:
                if (l.format == kFormatInt8) dense_int8(l, in, out, rt.scratch);
                else gru_infer::gemm_nt_f32_scalar(1, l.out, l.in, in, l.in, l.w, l.in, l.b0, out, l.out);
                break;
            case kAffine:
                for (uint32_t k = 0; k < l.in; ++k) out[k] = in[k] * l.w[k] + l.b0[k];
                break;
            default:  // Activation, LastStep
                if (out != in) memmove(out, in, l.in * sizeof(float));
                if (l.kind == kActivation) activate(l, out);
        }
        in = out;
    }
    return GRU_MICRO_OK;
}

gru_micro_status gru_micro_run(gru_micro* m, const float* x, size_t steps, float* y) {
    if (!m || (steps && (!x || !y))) return GRU_MICRO_BAD_ARGUMENT;
    for (size_t t = 0; t < steps; ++t) gru_micro_step(m, x + t * m->rt.input, y + t * m->rt.output);
    return GRU_MICRO_OK;
}

const char* gru_micro_status_name(gru_micro_status s) {
    switch (s) {
        case GRU_MICRO_OK: return "ok";
        case GRU_MICRO_BAD_ARGUMENT: return "bad argument";
        case GRU_MICRO_BAD_MODEL: return "not a valid gru_infer model file";
        case GRU_MICRO_BAD_VERSION: return "native format version not read here (2 to 4 are)";
        case GRU_MICRO_UNSUPPORTED: return "a layer or option the micro runtime does not run";
        case GRU_MICRO_MISALIGNED: return "model array not 4-byte aligned";
        case GRU_MICRO_ARENA_TOO_SMALL: return "arena smaller than gru_micro_arena_size";
    }
    return "unknown status";
}

}  // extern "C"
