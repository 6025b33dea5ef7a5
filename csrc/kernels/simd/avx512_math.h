// Vector sigmoid and tanh for AVX-512 (F, DQ, VL): exact ones of short latency and the fast
// rational mode. Include only from files compiled for AVX-512.
#pragma once
#include <immintrin.h>

#include "kernels/simd/fast_math.h"
#include "kernels/simd/pow2_math.h"

namespace gru_infer {
namespace avx512 {

// Short-latency exact sigmoid and tanh (pow2_math.h), on 16 lanes (zmm) and 8 (ymm, AVX512VL).
// At small H a GRU step is one dependent chain through sigmoid(r) and tanh(n), so the latency is
// the cost: f = t - round(t) comes from vreduceps (0 for +-inf) and 2^round(t) from vscalefps
// (which saturates to 0 or inf) beside the polynomial, so no clamp is needed.
template <class V>
struct Lanes;
template <>
struct Lanes<__m512> {
    using V = __m512;
    static __m512 set1(float v) { return _mm512_set1_ps(v); }
    static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
    static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
    static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
    static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
    static __m512 div(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
    static __m512 fraction(__m512 t) { return _mm512_reduce_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static __m512 pow2_round(__m512 t) {
        return _mm512_scalef_ps(set1(1.0f), _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    static __m512 abs(__m512 x) { return _mm512_abs_ps(x); }
    static __m512 sign_of(__m512 x, __m512 mag) {  // mag >= 0 with the sign bit of x
        return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(mag), _mm512_castps_si512(x),
                                                             _mm512_set1_epi32(0x80000000), 0xf8));
    }
    static __m512 select_lt(__m512 a, float bound, __m512 if_lt, __m512 otherwise) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(bound), _CMP_LT_OQ), otherwise, if_lt);
    }
};
template <>
struct Lanes<__m256> {
    using V = __m256;
    static __m256 set1(float v) { return _mm256_set1_ps(v); }
    static __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
    static __m256 sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
    static __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
    static __m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
    static __m256 div(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
    static __m256 fraction(__m256 t) { return _mm256_reduce_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static __m256 pow2_round(__m256 t) {
        return _mm256_scalef_ps(set1(1.0f), _mm256_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    static __m256 abs(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
    static __m256 sign_of(__m256 x, __m256 mag) {
        return _mm256_castsi256_ps(_mm256_ternarylogic_epi32(_mm256_castps_si256(mag), _mm256_castps_si256(x),
                                                             _mm256_set1_epi32(0x80000000), 0xf8));
    }
    static __m256 select_lt(__m256 a, float bound, __m256 if_lt, __m256 otherwise) {
        return _mm256_mask_blend_ps(_mm256_cmp_ps_mask(a, _mm256_set1_ps(bound), _CMP_LT_OQ), otherwise, if_lt);
    }
};

template <class V>
inline V sigmoid(V x) { return Pow2Math<Lanes<V>>::sigmoid(x); }
template <class V>
inline V tanh(V x) { return Pow2Math<Lanes<V>>::tanh(x); }
// The same from pre-scaled arguments (pow2_math.h): t = -log2(e) x, u = 2 log2(e) x.
constexpr float kSigmoidScale = Pow2Math<Lanes<__m512>>::kSigmoidScale;
constexpr float kTanhScale = Pow2Math<Lanes<__m512>>::kTanhScale;
template <class V>
inline V sigmoid_of_t(V t) { return Pow2Math<Lanes<V>>::sigmoid_of_t(t); }
template <class V>
inline V tanh_of_u(V u) { return Pow2Math<Lanes<V>>::tanh_of_u(u); }
// w tanh(x) + c (w >= 0) from u = 2 log2(e) x, tanh's last steps folded into the update.
template <class V>
inline V fma_tanh_of_u(V u, V w, V c) { return Pow2Math<Lanes<V>>::fma_tanh_of_u(u, w, c); }

// clamp(x, lo, hi) keeping NaN (kernels/clamp.h): minps / maxps return x, their second operand, if NaN.
inline __m512 clamp(__m512 x, __m512 lo, __m512 hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, x)); }

// The fast rational mode of kernels/scalar/fast_math.h (max abs error 1e-4), as avx2::fast_tanh.
inline __m512 fast_tanh(__m512 x) {
    const __m512 lim = _mm512_set1_ps(fast_math::kClamp);
    const __m512 c = _mm512_min_ps(_mm512_max_ps(x, _mm512_sub_ps(_mm512_setzero_ps(), lim)), lim);
    const __m512 u = _mm512_mul_ps(c, c);
    __m512 num = _mm512_fmadd_ps(u, _mm512_set1_ps(fast_math::kA2), _mm512_set1_ps(fast_math::kA1));
    num = _mm512_mul_ps(c, _mm512_fmadd_ps(u, num, _mm512_set1_ps(fast_math::kA0)));
    __m512 den = _mm512_fmadd_ps(u, _mm512_set1_ps(fast_math::kB2), _mm512_set1_ps(fast_math::kB1));
    den = _mm512_fmadd_ps(u, den, _mm512_set1_ps(1.0f));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(num, den), _mm512_sub_ps(_mm512_setzero_ps(), one)), one);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), t, x);  // NaN in, NaN out
}

inline __m512 fast_sigmoid(__m512 x) {
    const __m512 half = _mm512_set1_ps(0.5f);
    return _mm512_fmadd_ps(half, fast_tanh(_mm512_mul_ps(half, x)), half);
}

}  // namespace avx512
}  // namespace gru_infer
