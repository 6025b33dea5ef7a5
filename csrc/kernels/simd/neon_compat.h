// <arm_neon.h> plus armv7 equivalents of the aarch64-only intrinsics the NEON kernels use, under
// their aarch64 names, so each kernel is written once. Nothing is added on aarch64. Each
// equivalent gives the aarch64 result bit for bit (for the values NEON on armv7 computes with:
// it always flushes denormals to zero and uses the default NaN, see neon_config.h), except that
// vdivq_f32 divides lane by lane on VFP (IEEE division, correctly rounded; VFP flushes as FPSCR.FZ
// says, which FlushDenormals sets while the library runs).
#pragma once
#include <arm_neon.h>

#include "kernels/simd/neon_config.h"

#if defined(GRU_INFER_NEON_ARMV7)

// Sum of the 4 lanes, (a0 + a1) + (a2 + a3) as faddp does.
inline float vaddvq_f32(float32x4_t a) {
    const float32x2_t p = vpadd_f32(vget_low_f32(a), vget_high_f32(a));
    return vget_lane_f32(vpadd_f32(p, p), 0);
}

inline float32x4_t vdivq_f32(float32x4_t a, float32x4_t b) {
    float x[4], y[4];
    vst1q_f32(x, a);
    vst1q_f32(y, b);
    for (int i = 0; i < 4; ++i) x[i] /= y[i];
    return vld1q_f32(x);
}

inline float32x4_t vfmaq_n_f32(float32x4_t acc, float32x4_t a, float s) { return vfmaq_f32(acc, a, vdupq_n_f32(s)); }

#if __ARM_ARCH < 8
// Round to nearest, ties to even: adding and subtracting 2^23 (with x's sign) rounds |x| < 2^23 in
// the default rounding mode (NEON's, always); larger values (and NaN, inf) are integers already.
// x's sign is put back, so -0.3 gives -0 as vrintn does.
inline float32x4_t vrndnq_f32(float32x4_t x) {
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    const float32x4_t magic = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(vdupq_n_f32(8388608.0f)), sign));
    const float32x4_t r = vsubq_f32(vaddq_f32(x, magic), magic);
    const float32x4_t signed_r = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(r), sign));
    return vbslq_f32(vcaltq_f32(x, vdupq_n_f32(8388608.0f)), signed_r, x);
}
#endif

inline int16x8_t vmull_high_s8(int8x16_t a, int8x16_t b) { return vmull_s8(vget_high_s8(a), vget_high_s8(b)); }

// [a0 + a1, a2 + a3, b0 + b1, b2 + b3]
inline int32x4_t vpaddq_s32(int32x4_t a, int32x4_t b) {
    return vcombine_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)), vpadd_s32(vget_low_s32(b), vget_high_s32(b)));
}

#if !defined(__ARM_FEATURE_DOTPROD)
// Only the neondot kernels (aarch64) call sdot; this keeps NeonQOps<F, true> compiling on armv7.
inline int32x4_t vdotq_s32(int32x4_t acc, int8x16_t a, int8x16_t b) {
    const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b)), hi = vmull_s8(vget_high_s8(a), vget_high_s8(b));
    return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
}
#endif

#endif  // GRU_INFER_NEON_ARMV7
