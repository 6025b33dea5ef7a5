// AVX-512 fp16 GRU step (both forms), products by vcvtph2ps + FMA; same results as the scalar reference.
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#endif
#include "../simd/qbatch_avx512.h"

namespace gru_infer {

// No small-layer path (Avx512QSmall): fp16 layers of up to kQSmallTiles tiles run the fp32 kernels
// on this table (its fp32_max_hidden, quant_dispatch.cpp), which are faster there.
void gru_step_reset_after_fp16_avx512(const QGruStepArgs& a) { QuantStep<Avx512QBatchOps<WeightFormat::F16>>::lbr(a); }
void gru_step_reset_before_fp16_avx512(const QGruStepArgs& a) { QuantStep<Avx512QBatchOps<WeightFormat::F16>>::cho(a); }

}  // namespace gru_infer

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif  // x86-64
