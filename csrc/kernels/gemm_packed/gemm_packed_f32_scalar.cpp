// Scalar reference: C = A P + bias over gate-interleaved packed tiles.
#include "kernels/kernels.h"

namespace gru_infer {

void gemm_packed_f32_scalar(std::size_t M, std::size_t K, const float* A, std::size_t lda,
                            const float* P, std::size_t tile_stride, std::size_t tiles,
                            const float* bias, float* C, std::size_t ldc) {
    for (std::size_t m = 0; m < M; ++m)
        for (std::size_t t = 0; t < tiles; ++t) {
            float acc[kTileRow];
            for (std::size_t c = 0; c < kTileRow; ++c) acc[c] = bias ? bias[t * kTileRow + c] : 0.0f;
            const float* p = P + t * tile_stride;
            for (std::size_t k = 0; k < K; ++k)
                for (std::size_t c = 0; c < kTileRow; ++c) acc[c] += A[m * lda + k] * p[k * kTileRow + c];
            for (std::size_t c = 0; c < kTileRow; ++c) C[m * ldc + t * kTileRow + c] = acc[c];
        }
}

}  // namespace gru_infer
