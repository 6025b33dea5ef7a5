// NEON int8 GRU step (both forms), products by widening multiplies (vmull_s8); same results as the scalar reference.
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "../simd/qops_neon.h"

namespace gru_infer {

void gru_step_reset_after_int8_neon(const QGruStepArgs& a) { QuantStep<NeonQOps<WeightFormat::Int8, false>>::lbr(a); }
void gru_step_reset_before_int8_neon(const QGruStepArgs& a) { QuantStep<NeonQOps<WeightFormat::Int8, false>>::cho(a); }

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
