// NEON operations of the reduced-precision kernels (QuantStep's Ops, gru_step/quant_step.h):
// int8 by sdot (vdotq_s32, when the CPU has the dot-product extension; DOT = true) or by widening
// multiplies (vmull_s8, pairwise adds), exact int32 sums either way; bf16 and fp16 widened to fp32
// (bf16 in vdpbf16ps's order, flushed). Rows are prepared by the scalar code; the gates are
// pow2_math.h's. Same results as ScalarQOps<F> bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "neon_math.h"  // (and neon_compat.h: <arm_neon.h>, armv7 equivalents)
#include "../gru_step/quant_step.h"
#include "../quant_kernels.h"
#include "qops_scalar.h"

namespace gru_infer {

template <WeightFormat F, bool DOT>
struct NeonQOps {
    static float prepare(const float* v, std::size_t n, std::size_t kpad, float s, void* dst) {
        return ScalarQOps<F>::prepare(v, n, kpad, s, dst);
    }

    static float32x4_t ftz(float32x4_t r) {  // denormal -> zero of its sign
        const uint32x4_t bits = vreinterpretq_u32_f32(r);
        const uint32x4_t tiny = vceqq_u32(vandq_u32(bits, vdupq_n_u32(0x7f800000u)), vdupq_n_u32(0));
        return vreinterpretq_f32_u32(vbicq_u32(bits, vandq_u32(tiny, vdupq_n_u32(0x7fffffffu))));
    }

