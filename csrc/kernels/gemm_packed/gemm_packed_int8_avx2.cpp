// AVX2 int8 packed GEMM (input projections, Dense) by vpmaddubsw/vpmaddwd (exact int32 sums); same results as the scalar reference.
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif
#include "../simd/qbatch_avx2.h"

namespace gru_infer {

void gemm_packed_int8_avx2(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                          const float* init, float* C, std::size_t ldc, void* scratch) {
    QuantStep<Avx2QBatchOps<WeightFormat::Int8>>::gemm(M, A, lda, m, a_scale, init, C, ldc, scratch);
}

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
