// Scalar reference of the fp16 packed GEMM (input projections, Dense): quant_kernels.h.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif
#include "../simd/qops_scalar.h"

namespace gru_infer {

void gemm_packed_fp16_scalar(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                            const float* init, float* C, std::size_t ldc, void* scratch) {
    QuantStep<ScalarQOps<WeightFormat::F16>>::gemm(M, A, lda, m, a_scale, init, C, ldc, scratch);
}

}  // namespace gru_infer
