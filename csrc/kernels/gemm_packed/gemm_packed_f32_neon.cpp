// NEON C = A P + bias over gate-interleaved packed tiles (the input projection of whole sequences).
// Micro-kernel: 4 rows of A x one 24-column tile, 6 registers per row; the cache blocking is in
// blocking.h.
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "kernels/simd/neon_compat.h"

#include "kernels/kernels.h"
#include "kernels/gemm_packed/blocking.h"

namespace gru_infer {
namespace {

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

void gemm_packed_f32_neon(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                          std::size_t tile_stride, std::size_t tiles, const float* bias, float* C,
                          std::size_t ldc) {
    // Lambdas, not function pointers, so the micro-kernels are inlined into the loops: called,
    // GCC 12 -O3 keeps their accumulators on the stack (3x slower, measured).
    gemm_packed_blocked(M, K, A, lda, P, tile_stride, tiles, bias, C, ldc,
                        [](auto... args) { packed_micro<4>(args...); }, [](auto... args) { packed_micro<1>(args...); });
}

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
