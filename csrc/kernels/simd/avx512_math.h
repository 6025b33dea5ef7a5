// Vector exp and sigmoid on 16 lanes for AVX-512F, the same arithmetic as avx2_math.h (max abs
// error below 2e-7; NaN in, NaN out); 2^n is applied with vscalefps. Include only from files
// compiled for AVX-512.
#pragma once
#include <immintrin.h>

#include "kernels/simd/fast_math.h"

namespace gru_infer {
namespace avx512 {

// exp(x) for x in [-88, 87] (callers clamp): x = n ln2 + r, e^r by the polynomial of avx2::exp_clamped.
inline __m512 exp_clamped(__m512 x) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

// The clamp takes x as the second operand of min/max, which they return for NaN: NaN flows through.
inline __m512 sigmoid(__m512 x) {
    const __m512 c = _mm512_min_ps(_mm512_set1_ps(87.0f), _mm512_max_ps(_mm512_set1_ps(-88.0f), x));
    const __m512 e = exp_clamped(_mm512_xor_ps(c, _mm512_set1_ps(-0.0f)));
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

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
