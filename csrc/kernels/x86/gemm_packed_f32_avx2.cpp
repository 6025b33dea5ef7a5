// AVX2 + FMA C = A P + bias over gate-interleaved packed tiles (the input projection of whole
// sequences). Micro-kernel: 4 rows of A x one 24-column tile, 12 accumulators. K is cut in blocks
// of kKc and M in blocks of kMc, so a block of A (kMc x kKc floats, 256 KB) stays in L2 while
// every tile passes over it, and a tile's block (kKc x 24 floats, 24 KB) stays in L1 while the
// rows of A pass by.
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>

#include "gru_infer/kernels.h"

namespace gru_infer {
namespace {

constexpr std::size_t kKc = 256;
constexpr std::size_t kMc = 256;

template <int MR>
inline void micro(std::size_t kc, const float* A, std::size_t lda, const float* P, const float* init,
                  std::size_t ld_init, float* C, std::size_t ldc) {
    __m256 c[MR][3];
    for (int i = 0; i < MR; ++i)
        for (int g = 0; g < 3; ++g)
            c[i][g] = init ? _mm256_loadu_ps(init + i * ld_init + 8 * g) : _mm256_setzero_ps();
    for (std::size_t k = 0; k < kc; ++k) {
        const __m256 p0 = _mm256_load_ps(P + k * kTileRow);
        const __m256 p1 = _mm256_load_ps(P + k * kTileRow + 8);
        const __m256 p2 = _mm256_load_ps(P + k * kTileRow + 16);
        for (int i = 0; i < MR; ++i) {
            const __m256 a = _mm256_broadcast_ss(A + i * lda + k);
            c[i][0] = _mm256_fmadd_ps(a, p0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, p1, c[i][1]);
            c[i][2] = _mm256_fmadd_ps(a, p2, c[i][2]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int g = 0; g < 3; ++g) _mm256_storeu_ps(C + i * ldc + 8 * g, c[i][g]);
}

}  // namespace

void gemm_packed_f32_avx2(std::size_t M, std::size_t K, const float* A, std::size_t lda,
                          const float* P, std::size_t tile_stride, std::size_t tiles,
                          const float* bias, float* C, std::size_t ldc) {
    static const float zeros[kTileRow] = {};
    if (K == 0) {  // nothing to accumulate: C = bias
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t t = 0; t < tiles; ++t)
                micro<1>(0, A, lda, P, bias ? bias + t * kTileRow : zeros, 0, C + m * ldc + t * kTileRow, ldc);
        return;
    }
    for (std::size_t k0 = 0; k0 < K; k0 += kKc) {
        const std::size_t kc = K - k0 < kKc ? K - k0 : kKc;
        for (std::size_t m0 = 0; m0 < M; m0 += kMc) {
            const std::size_t m1 = M - m0 < kMc ? M : m0 + kMc;
            for (std::size_t t = 0; t < tiles; ++t) {
                const float* Pt = P + t * tile_stride + k0 * kTileRow;
                // The first K block starts from the bias (broadcast over rows), later ones from C.
                const float* b = bias ? bias + t * kTileRow : zeros;
                std::size_t m = m0;
                for (; m + 4 <= m1; m += 4) {
                    float* Cm = C + m * ldc + t * kTileRow;
                    micro<4>(kc, A + m * lda + k0, lda, Pt, k0 == 0 ? b : Cm, k0 == 0 ? 0 : ldc, Cm, ldc);
                }
                for (; m < m1; ++m) {
                    float* Cm = C + m * ldc + t * kTileRow;
                    micro<1>(kc, A + m * lda + k0, lda, Pt, k0 == 0 ? b : Cm, k0 == 0 ? 0 : ldc, Cm, ldc);
                }
            }
        }
    }
}

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
