// NEON gemm_nt: C = A B^T + bias (dense layers and the generic GRU path), tiles of 2 rows of A x
// 4 rows of B, dot products over K in 4-float lanes with a scalar tail.
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "kernels/simd/neon_compat.h"

#include <cstddef>

namespace gru_infer {
namespace {

// One output block: MR rows of A against 4 (or 1) rows of B, dot products over K.
template <int MR, int NR>
inline void dot_tile(std::size_t K, const float* A, std::size_t lda, const float* B, std::size_t ldb,
                     const float* bias, float* C, std::size_t ldc) {
    float32x4_t acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = vdupq_n_f32(0.0f);
    std::size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        float32x4_t b[NR];
        for (int j = 0; j < NR; ++j) b[j] = vld1q_f32(B + j * ldb + k);
        for (int i = 0; i < MR; ++i) {
            const float32x4_t a = vld1q_f32(A + i * lda + k);
            for (int j = 0; j < NR; ++j) acc[i][j] = vfmaq_f32(acc[i][j], a, b[j]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
            float s = vaddvq_f32(acc[i][j]);
            for (std::size_t kk = k; kk < K; ++kk) s += A[i * lda + kk] * B[j * ldb + kk];
            C[i * ldc + j] = s + (bias ? bias[j] : 0.0f);
        }
}

template <int MR>
inline void dot_rows(std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                     std::size_t ldb, const float* bias, float* C, std::size_t ldc) {
    std::size_t n = 0;
    for (; n + 4 <= N; n += 4) dot_tile<MR, 4>(K, A, lda, B + n * ldb, ldb, bias ? bias + n : nullptr, C + n, ldc);
    for (; n < N; ++n) dot_tile<MR, 1>(K, A, lda, B + n * ldb, ldb, bias ? bias + n : nullptr, C + n, ldc);
}


}  // namespace

void gemm_nt_f32_neon(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                      const float* B, std::size_t ldb, const float* bias, float* C, std::size_t ldc) {
    std::size_t m = 0;
    for (; m + 2 <= M; m += 2) dot_rows<2>(N, K, A + m * lda, lda, B, ldb, bias, C + m * ldc, ldc);
    if (m < M) dot_rows<1>(N, K, A + m * lda, lda, B, ldb, bias, C + m * ldc, ldc);
}

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
