// NEON gemm_nt (dense layers) and gemm_packed (input projection of whole sequences).
#if defined(__aarch64__)
#include <arm_neon.h>

#include "gru_infer/kernels.h"
#include "../gemm_packed_blocking.h"
#include "vec8_neon.h"

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


// MR rows of A x one packed 24-column tile: 6 registers per row.
template <int MR>
inline void packed_micro(std::size_t kc, const float* A, std::size_t lda, const float* P, const float* init,
                         std::size_t ld_init, float* C, std::size_t ldc) {
    float32x4_t c[MR][6];
    for (int i = 0; i < MR; ++i)
        for (int g = 0; g < 6; ++g) c[i][g] = vld1q_f32(init + i * ld_init + 4 * g);
    for (std::size_t k = 0; k < kc; ++k) {
        float32x4_t p[6];
        for (int g = 0; g < 6; ++g) p[g] = vld1q_f32(P + k * kTileRow + 4 * g);
        for (int i = 0; i < MR; ++i) {
            const float a = A[i * lda + k];
            for (int g = 0; g < 6; ++g) c[i][g] = vfmaq_n_f32(c[i][g], p[g], a);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int g = 0; g < 6; ++g) vst1q_f32(C + i * ldc + 4 * g, c[i][g]);
}

}  // namespace

void gemm_nt_f32_neon(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                      const float* B, std::size_t ldb, const float* bias, float* C, std::size_t ldc) {
    std::size_t m = 0;
    for (; m + 2 <= M; m += 2) dot_rows<2>(N, K, A + m * lda, lda, B, ldb, bias, C + m * ldc, ldc);
    if (m < M) dot_rows<1>(N, K, A + m * lda, lda, B, ldb, bias, C + m * ldc, ldc);
}

void gemm_packed_f32_neon(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                          std::size_t tile_stride, std::size_t tiles, const float* bias, float* C,
                          std::size_t ldc) {
    // Lambdas, not function pointers, so the micro-kernels are inlined into the loops: called,
    // GCC 12 -O3 keeps their accumulators on the stack (3x slower, measured).
    gemm_packed_blocked(M, K, A, lda, P, tile_stride, tiles, bias, C, ldc,
                        [](auto... args) { packed_micro<4>(args...); }, [](auto... args) { packed_micro<1>(args...); });
}

}  // namespace gru_infer
#endif  // aarch64
