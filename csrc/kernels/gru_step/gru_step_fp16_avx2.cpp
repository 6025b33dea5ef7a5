// AVX2 fp16 GRU step (both forms), products by F16C widening; same results as the scalar reference.
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif
#include "../simd/qbatch_avx2.h"
#include "quant_small_avx2.h"

namespace gru_infer {

// Small layers (1-3 rows) in registers when Avx2QSmall takes them; otherwise the general step.
void gru_step_reset_after_fp16_avx2(const QGruStepArgs& a) {
    if (!Avx2QSmall<WeightFormat::F16>::lbr(a)) QuantStep<Avx2QBatchOps<WeightFormat::F16>>::lbr(a);
}
void gru_step_reset_before_fp16_avx2(const QGruStepArgs& a) {
    if (!Avx2QSmall<WeightFormat::F16>::cho(a)) QuantStep<Avx2QBatchOps<WeightFormat::F16>>::cho(a);
}

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
