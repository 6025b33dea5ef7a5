// NEON bf16 GRU step (both forms), products by widening to fp32; same results as the scalar reference.
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "../simd/qops_neon.h"

namespace gru_infer {

void gru_step_reset_after_bf16_neon(const QGruStepArgs& a) { QuantStep<NeonQOps<WeightFormat::BF16, false>>::lbr(a); }
void gru_step_reset_before_bf16_neon(const QGruStepArgs& a) { QuantStep<NeonQOps<WeightFormat::BF16, false>>::cho(a); }

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
