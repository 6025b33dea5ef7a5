// AVX2 + FMA C = A P + bias over gate-interleaved packed tiles (the input projection of whole
// sequences). Micro-kernel: 4 rows of A x one 24-column tile, 12 accumulators; the cache blocking
// is in blocking.h.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx2_target_begin.h"

#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/gemm_packed/blocking.h"

namespace gru_infer {
namespace {

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
    // Lambdas, not function pointers, so the micro-kernels are inlined into the loops: called,
    // GCC 12 -O3 keeps their accumulators on the stack (3x slower, measured).
    gemm_packed_blocked(M, K, A, lda, P, tile_stride, tiles, bias, C, ldc,
                        [](auto... args) { micro<4>(args...); }, [](auto... args) { micro<1>(args...); });
}

}  // namespace gru_infer

#include "kernels/simd/avx2_target_end.h"
#endif  // x86-64
