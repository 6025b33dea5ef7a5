// The C API of gru_infer_micro.h: the arena plan, and a step through the layers (Dense, Affine
// and activations here; GRU steps in micro_gru_f32.cpp and micro_int8.cpp).
#include <math.h>
#include <string.h>

#include "micro_model.h"

using namespace gru_micro_impl;

struct gru_micro {
    Runtime rt;
};

namespace {

size_t up8(size_t n) { return (n + 7) / 8 * 8; }

// The arena: the runtime, the layer table, the states, two layer outputs, the step scratch.
struct Offsets {
    size_t layers, states, buf0, buf1, scratch, total;
    explicit Offsets(const Plan& p) {
        layers = up8(sizeof(gru_micro));
        states = layers + up8(p.n_layers * sizeof(Layer));
        buf0 = states + up8(p.state_floats * sizeof(float));
        buf1 = buf0 + up8(p.max_width * sizeof(float));
        scratch = buf1 + up8(p.max_width * sizeof(float));
        total = scratch + up8(p.scratch_bytes) + 7;  // + 7: any arena alignment
    }
};

float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
float clamp(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }  // keeps NaN

// As gru_infer's apply_activation (csrc/activation.cpp) for the kinds parse accepts.
void activate(const Layer& l, float* v) {
    const float a = l.alpha, b = l.beta;
    if (l.act == kSoftmax) {
        float m = v[0], sum = 0.0f;
        for (uint32_t i = 1; i < l.in; ++i) m = v[i] > m ? v[i] : m;
        for (uint32_t i = 0; i < l.in; ++i) sum += (v[i] = expf(v[i] - m));
        for (uint32_t i = 0; i < l.in; ++i) v[i] /= sum;
        return;
    }
    for (uint32_t i = 0; i < l.in; ++i) {
        const float x = v[i];
        switch (l.act) {
            case kSigmoid: v[i] = sigmoid(x); break;
            case kTanh: v[i] = tanhf(x); break;
            case kRelu: v[i] = clamp(x, 0.0f, INFINITY); break;
            case kHardSigmoid: v[i] = clamp(a * x + b, 0.0f, 1.0f); break;
            case kLeakyRelu: v[i] = x >= 0.0f ? x : a * x; break;
            case kElu: v[i] = x >= 0.0f ? x : a * expm1f(x); break;
            case kSoftsign: v[i] = x / (1.0f + fabsf(x)); break;
            case kSoftplus: v[i] = x > 20.0f ? x : log1pf(expf(x)); break;
            case kAffineAct: v[i] = a * x + b; break;
            case kScaledTanh: v[i] = a * tanhf(b * x); break;
            case kClip: v[i] = clamp(x, a, b); break;
            case kSilu: v[i] = x / (1.0f + expf(-x)); break;
            case kHardSwish: v[i] = x * clamp(x / 6.0f + 0.5f, 0.0f, 1.0f); break;
            default: break;  // identity
        }
    }
}

void dense_f32(const Layer& l, const float* x, float* y) {
    for (uint32_t o = 0; o < l.out; ++o) {
        const float* w = l.w + size_t(o) * l.in;
        float s = 0.0f;
        for (uint32_t k = 0; k < l.in; ++k) s += x[k] * w[k];
        y[o] = s + l.b0[o];
    }
}

}  // namespace

extern "C" {

gru_micro_status gru_micro_arena_size(const void* model, size_t model_size, size_t* arena_bytes) {
    Plan p;
    if (!arena_bytes) return GRU_MICRO_BAD_ARGUMENT;
    const gru_micro_status s = parse(static_cast<const uint8_t*>(model), model_size, nullptr, &p);
    if (s == GRU_MICRO_OK) *arena_bytes = Offsets(p).total;
    return s;
}

gru_micro_status gru_micro_create(const void* model, size_t model_size, void* arena, size_t arena_bytes,
                                  gru_micro** out) {
    if (!arena || !out) return GRU_MICRO_BAD_ARGUMENT;
    *out = nullptr;
    Plan p;
    gru_micro_status s = parse(static_cast<const uint8_t*>(model), model_size, nullptr, &p);
    if (s != GRU_MICRO_OK) return s;
    const Offsets o(p);
    const size_t pad = (8 - reinterpret_cast<uintptr_t>(arena) % 8) % 8;
    if (arena_bytes < o.total) return GRU_MICRO_ARENA_TOO_SMALL;
    char* base = static_cast<char*>(arena) + pad;
    auto* m = reinterpret_cast<gru_micro*>(base);
    Runtime& rt = m->rt;
    rt.layers = reinterpret_cast<Layer*>(base + o.layers);
    s = parse(static_cast<const uint8_t*>(model), model_size, rt.layers, &p);
    if (s != GRU_MICRO_OK) return s;
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
                else dense_f32(l, in, out);
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
