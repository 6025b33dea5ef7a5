// AVX2 + FMA gemm_nt: C = A B^T + bias, tiles of 2 rows of A x 4 rows of B, each a dot product
// over K in 8-float lanes with a masked tail. Compiled for AVX2 whatever the global flags are;
// only called after CPUID says the CPU has AVX2 and FMA.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx2_target_begin.h"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/simd/avx2_math.h"

namespace gru_infer {
namespace {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Sum each of four vectors: {hsum(a), hsum(b), hsum(c), hsum(d)}.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

template <int MR, int NR>
inline void tile(std::size_t K, const float* A, std::size_t lda, const float* B, std::size_t ldb,
                 const float* bias, float* C, std::size_t ldc) {
    __m256 acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
    std::size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 b[NR];
        for (int j = 0; j < NR; ++j) b[j] = _mm256_loadu_ps(B + j * ldb + k);
        for (int i = 0; i < MR; ++i) {
            __m256 a = _mm256_loadu_ps(A + i * lda + k);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
    if (k < K) {
        const __m256i mask = avx2::tail_mask(K - k);
        __m256 b[NR];
        for (int j = 0; j < NR; ++j) b[j] = _mm256_maskload_ps(B + j * ldb + k, mask);
        for (int i = 0; i < MR; ++i) {
            __m256 a = _mm256_maskload_ps(A + i * lda + k, mask);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; ++i) {
        if (NR == 4) {
            __m128 s = hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
            if (bias) s = _mm_add_ps(s, _mm_loadu_ps(bias));
            _mm_storeu_ps(C + i * ldc, s);
        } else {
            for (int j = 0; j < NR; ++j) C[i * ldc + j] = hsum(acc[i][j]) + (bias ? bias[j] : 0.0f);
        }
    }
}

template <int MR>
inline void row_block(std::size_t N, std::size_t K, const float* A, std::size_t lda,
                      const float* B, std::size_t ldb, const float* bias, float* C,
                      std::size_t ldc) {
    std::size_t n = 0;
    for (; n + 4 <= N; n += 4)
        tile<MR, 4>(K, A, lda, B + n * ldb, ldb, bias ? bias + n : nullptr, C + n, ldc);
    for (; n < N; ++n)
        tile<MR, 1>(K, A, lda, B + n * ldb, ldb, bias ? bias + n : nullptr, C + n, ldc);
}

}  // namespace

void gemm_nt_f32_avx2(std::size_t M, std::size_t N, std::size_t K, const float* A,
                      std::size_t lda, const float* B, std::size_t ldb, const float* bias,
                      float* C, std::size_t ldc) {
    std::size_t m = 0;
    for (; m + 2 <= M; m += 2) row_block<2>(N, K, A + m * lda, lda, B, ldb, bias, C + m * ldc, ldc);
    if (m < M) row_block<1>(N, K, A + m * lda, lda, B, ldb, bias, C + m * ldc, ldc);
}

}  // namespace gru_infer

#include "kernels/simd/avx2_target_end.h"
#endif  // x86-64
