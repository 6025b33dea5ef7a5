// 8 floats as two NEON registers, so the NEON kernels keep the 8-unit tiles of the packed layout
// and read like their AVX2 counterparts. Exact sigmoid/tanh use the same range reduction and
// polynomials as avx2_math.h (max abs error below 2e-7); fast ones the shared rational of
// fast_math.h.
#pragma once
#include "kernels/simd/neon_compat.h"

#include <cstddef>

#include "kernels/simd/fast_math.h"
#include "kernels/simd/pow2_math.h"

namespace gru_infer {
namespace neon {

struct V8 {
    float32x4_t lo, hi;
};

inline V8 dup(float v) { return {vdupq_n_f32(v), vdupq_n_f32(v)}; }
inline V8 load(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
inline void store(float* p, V8 v) { vst1q_f32(p, v.lo); vst1q_f32(p + 4, v.hi); }
inline V8 add(V8 a, V8 b) { return {vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
inline V8 sub(V8 a, V8 b) { return {vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)}; }
inline V8 mul(V8 a, V8 b) { return {vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)}; }
inline V8 fma(V8 acc, V8 a, V8 b) { return {vfmaq_f32(acc.lo, a.lo, b.lo), vfmaq_f32(acc.hi, a.hi, b.hi)}; }
inline V8 fma_n(V8 acc, V8 a, float s) { return {vfmaq_n_f32(acc.lo, a.lo, s), vfmaq_n_f32(acc.hi, a.hi, s)}; }
inline V8 clamp(V8 v, float lo, float hi) {
    return {vminq_f32(vmaxq_f32(v.lo, vdupq_n_f32(lo)), vdupq_n_f32(hi)),
            vminq_f32(vmaxq_f32(v.hi, vdupq_n_f32(lo)), vdupq_n_f32(hi))};
}

// Lanes < n from p, zeros after (n in 1..8).
inline V8 load_lanes(const float* p, std::size_t n) {
    if (n >= 8) return load(p);
    float tmp[8] = {};
    for (std::size_t i = 0; i < n; ++i) tmp[i] = p[i];
    return load(tmp);
}
inline void store_lanes(float* p, V8 v, std::size_t n) {
    if (n >= 8) return store(p, v);
    float tmp[8];
    store(tmp, v);
    for (std::size_t i = 0; i < n; ++i) p[i] = tmp[i];
}

inline float32x4_t keep_nan(float32x4_t r, float32x4_t x) { return vbslq_f32(vceqq_f32(x, x), r, x); }

// exp(x) for x in [-87, 88] (callers clamp); Cephes expf polynomial.
inline float32x4_t exp_clamped(float32x4_t x) {
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

inline float32x4_t sigmoid4(float32x4_t x) {
    const float32x4_t c = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-88.0f)), vdupq_n_f32(87.0f));
    const float32x4_t e = exp_clamped(vnegq_f32(c));
    return keep_nan(vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(vdupq_n_f32(1.0f), e)), x);
}

inline float32x4_t tanh4(float32x4_t x) {
    const float32x4_t ax = vabsq_f32(x);
    const float32x4_t u = vmulq_f32(x, x);
    float32x4_t p = vdupq_n_f32(-0.006104478146880865f);
    p = vfmaq_f32(vdupq_n_f32(0.021003227680921555f), p, u);
    p = vfmaq_f32(vdupq_n_f32(-0.053852375596761703f), p, u);
    p = vfmaq_f32(vdupq_n_f32(0.13332781195640564f), p, u);
    p = vfmaq_f32(vdupq_n_f32(-0.333333283662796f), p, u);
    const float32x4_t small = vfmaq_f32(x, vmulq_f32(x, u), p);
    const float32x4_t e = exp_clamped(vminq_f32(vaddq_f32(ax, ax), vdupq_n_f32(20.0f)));
    float32x4_t big = vsubq_f32(vdupq_n_f32(1.0f), vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, vdupq_n_f32(1.0f))));
    big = vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vnegq_f32(big), big);
    return keep_nan(vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.625f)), small, big), x);
}

inline float32x4_t fast_tanh4(float32x4_t x) {
    const float32x4_t c = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-fast_math::kClamp)), vdupq_n_f32(fast_math::kClamp));
    const float32x4_t u = vmulq_f32(c, c);
    float32x4_t num = vfmaq_f32(vdupq_n_f32(fast_math::kA1), u, vdupq_n_f32(fast_math::kA2));
    num = vmulq_f32(c, vfmaq_f32(vdupq_n_f32(fast_math::kA0), u, num));
    float32x4_t den = vfmaq_f32(vdupq_n_f32(fast_math::kB1), u, vdupq_n_f32(fast_math::kB2));
    den = vfmaq_f32(vdupq_n_f32(1.0f), u, den);
    const float32x4_t t = vminq_f32(vmaxq_f32(vdivq_f32(num, den), vdupq_n_f32(-1.0f)), vdupq_n_f32(1.0f));
    return keep_nan(t, x);
}

inline float32x4_t fast_sigmoid4(float32x4_t x) {
    return vfmaq_f32(vdupq_n_f32(0.5f), vdupq_n_f32(0.5f), fast_tanh4(vmulq_n_f32(x, 0.5f)));
}

// Four floats as pow2_math.h's lane type, for the reduced-precision kernels' gates (bit for bit
// those of every ISA).
struct Neon4Lanes {
    using V = float32x4_t;
    static V set1(float v) { return vdupq_n_f32(v); }
    static V sub(V a, V b) { return vsubq_f32(a, b); }
    static V mul(V a, V b) { return vmulq_f32(a, b); }
    static V div(V a, V b) { return vdivq_f32(a, b); }
    static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
    static V min(V a, V b) { return vminq_f32(a, b); }  // NaN if either is: the clamps keep a NaN t
    static V max(V a, V b) { return vmaxq_f32(a, b); }
    static V round(V x) { return vrndnq_f32(x); }
    static V abs(V x) { return vabsq_f32(x); }
    static V sign_of(V x, V mag) {
        return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(mag),
                                               vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u))));
    }
    static V select_lt(V a, float bound, V if_lt, V otherwise) { return vbslq_f32(vcltq_f32(a, vdupq_n_f32(bound)), if_lt, otherwise); }
    static V pow2i(V n) { return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23)); }
};
using Pow2 = Pow2Math<Pow2LanesEmulated<Neon4Lanes>>;

inline V8 sigmoid(V8 v) { return {sigmoid4(v.lo), sigmoid4(v.hi)}; }
inline V8 tanh(V8 v) { return {tanh4(v.lo), tanh4(v.hi)}; }
inline V8 fast_sigmoid(V8 v) { return {fast_sigmoid4(v.lo), fast_sigmoid4(v.hi)}; }
inline V8 fast_tanh(V8 v) { return {fast_tanh4(v.lo), fast_tanh4(v.hi)}; }

}  // namespace neon
}  // namespace gru_infer