    static int32x4_t dot4(int32x4_t acc, int8x16_t w, int8x16_t x) {
        if constexpr (DOT) {
            return vdotq_s32(acc, w, x);  // the file enables the extension (see the int8 neondot kernels)
        } else {
            const int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)));
            const int32x4_t hi = vpaddlq_s16(vmull_high_s8(w, x));
            return vaddq_s32(acc, vpaddq_s32(lo, hi));
        }
    }

    template <int NT, int NS>
    static void block(const QMatrix& m, std::size_t b0, std::size_t s0, const char* v, float sv, const float* init,
                      float* out) {
        constexpr std::size_t step = F == WeightFormat::F16 ? 32 : 64;
        const std::size_t bb = m.block_bytes(), S = m.subs, groups = m.groups();
        const char* base = static_cast<const char*>(m.bytes()) + b0 * bb + s0 * step;
        auto pidx = [&](int j, int s) { return ((b0 + j) * S + s0 + s) * kQLanes; };
        if constexpr (F == WeightFormat::Int8) {
            int32x4_t acc[NT][NS][4];
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s)
                    for (int c = 0; c < 4; ++c) acc[j][s][c] = vdupq_n_s32(0);
            for (std::size_t q = 0; q < groups; ++q) {
                std::int32_t x4;
                std::memcpy(&x4, v + 4 * q, 4);
                const int8x16_t xb = vreinterpretq_s8_s32(vdupq_n_s32(x4));
                const char* wq = base + q * S * step;
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int c = 0; c < 4; ++c)
                            acc[j][s][c] = dot4(acc[j][s][c], vld1q_s8(reinterpret_cast<const std::int8_t*>(wq + j * bb + s * step + 16 * c)), xb);
            }
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s)
                    for (int c = 0; c < 4; ++c) {
                        const std::size_t p = pidx(j, s) + 4 * c;
                        const float32x4_t sc = vmulq_n_f32(vld1q_f32(m.scales() + p), sv);
                        const float32x4_t st = init ? vld1q_f32(init + p) : vdupq_n_f32(0.0f);
                        vst1q_f32(out + p, vfmaq_f32(st, vcvtq_f32_s32(acc[j][s][c]), sc));
                    }
        } else {
            float32x4_t acc[NT][NS][4];
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s)
                    for (int c = 0; c < 4; ++c) {
                        acc[j][s][c] = init ? vld1q_f32(init + pidx(j, s) + 4 * c) : vdupq_n_f32(0.0f);
                        if (F == WeightFormat::BF16) acc[j][s][c] = ftz(acc[j][s][c]);  // as vdpbf16ps reads it
                    }
            for (std::size_t q = 0; q < groups; ++q) {
                const char* wq = base + q * S * step;
                if constexpr (F == WeightFormat::BF16) {
                    const auto* xv = reinterpret_cast<const std::uint16_t*>(v) + 2 * q;
                    const float x0 = from_bf16(xv[0]), x1 = from_bf16(xv[1]);
                    for (int j = 0; j < NT; ++j)
                        for (int s = 0; s < NS; ++s)
                            for (int c = 0; c < 4; ++c) {
                                const uint32x4_t w = vld1q_u32(reinterpret_cast<const std::uint32_t*>(wq + j * bb + s * step + 16 * c));
                                const float32x4_t w0 = vreinterpretq_f32_u32(vshlq_n_u32(w, 16));
                                const float32x4_t w1 = vreinterpretq_f32_u32(vandq_u32(w, vdupq_n_u32(0xffff0000u)));
                                const float32x4_t r = ftz(vfmaq_n_f32(acc[j][s][c], w1, x1));  // odd element first
                                acc[j][s][c] = ftz(vfmaq_n_f32(r, w0, x0));
                            }
                } else {
#if GRU_INFER_NEON_FP16  // (armv7 without -mfp16-format=ieee has no fp16 conversions: no fp16 kernel)
                    const float x = reinterpret_cast<const float*>(v)[q];
                    for (int j = 0; j < NT; ++j)
                        for (int s = 0; s < NS; ++s)
                            for (int c = 0; c < 4; ++c) {
                                const float16x4_t h = vreinterpret_f16_u16(
                                    vld1_u16(reinterpret_cast<const std::uint16_t*>(wq + j * bb + s * step + 8 * c)));
                                acc[j][s][c] = vfmaq_n_f32(acc[j][s][c], vcvt_f32_f16(h), x);
                            }
#endif
                }
            }
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s)
                    for (int c = 0; c < 4; ++c) vst1q_f32(out + pidx(j, s) + 4 * c, acc[j][s][c]);
        }
    }

    // The blocks of r for one row.
    template <int NS>
    static void row(const QMatrix& m, QBlockRange r, std::size_t s0, const char* v, float sv, const float* init,
                    float* out) {
        constexpr int NT = NS == 1 ? 2 : 1;  // 8 or 12 accumulators of 4 lanes
        for_block_runs<NT>(r, [&](std::size_t b, bool whole) {
            if (whole) block<NT, NS>(m, b, s0, v, sv, init, out);
            else block<1, NS>(m, b, s0, v, sv, init, out);
        });
    }

    // Blocks outermost in passes of <= ~512 KB of weights, as Avx512QOps::dot.
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        const std::size_t per_pass =
            rows <= 1 ? blocks.b1 - blocks.b0 : std::max<std::size_t>(2, (512u << 10) / m.block_bytes() / 2 * 2);
        for_block_passes(blocks, per_pass, [&](QBlockRange pass) {
            for (std::size_t r = 0; r < rows; ++r) {
                const char* vr = static_cast<const char*>(v) + r * v_stride;
                const float* ir = init ? init + r * ld_init : nullptr;
                float* o = out + r * ld_out;
                const float s = sv[r * ldsv];
                if (ns == 3) row<3>(m, pass, s0, vr, s, ir, o);
                else if (ns == 2) row<2>(m, pass, s0, vr, s, ir, o);
                else for (std::size_t k = s0; k < s0 + ns; ++k) row<1>(m, pass, k, vr, s, ir, o);
            }
        });
    }

    static float32x4_t pre(float32x4_t v, const QAct& a) {
        return a.clip > 0.0f ? vminq_f32(vmaxq_f32(v, vdupq_n_f32(-a.clip)), vdupq_n_f32(a.clip)) : v;
    }
    static float32x4_t f(float32x4_t v, const QAct& a) { return a.fast ? neon::fast_sigmoid4(pre(v, a)) : neon::Pow2::sigmoid(pre(v, a)); }
    static float32x4_t g(float32x4_t v, const QAct& a) { return a.fast ? neon::fast_tanh4(pre(v, a)) : neon::Pow2::tanh(pre(v, a)); }

    // The state and outputs through 16-float copies (tails of `lanes` units).
    static void lbr_gates(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        float hv[kQLanes] = {}, o[kQLanes];
        std::memcpy(hv, h, lanes * sizeof(float));
        for (std::size_t c = 0; c < kQLanes; c += 4) {
            const float32x4_t z = f(vld1q_f32(b + c), a), r = f(vld1q_f32(b + kQLanes + c), a);
            const float32x4_t n = g(vfmaq_f32(vld1q_f32(nx + c), r, vld1q_f32(b + 2 * kQLanes + c)), a);
            vst1q_f32(o + c, vfmaq_f32(n, z, vsubq_f32(vld1q_f32(hv + c), n)));
        }
        std::memcpy(out, o, lanes * sizeof(float));
    }
    static void cho_zr(float* b, const float* h, float* rh, std::size_t lanes, const QAct& a) {
        float hv[kQLanes] = {};
        std::memcpy(hv, h, lanes * sizeof(float));
        for (std::size_t c = 0; c < kQLanes; c += 4) {
            vst1q_f32(b + c, f(vld1q_f32(b + c), a));
            vst1q_f32(rh + c, vmulq_f32(f(vld1q_f32(b + kQLanes + c), a), vld1q_f32(hv + c)));
        }
        for (std::size_t l = lanes; l < kQLanes; ++l) rh[l] = 0.0f;
    }
    static void cho_out(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        float hv[kQLanes] = {}, o[kQLanes];
        std::memcpy(hv, h, lanes * sizeof(float));
        for (std::size_t c = 0; c < kQLanes; c += 4) {
            const float32x4_t n = g(vaddq_f32(vld1q_f32(nx + c), vld1q_f32(b + 2 * kQLanes + c)), a);
            vst1q_f32(o + c, vfmaq_f32(n, vld1q_f32(b + c), vsubq_f32(vld1q_f32(hv + c), n)));
        }
        std::memcpy(out, o, lanes * sizeof(float));
    }
};

}  // namespace gru_infer
