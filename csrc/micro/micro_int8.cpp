// The int8 GRU step and Dense layer on the file's packed int8 blocks (kernels/quant_kernels.h),
// with the hosted scalar reference's arithmetic: the same row quantization and gate functions
// (ScalarQOps<Int8> of kernels/simd/qops_scalar.h, shared, not copied), exact int32 dot products,
// and out = fma(float(sum), row scale * input scale, init) in the same order. Only the dot product
// is this file's own: one row at a time, 4 inputs per 32-bit word, by SMLAD on int16 pairs where
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

// sum over the row's kpad inputs of w * x; w: the row's first word, `stride` words between groups.
inline int32_t dot_row(const uint32_t* w, size_t stride, const uint32_t* x, size_t groups) {
    int32_t acc = 0;
#if defined(__ARM_FEATURE_DSP) && !defined(GRU_MICRO_NO_DSP)
    for (size_t q = 0; q < groups; ++q, w += stride) {
        uint32_t we, wo, xe, xo;  // elements 0, 2 and 1, 3 sign-extended to int16 pairs
        __asm__("sxtb16 %0, %1" : "=r"(we) : "r"(*w));
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(wo) : "r"(*w));
        __asm__("sxtb16 %0, %1" : "=r"(xe) : "r"(x[q]));
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(xo) : "r"(x[q]));
        __asm__("smlad %0, %1, %2, %0" : "+r"(acc) : "r"(we), "r"(xe));
        __asm__("smlad %0, %1, %2, %0" : "+r"(acc) : "r"(wo), "r"(xo));
    }
#else
    for (size_t q = 0; q < groups; ++q, w += stride) {
        const auto* a = reinterpret_cast<const int8_t*>(w);
        const auto* b = reinterpret_cast<const int8_t*>(x + q);
        acc += int32_t(a[0]) * b[0] + int32_t(a[1]) * b[1] + int32_t(a[2]) * b[2] + int32_t(a[3]) * b[3];
    }
#endif
    return acc;
}

// out[s * 16 + l] = fma(float(row . x), scale * sx, init[s * 16 + l]) for subs [s0, s0 + ns) of
// block b and its first `lanes` lanes (the others, padding, get init).
void dot_block(const QMat& m, size_t b, size_t s0, size_t ns, size_t lanes, const int8_t* xq, float sx,
               const float* init, float* out) {
    const size_t groups = m.kpad / kQGroup, stride = m.subs * kQLanes;
    const auto* words = reinterpret_cast<const uint32_t*>(m.w);
    const auto* x = reinterpret_cast<const uint32_t*>(xq);
    for (size_t s = s0; s < s0 + ns; ++s)
        for (size_t l = 0; l < kQLanes; ++l) {
            const size_t i = s * kQLanes + l, p = b * stride + i;
            if (l >= lanes) { out[i] = init[i]; continue; }
            const int32_t sum = dot_row(words + (b * groups * m.subs + s) * kQLanes + l, stride, x, groups);
            out[i] = __builtin_fmaf(static_cast<float>(sum), m.scale[p] * sx, init[i]);
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
