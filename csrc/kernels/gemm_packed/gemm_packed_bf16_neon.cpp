// NEON bf16 packed GEMM (input projections, Dense), products by widening to fp32; same results as the scalar reference.
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "../simd/qops_neon.h"

namespace gru_infer {

void gemm_packed_bf16_neon(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                            const float* init, float* C, std::size_t ldc, void* scratch) {
    QuantStep<NeonQOps<WeightFormat::BF16, false>>::gemm(M, A, lda, m, a_scale, init, C, ldc, scratch);
}

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
