// Vector exp, sigmoid and tanh for AVX2 + FMA, exact to float rounding (max abs error below
// 2e-7, tested on a dense grid in tests/test_vact.cpp), the fast rational mode of fast_math.h, and
// the lane mask for vector tails. Include only after avx2_target_begin.h.
#pragma once
#include <immintrin.h>

#include "kernels/simd/fast_math.h"
#include "kernels/simd/pow2_math.h"

namespace gru_infer {
namespace avx2 {

// The exact exp-based exp, sigmoid and tanh of the AVX2 activation kernels (vact), over a lane type
// L (Avx2Lanes below, whose operations pow2_math.h's Pow2LanesEmulated also builds on for the GRU
// steps' gates: Pow2 below).
template <class L>
struct ExactMath {
    using V = typename L::V;
    // exp(x) for x in [-87, 88] (callers clamp): x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7
    // polynomial (Cephes expf coefficients), 2^n built in the exponent bits.
    static V exp_clamped(V x) {
        const V n = L::round(L::mul(x, L::set1(1.44269504088896341f)));
        V r = L::fnmadd(n, L::set1(0.693359375f), x);
        r = L::fnmadd(n, L::set1(-2.12194440e-4f), r);
        V p = L::set1(1.9875691500e-4f);
        p = L::fma(p, r, L::set1(1.3981999507e-3f));
        p = L::fma(p, r, L::set1(8.3334519073e-3f));
        p = L::fma(p, r, L::set1(4.1665795894e-2f));
        p = L::fma(p, r, L::set1(1.6666665459e-1f));
        p = L::fma(p, r, L::set1(5.0000001201e-1f));
        p = L::fma(p, L::mul(r, r), L::add(r, L::set1(1.0f)));
        return L::mul(p, L::pow2i(n));
    }
    // The clamps take x as their second operand, which min/max return when it is NaN: NaN flows
    // through exp and the division, so NaN in gives NaN out with no extra test (also in tanh).
    static V sigmoid(V x) {
        const V c = L::min(L::set1(87.0f), L::max(L::set1(-88.0f), x));
        const V e = exp_clamped(L::bit_xor(c, L::set1(-0.0f)));
        return L::div(L::set1(1.0f), L::add(L::set1(1.0f), e));
    }
    // |x| < 0.625: x + x^3 P(x^2) (least-squares fit, error 5e-8); else 1 - 2 / (e^{2|x|} + 1).
    static V tanh(V x) {
        const V sign = L::bit_and(x, L::set1(-0.0f));
        const V ax = L::bit_andnot(L::set1(-0.0f), x);
        const V u = L::mul(x, x);
        V p = L::set1(-0.006104478146880865f);
        p = L::fma(p, u, L::set1(0.021003227680921555f));
        p = L::fma(p, u, L::set1(-0.053852375596761703f));
        p = L::fma(p, u, L::set1(0.13332781195640564f));
        p = L::fma(p, u, L::set1(-0.333333283662796f));
        const V small = L::fma(L::mul(x, u), p, x);
        const V e = exp_clamped(L::min(L::set1(20.0f), L::add(ax, ax)));
        const V big = L::sub(L::set1(1.0f), L::div(L::set1(2.0f), L::add(e, L::set1(1.0f))));
        return L::select_lt(ax, 0.625f, small, L::bit_or(big, sign));  // NaN: not small, big is NaN
    }
};

struct Avx2Lanes {
    using V = __m256;
    static V set1(float v) { return _mm256_set1_ps(v); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V div(V a, V b) { return _mm256_div_ps(a, b); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
    static V min(V a, V b) { return _mm256_min_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V bit_xor(V a, V b) { return _mm256_xor_ps(a, b); }
    static V bit_and(V a, V b) { return _mm256_and_ps(a, b); }
    static V bit_andnot(V a, V b) { return _mm256_andnot_ps(a, b); }
    static V bit_or(V a, V b) { return _mm256_or_ps(a, b); }
    static V round(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static V pow2i(V n) {  // 2^n for integral n in [-126, 127]
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
    }
    static V select_lt(V a, float bound, V if_lt, V otherwise) {
        return _mm256_blendv_ps(otherwise, if_lt, _mm256_cmp_ps(a, _mm256_set1_ps(bound), _CMP_LT_OQ));
    }
    static V abs(V x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
    static V sign_of(V x, V mag) { return _mm256_or_ps(mag, _mm256_and_ps(x, _mm256_set1_ps(-0.0f))); }
};

// The sigmoid and tanh of pow2_math.h (AVX-512's, with vreduceps and vscalefps emulated): the
// reduced-precision kernels' gates, bit for bit those of every ISA.
using Pow2 = Pow2Math<Pow2LanesEmulated<Avx2Lanes>>;

inline __m256 exp_clamped(__m256 x) { return ExactMath<Avx2Lanes>::exp_clamped(x); }
inline __m256 sigmoid(__m256 x) { return ExactMath<Avx2Lanes>::sigmoid(x); }
inline __m256 tanh(__m256 x) { return ExactMath<Avx2Lanes>::tanh(x); }

// clamp(x, lo, hi) keeping NaN (kernels/clamp.h): minps / maxps return x, their second operand, if NaN.
inline __m256 clamp(__m256 x, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }

inline __m256 keep_nan(__m256 result, __m256 x) {
    return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
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
