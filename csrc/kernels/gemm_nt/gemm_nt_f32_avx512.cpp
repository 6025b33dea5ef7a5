// gemm_nt in the AVX-512 table: the AVX2 kernel (Dense layers and the generic GRU path; not
// rewritten for AVX-512 yet).
#if defined(__x86_64__) || defined(_M_X64)
#include <cstddef>

namespace gru_infer {

void gemm_nt_f32_avx2(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                      std::size_t ldb, const float* bias, float* C, std::size_t ldc);

void gemm_nt_f32_avx512(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                        std::size_t ldb, const float* bias, float* C, std::size_t ldc) {
    gemm_nt_f32_avx2(M, N, K, A, lda, B, ldb, bias, C, ldc);
}

}  // namespace gru_infer
#endif  // x86-64
