// The int8 GRU step and Dense layer on the file's packed int8 blocks (kernels/quant_kernels.h),
// with the hosted scalar reference's arithmetic: the same row quantization and gate functions
// (ScalarQOps<Int8> of kernels/simd/qops_scalar.h, shared, not copied), exact int32 dot products,
// and out = fma(float(sum), row scale * input scale, init) in the same order. Only the dot product
// is this file's own: two rows at a time, 4 inputs per 32-bit word, by SMLAD on int16 pairs where
// the core has the DSP extension (Cortex-M4/M7), by plain int8 multiplies elsewhere.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif
#include <string.h>

#include "kernels/simd/qops_scalar.h"
#include "micro_model.h"

namespace gru_micro_impl {
namespace {

using Ops = gru_infer::ScalarQOps<gru_infer::WeightFormat::Int8>;
constexpr float kStateScale = gru_infer::QuantStep<Ops>::kStateScale;

// The dot products of two adjacent packed rows (their words are adjacent) with x over kpad inputs:
// sums[0] for the row at w, sums[1] for the next one; `stride` words between groups. Two rows
// per pass widen each word of x once.
inline void dot_rows2(const uint32_t* w, size_t stride, const uint32_t* x, size_t groups, int32_t* sums) {
    int32_t a0 = 0, a1 = 0;
#if defined(__ARM_FEATURE_DSP) && !defined(GRU_MICRO_NO_DSP)
    for (size_t q = 0; q < groups; ++q, w += stride) {
        uint32_t xe, xo, we, wo;  // elements 0, 2 and 1, 3 sign-extended to int16 pairs: SMLAD operands
        __asm__("sxtb16 %0, %1" : "=r"(xe) : "r"(x[q]));
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(xo) : "r"(x[q]));
        __asm__("sxtb16 %0, %1" : "=r"(we) : "r"(w[0]));
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(wo) : "r"(w[0]));
        __asm__("smlad %0, %1, %2, %0" : "+r"(a0) : "r"(we), "r"(xe));
        __asm__("smlad %0, %1, %2, %0" : "+r"(a0) : "r"(wo), "r"(xo));
        __asm__("sxtb16 %0, %1" : "=r"(we) : "r"(w[1]));
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(wo) : "r"(w[1]));
        __asm__("smlad %0, %1, %2, %0" : "+r"(a1) : "r"(we), "r"(xe));
        __asm__("smlad %0, %1, %2, %0" : "+r"(a1) : "r"(wo), "r"(xo));
    }
#else
    for (size_t q = 0; q < groups; ++q, w += stride) {
        const auto* v = reinterpret_cast<const int8_t*>(x + q);
        const auto* b0 = reinterpret_cast<const int8_t*>(w);
        const auto* b1 = reinterpret_cast<const int8_t*>(w + 1);
        for (int e = 0; e < 4; ++e) {
            a0 += int32_t(b0[e]) * v[e];
            a1 += int32_t(b1[e]) * v[e];
        }
    }
#endif
    sums[0] = a0;
    sums[1] = a1;
}

// out[s * 16 + l] = fma(float(row . x), scale * sx, init[s * 16 + l]) for subs [s0, s0 + ns) of
// block b and its first `lanes` lanes (the others, padding, get init).
void dot_block(const QMat& m, size_t b, size_t s0, size_t ns, size_t lanes, const int8_t* xq, float sx,
               const float* init, float* out) {
    const size_t groups = m.kpad / kQGroup, stride = m.subs * kQLanes;
    const auto* x = reinterpret_cast<const uint32_t*>(xq);
    for (size_t s = s0; s < s0 + ns; ++s) {
        const auto* w = reinterpret_cast<const uint32_t*>(m.w) + (b * groups * m.subs + s) * kQLanes;
        const float* scale = m.scale + b * stride + s * kQLanes;
        const size_t i0 = s * kQLanes;
        for (size_t l = 0; l < kQLanes; l += 2) {  // an odd last lane computes its padding neighbour too
            if (l >= lanes) {
                out[i0 + l] = init[i0 + l];
                out[i0 + l + 1] = init[i0 + l + 1];
                continue;
            }
            int32_t sums[2];
            dot_rows2(w + l, stride, x, groups, sums);
            out[i0 + l] = __builtin_fmaf(static_cast<float>(sums[0]), scale[l] * sx, init[i0 + l]);
            out[i0 + l + 1] = __builtin_fmaf(static_cast<float>(sums[1]), scale[l + 1] * sx, init[i0 + l + 1]);
        }
    }
}

}  // namespace

