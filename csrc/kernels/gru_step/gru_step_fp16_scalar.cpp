// Scalar reference of the fp16 GRU step (both forms): the arithmetic of quant_kernels.h.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif
#include "../simd/qops_scalar.h"

namespace gru_infer {

void gru_step_reset_after_fp16_scalar(const QGruStepArgs& a) { QuantStep<ScalarQOps<WeightFormat::F16>>::lbr(a); }
void gru_step_reset_before_fp16_scalar(const QGruStepArgs& a) { QuantStep<ScalarQOps<WeightFormat::F16>>::cho(a); }

}  // namespace gru_infer
