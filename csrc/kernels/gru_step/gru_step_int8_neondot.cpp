// NEON int8 GRU step (both forms), products by sdot (vdotq_s32, the dot-product extension; used when the CPU has it); same results as the scalar reference.
#if defined(__aarch64__)
#pragma GCC target("arch=armv8.2-a+dotprod")
#include "../simd/qops_neon.h"

namespace gru_infer {

void gru_step_reset_after_int8_neondot(const QGruStepArgs& a) { QuantStep<NeonQOps<WeightFormat::Int8, true>>::lbr(a); }
void gru_step_reset_before_int8_neondot(const QGruStepArgs& a) { QuantStep<NeonQOps<WeightFormat::Int8, true>>::cho(a); }

}  // namespace gru_infer
#endif  // aarch64
