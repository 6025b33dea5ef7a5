// AMX int8 GRU step (both forms): steps of 16+ rows by TDPBUSD (AMX-INT8) tiles (simd/amx_tiles.h), fewer
// rows (small layers among them) by the AVX-512 table's kernels.
#if defined(__x86_64__) || defined(_M_X64)
#include "../simd/amx_target_begin.h"
#include "../simd/amx_tiles.h"

namespace gru_infer {

void gru_step_reset_after_int8_avx512(const QGruStepArgs& a);
void gru_step_reset_before_int8_avx512(const QGruStepArgs& a);

void gru_step_reset_after_int8_amx(const QGruStepArgs& a) {
    if (a.rows < kAmxRows) return gru_step_reset_after_int8_avx512(a);
    AmxKernels<WeightFormat::Int8, amx::NativeTiles>::lbr(a);
}
void gru_step_reset_before_int8_amx(const QGruStepArgs& a) {
    if (a.rows < kAmxRows) return gru_step_reset_before_int8_avx512(a);
    AmxKernels<WeightFormat::Int8, amx::NativeTiles>::cho(a);
}

}  // namespace gru_infer

#include "../simd/amx_target_end.h"
#endif  // x86-64
