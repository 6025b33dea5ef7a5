// Two packed GRU tiles side by side on AVX-512 (the batch step and the projection GEMM): tile t's
// packed row k (24 floats: z, r, n of 8 units) and tile t + 1's make 48 floats, three zmm
// [z r] [n z'] [r' n'], so that every FMA is a 512-bit one (a tile alone needs a 256-bit FMA for
// its n, at half the work on the same port). Include after avx512_target_begin.h. (An anonymous
// namespace: each file's copy is compiled for that file's target.)
#pragma once
#include <immintrin.h>

#include <cstddef>

#include "kernels/kernels.h"

namespace gru_infer {
namespace {

[[gnu::always_inline]] inline __m512 concat(__m256 lo, __m256 hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

// A[i] += v_i[k] [z r], B[i] += v_i[k] [n z'], C[i] += v_i[k] [r' n'] over k < K for the packed
// rows of tiles w0 and w1 = w0's next (the middle vector from two 32-byte loads).
template <int MR>
[[gnu::always_inline]] inline void tile_pair_products(const float* w0, const float* w1, const float* v, std::size_t ldv,
                                                      std::size_t K, __m512 (&A)[MR], __m512 (&B)[MR], __m512 (&C)[MR]) {
    for (std::size_t k = 0; k < K; ++k) {
        const float* p0 = w0 + k * kTileRow;
        const float* p1 = w1 + k * kTileRow;
        const __m512 q0 = _mm512_loadu_ps(p0), q1 = concat(_mm256_load_ps(p0 + 16), _mm256_load_ps(p1)),
                     q2 = _mm512_loadu_ps(p1 + 8);
        for (int i = 0; i < MR; ++i) {
            const __m512 b = _mm512_set1_ps(v[i * ldv + k]);
            A[i] = _mm512_fmadd_ps(b, q0, A[i]);
            B[i] = _mm512_fmadd_ps(b, q1, B[i]);
            C[i] = _mm512_fmadd_ps(b, q2, C[i]);
        }
    }
}

}  // namespace
}  // namespace gru_infer
