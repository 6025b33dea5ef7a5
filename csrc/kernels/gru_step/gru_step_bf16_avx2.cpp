// AVX2 bf16 GRU step (both forms), products by widening to fp32; same results as the scalar reference.
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
void gru_step_reset_after_bf16_avx2(const QGruStepArgs& a) {
    if (!Avx2QSmall<WeightFormat::BF16>::lbr(a)) QuantStep<Avx2QBatchOps<WeightFormat::BF16>>::lbr(a);
}
void gru_step_reset_before_bf16_avx2(const QGruStepArgs& a) {
    if (!Avx2QSmall<WeightFormat::BF16>::cho(a)) QuantStep<Avx2QBatchOps<WeightFormat::BF16>>::cho(a);
}

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
