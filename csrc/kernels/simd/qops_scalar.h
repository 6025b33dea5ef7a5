// The scalar reference operations of the reduced-precision kernels (QuantStep's Ops, see
// gru_step/quant_step.h): they define the arithmetic of quant_kernels.h. Include from a file
// that turns fp contraction off (the vector kernels' roundings are reproduced operation by
// operation: fma only where written).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../clamp.h"
#include "../gru_step/quant_step.h"
#include "../quant_kernels.h"
#include "vec_math_emulated.h"

namespace gru_infer {

// One value of an int8 row quantized with the factor inv: min(max(v inv, -127), 127) (minps/maxps'
// NaN rule) rounded to nearest even. The vector quantizations compute the same per lane.
inline std::int8_t int8_value(float v, float inv) {
    return static_cast<std::int8_t>(emu::round_even(emu::mn(emu::mx(v * inv, -127.0f), 127.0f)));
}

// Quantize v[0..n) with scale s (s > 0), its own absmax / 127 (s == 0), or, for the state
// (s < 0), scale -s unless the row's absmax exceeds 127 * -s (an h0 beyond [-1, 1]), then its
// absmax / 127; into q[0..kpad). Returns the scale used. A row that is not finite gets scale NaN (the results become NaN, never garbage).
inline float quantize_row_int8(const float* v, std::size_t n, std::size_t kpad, float s, std::int8_t* q) {
    float amax = 0.0f;
    if (!(s > 0.0f)) {  // dynamic, or the state: the row's absmax
        bool bad = false;
        for (std::size_t k = 0; k < n; ++k) {
            const float a = std::fabs(v[k]);
            bad = bad || !(a <= 3.402823466e38f);
            amax = emu::mx(amax, a);
        }
        if (bad) {
            std::memset(q, 0, kpad);
            return NAN;
        }
    }
    float inv;
    s = int8_row_scale(s, amax, inv);
    for (std::size_t k = 0; k < n; ++k) q[k] = int8_value(v[k], inv);
    for (std::size_t k = n; k < kpad; ++k) q[k] = 0;
    return s;
}

template <WeightFormat F>
struct ScalarQOps {
    static float prepare(const float* v, std::size_t n, std::size_t kpad, float s, void* dst) {
        if (F == WeightFormat::Int8) return quantize_row_int8(v, n, kpad, s, static_cast<std::int8_t*>(dst));
        if (F == WeightFormat::BF16) {
            auto* b = static_cast<std::uint16_t*>(dst);
            for (std::size_t k = 0; k < n; ++k) b[k] = to_bf16(v[k]);
            for (std::size_t k = n; k < kpad; ++k) b[k] = 0;
        } else {
            auto* f = static_cast<float*>(dst);
            std::memcpy(f, v, n * sizeof(float));
            for (std::size_t k = n; k < kpad; ++k) f[k] = 0.0f;
        }
        return 1.0f;
    }

    // out_i[p] = init_i[p] + row p . v_i for the packed rows of subs [s0, s0 + ns) of the blocks.
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        const std::size_t G = q_group(F), groups = m.groups();
        for (std::size_t i = 0; i < rows; ++i) {
            const char* vi = static_cast<const char*>(v) + i * v_stride;
            for (std::size_t b = blocks.b0; b < blocks.b1; ++b)  // (the order changes no result)
                for (std::size_t s = s0; s < s0 + ns; ++s)
                    for (std::size_t l = 0; l < kQLanes; ++l) {
                        const std::size_t p = (b * m.subs + s) * kQLanes + l;
                        const float start = init ? init[i * ld_init + p] : 0.0f;
                        auto at = [&](std::size_t q) { return ((b * groups + q) * m.subs + s) * kQLanes * G + l * G; };
                        float r;
                        if (F == WeightFormat::Int8) {
                            const auto* w = static_cast<const std::int8_t*>(m.bytes());
                            const auto* x = reinterpret_cast<const std::int8_t*>(vi);
                            std::int32_t sum = 0;
                            for (std::size_t q = 0; q < groups; ++q)
                                for (std::size_t e = 0; e < G; ++e) sum += std::int32_t(x[q * G + e]) * w[at(q) + e];
                            r = std::fma(static_cast<float>(sum), m.scales()[p] * sv[i * ldsv], start);
                        } else if (F == WeightFormat::BF16) {
                            const auto* w = static_cast<const std::uint16_t*>(m.bytes());
                            const auto* x = reinterpret_cast<const std::uint16_t*>(vi);
                            r = ftz(start);  // vdpbf16ps reads a denormal accumulator as zero
                            for (std::size_t q = 0; q < groups; ++q) {  // the odd element first, one rounding each
                                r = ftz(std::fma(from_bf16(x[2 * q + 1]), from_bf16(w[at(q) + 1]), r));
                                r = ftz(std::fma(from_bf16(x[2 * q]), from_bf16(w[at(q)]), r));
                            }
                        } else {
                            const auto* w = static_cast<const std::uint16_t*>(m.bytes());
                            const auto* x = reinterpret_cast<const float*>(vi);
                            r = start;
                            for (std::size_t q = 0; q < groups; ++q) r = std::fma(x[q], from_fp16(w[at(q)]), r);
                        }
                        out[i * ld_out + p] = r;
                    }
        }
    }

    static float pre(float v, const QAct& a) { return a.clip > 0.0f ? clamp_keep_nan(v, -a.clip, a.clip) : v; }
    static float f(float v, const QAct& a) { return a.fast ? emu::fast_sigmoid(pre(v, a)) : emu::sigmoid(pre(v, a)); }
    static float g(float v, const QAct& a) { return a.fast ? emu::fast_tanh(pre(v, a)) : emu::tanh(pre(v, a)); }

    static void lbr_gates(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        for (std::size_t l = 0; l < lanes; ++l) {
            const float z = f(b[l], a), r = f(b[kQLanes + l], a);
            const float n = g(std::fma(r, b[2 * kQLanes + l], nx[l]), a);
            out[l] = std::fma(z, h[l] - n, n);
        }
    }
    static void cho_zr(float* b, const float* h, float* rh, std::size_t lanes, const QAct& a) {
        for (std::size_t l = 0; l < kQLanes; ++l) {
            b[l] = f(b[l], a);
            rh[l] = l < lanes ? f(b[kQLanes + l], a) * h[l] : 0.0f;
        }
    }
    static void cho_out(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        for (std::size_t l = 0; l < lanes; ++l) {
            const float n = g(nx[l] + b[2 * kQLanes + l], a);
            out[l] = std::fma(b[l], h[l] - n, n);
        }
    }
};

}  // namespace gru_infer
