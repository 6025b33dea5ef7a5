// Scalar reference: C = A B^T + bias. Every optimised gemm_nt is tested against this one.
#include <cstddef>

namespace gru_infer {

void gemm_nt_f32_scalar(std::size_t M, std::size_t N, std::size_t K, const float* A,
                        std::size_t lda, const float* B, std::size_t ldb, const float* bias,
                        float* C, std::size_t ldc) {
    for (std::size_t m = 0; m < M; ++m) {
        const float* a = A + m * lda;
        for (std::size_t n = 0; n < N; ++n) {
            const float* b = B + n * ldb;
            float acc = 0.0f;
            for (std::size_t k = 0; k < K; ++k) acc += a[k] * b[k];
            C[m * ldc + n] = acc + (bias ? bias[n] : 0.0f);
        }
    }
}

}  // namespace gru_infer
