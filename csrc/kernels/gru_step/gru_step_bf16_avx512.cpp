// AVX-512 bf16 GRU step (both forms), products by vdpbf16ps (AVX512_BF16); same results as the scalar reference.
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c")
#endif
#include "../simd/qbatch_avx512.h"
#include "quant_small_avx512.h"

namespace gru_infer {

// Small layers (1-3 rows) in registers when Avx512QSmall takes them; otherwise the general step.
void gru_step_reset_after_bf16_avx512(const QGruStepArgs& a) {
    if (!Avx512QSmall<WeightFormat::BF16>::lbr(a)) QuantStep<Avx512QBatchOps<WeightFormat::BF16>>::lbr(a);
}
void gru_step_reset_before_bf16_avx512(const QGruStepArgs& a) {
    if (!Avx512QSmall<WeightFormat::BF16>::cho(a)) QuantStep<Avx512QBatchOps<WeightFormat::BF16>>::cho(a);
}

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
