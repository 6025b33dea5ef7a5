// Vector exp, sigmoid and tanh for AVX2 + FMA, exact to float rounding (max abs error below
// 2e-7, tested on a dense grid in tests/test_vact.cpp), the fast rational mode of fast_math.h, and
// the lane mask for vector tails. Include only after avx2_target_begin.h.
#pragma once
#include <immintrin.h>

#include "kernels/simd/fast_math.h"

namespace gru_infer {
namespace avx2 {

// exp(x) for x in [-87, 88] (callers clamp): x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7
// polynomial (Cephes expf coefficients), 2^n built in the exponent bits.
inline __m256 exp_clamped(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 keep_nan(__m256 result, __m256 x) {
    return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// The clamps take x as their second operand, which min/max return when it is NaN: NaN flows
// through exp and the division, so NaN in gives NaN out with no extra test (also in tanh).
inline __m256 sigmoid(__m256 x) {
    const __m256 c = _mm256_min_ps(_mm256_set1_ps(87.0f), _mm256_max_ps(_mm256_set1_ps(-88.0f), x));
    const __m256 e = exp_clamped(_mm256_xor_ps(c, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// |x| < 0.625: x + x^3 P(x^2) (least-squares fit, error 5e-8); else 1 - 2 / (e^{2|x|} + 1).
inline __m256 tanh(__m256 x) {
    const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 u = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-0.006104478146880865f);
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.021003227680921555f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.053852375596761703f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(0.13332781195640564f));
    p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(-0.333333283662796f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, u), p, x);
    const __m256 e = exp_clamped(_mm256_min_ps(_mm256_set1_ps(20.0f), _mm256_add_ps(ax, ax)));
    const __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                                     _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    const __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    return _mm256_blendv_ps(_mm256_or_ps(big, sign), small, is_small);  // NaN: not small, big is NaN
}

inline __m256 fast_tanh(__m256 x) {
    const __m256 lim = _mm256_set1_ps(fast_math::kClamp);
    const __m256 c = _mm256_min_ps(_mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim);
    const __m256 u = _mm256_mul_ps(c, c);
    __m256 num = _mm256_fmadd_ps(u, _mm256_set1_ps(fast_math::kA2), _mm256_set1_ps(fast_math::kA1));
    num = _mm256_mul_ps(c, _mm256_fmadd_ps(u, num, _mm256_set1_ps(fast_math::kA0)));
    __m256 den = _mm256_fmadd_ps(u, _mm256_set1_ps(fast_math::kB2), _mm256_set1_ps(fast_math::kB1));
    den = _mm256_fmadd_ps(u, den, _mm256_set1_ps(1.0f));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(num, den), _mm256_sub_ps(_mm256_setzero_ps(), one)), one);
    return keep_nan(t, x);
}

inline __m256 fast_sigmoid(__m256 x) {
    const __m256 half = _mm256_set1_ps(0.5f);
    return _mm256_fmadd_ps(half, fast_tanh(_mm256_mul_ps(half, x)), half);
}

// Lane mask for the first `rem` lanes (rem in 0..8).
inline __m256i tail_mask(std::size_t rem) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), idx);
}

}  // namespace avx2
}  // namespace gru_infer