void gru_step_int8(const Layer& l, const float* x, float* h, float* y, void* scratch) {
    const size_t H = l.hidden, tiles = (H + kQLanes - 1) / kQLanes, T = 3 * kQLanes;
    float* A = static_cast<float*>(scratch);  // x W + bx, per tile z, r, n
    float* B = A + tiles * T;                  // + h R + bh
    float* rh = B + tiles * T;
    auto* xq = reinterpret_cast<int8_t*>(rh + tiles * kQLanes);
    int8_t* hq = xq + l.qw.kpad;
    int8_t* rhq = hq + l.qr.kpad;
    const gru_infer::QAct act{l.clip, false};
    const float sh = Ops::prepare(h, H, l.qr.kpad, -kStateScale, hq);
    const float sx = Ops::prepare(x, l.in, l.qw.kpad, l.x_scale, xq);
    for (size_t t = 0; t < tiles; ++t) {
        const size_t lanes = H - t * kQLanes < kQLanes ? H - t * kQLanes : kQLanes;
        float* a = A + t * T;
        float* b = B + t * T;
        const float* bh = l.b1 + t * T;
        dot_block(l.qw, t, 0, 3, lanes, xq, sx, l.b0 + t * T, a);
        for (size_t k = 0; k < 2 * kQLanes; ++k) b[k] = a[k] + bh[k];
        memcpy(b + 2 * kQLanes, bh + 2 * kQLanes, kQLanes * sizeof(float));
        if (l.reset_after) {
            dot_block(l.qr, t, 0, 3, lanes, hq, sh, b, b);
            Ops::lbr_gates(b, a + 2 * kQLanes, h + t * kQLanes, y + t * kQLanes, lanes, act);
        } else {
            dot_block(l.qr, t, 0, 2, lanes, hq, sh, b, b);
            Ops::cho_zr(b, h + t * kQLanes, rh + t * kQLanes, lanes, act);  // z in place, r * h
        }
    }
    if (!l.reset_after) {  // the candidate's recurrent product needs r * h of every unit
        const float srh = Ops::prepare(rh, H, l.qr.kpad, -kStateScale, rhq);
        for (size_t t = 0; t < tiles; ++t) {
            const size_t lanes = H - t * kQLanes < kQLanes ? H - t * kQLanes : kQLanes;
            float* b = B + t * T;
            dot_block(l.qr, t, 2, 1, lanes, rhq, srh, l.b1 + t * T, b);
            Ops::cho_out(b, A + t * T + 2 * kQLanes, h + t * kQLanes, y + t * kQLanes, lanes, act);
        }
    }
    memcpy(h, y, H * sizeof(float));
}

void dense_int8(const Layer& l, const float* x, float* y, void* scratch) {
    auto* xq = static_cast<int8_t*>(scratch);
    const float sx = Ops::prepare(x, l.in, l.qw.kpad, l.x_scale, xq);
    for (size_t b = 0; b < l.qw.blocks; ++b) {
        const size_t lanes = l.out - b * kQLanes < kQLanes ? l.out - b * kQLanes : kQLanes;
        float tmp[kQLanes];
        dot_block(l.qw, b, 0, 1, lanes, xq, sx, l.b0 + b * kQLanes, tmp);
        memcpy(y + b * kQLanes, tmp, lanes * sizeof(float));
    }
}

}  // namespace gru_micro_impl
