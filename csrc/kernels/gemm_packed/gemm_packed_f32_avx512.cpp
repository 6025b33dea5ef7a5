// AVX-512 C = A P + bias over gate-interleaved packed tiles (the input projection of whole
// sequences, the recurrent product of batches). A tile's packed row of 24 floats is one zmm (16)
// and one ymm (8): the two halves go to different FMA ports (512-bit on port 5, 256-bit on
// ports 0 and 1), so together they keep all three busy. Micro-kernel: 8 rows of A x one tile,
// 16 accumulators. The cache blocking is blocking.h's (its block sizes), with 8-row steps.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx512_target_begin.h"

#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/gemm_packed/blocking.h"

namespace gru_infer {
namespace {

template <int MR>
inline void micro(std::size_t kc, const float* A, std::size_t lda, const float* P, const float* init,
                  std::size_t ld_init, float* C, std::size_t ldc) {
    __m512 lo[MR];
    __m256 hi[MR];
    for (int i = 0; i < MR; ++i) {
        lo[i] = init ? _mm512_loadu_ps(init + i * ld_init) : _mm512_setzero_ps();
        hi[i] = init ? _mm256_loadu_ps(init + i * ld_init + 16) : _mm256_setzero_ps();
    }
    for (std::size_t k = 0; k < kc; ++k) {
        const __m512 p0 = _mm512_loadu_ps(P + k * kTileRow);  // rows are 96 bytes: 32-byte aligned only
        const __m256 p1 = _mm256_load_ps(P + k * kTileRow + 16);
        for (int i = 0; i < MR; ++i) {
            const __m512 a = _mm512_set1_ps(A[i * lda + k]);
            lo[i] = _mm512_fmadd_ps(a, p0, lo[i]);
            hi[i] = _mm256_fmadd_ps(_mm512_castps512_ps256(a), p1, hi[i]);
        }
    }
    for (int i = 0; i < MR; ++i) {
        _mm512_storeu_ps(C + i * ldc, lo[i]);
        _mm256_storeu_ps(C + i * ldc + 16, hi[i]);
    }
}

template <int MR>
inline void rows_of_tile(std::size_t m0, std::size_t m1, std::size_t kc, bool first, const float* A, std::size_t lda,
                         const float* Pt, const float* b, float* C, std::size_t ldc) {
    for (std::size_t m = m0; m + MR <= m1; m += MR) {
        float* Cm = C + m * ldc;
        micro<MR>(kc, A + m * lda, lda, Pt, first ? b : Cm, first ? 0 : ldc, Cm, ldc);
    }
}

}  // namespace

void gemm_packed_f32_avx512(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                            std::size_t tile_stride, std::size_t tiles, const float* bias, float* C,
                            std::size_t ldc) {
    static const float zeros[kTileRow] = {};
    if (K == 0) {
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t t = 0; t < tiles; ++t)
                micro<1>(0, A, lda, P, bias ? bias + t * kTileRow : zeros, 0, C + m * ldc + t * kTileRow, ldc);
        return;
    }
    for (std::size_t k0 = 0; k0 < K; k0 += kGemmKc) {
        const std::size_t kc = K - k0 < kGemmKc ? K - k0 : kGemmKc;
        for (std::size_t m0 = 0; m0 < M; m0 += kGemmMc) {
            const std::size_t m1 = M - m0 < kGemmMc ? M : m0 + kGemmMc, m8 = m0 + (m1 - m0) / 8 * 8;
            const std::size_t m4 = m8 + (m1 - m8) / 4 * 4;
            for (std::size_t t = 0; t < tiles; ++t) {
                const float* Pt = P + t * tile_stride + k0 * kTileRow;
                const float* b = bias ? bias + t * kTileRow : zeros;
                const float* Ak = A + k0;
                float* Ct = C + t * kTileRow;
                rows_of_tile<8>(m0, m8, kc, k0 == 0, Ak, lda, Pt, b, Ct, ldc);
                rows_of_tile<4>(m8, m4, kc, k0 == 0, Ak, lda, Pt, b, Ct, ldc);
                rows_of_tile<1>(m4, m1, kc, k0 == 0, Ak, lda, Pt, b, Ct, ldc);
            }
        }
    }
}

}  // namespace gru_infer

#include "kernels/simd/avx512_target_end.h"
#endif  // x86-64
