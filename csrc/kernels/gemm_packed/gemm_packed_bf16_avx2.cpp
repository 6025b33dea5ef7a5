// AVX2 bf16 packed GEMM (input projections, Dense) by widening to fp32; same results as the scalar reference.
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif
#include "../simd/qbatch_avx2.h"

namespace gru_infer {

void gemm_packed_bf16_avx2(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                          const float* init, float* C, std::size_t ldc, void* scratch) {
    QuantStep<Avx2QBatchOps<WeightFormat::BF16>>::gemm(M, A, lda, m, a_scale, init, C, ldc, scratch);
}

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
