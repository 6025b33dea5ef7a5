// AMX bf16 packed GEMM (input projections, Dense): 16+ rows by TDPBF16PS (AMX-BF16) tiles (simd/amx_tiles.h),
// fewer by the AVX-512 table's kernel.
#if defined(__x86_64__) || defined(_M_X64)
#include "../simd/amx_target_begin.h"
#include "../simd/amx_tiles.h"

namespace gru_infer {

void gemm_packed_bf16_avx512(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                            const float* init, float* C, std::size_t ldc, void* scratch);

void gemm_packed_bf16_amx(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                         const float* init, float* C, std::size_t ldc, void* scratch) {
    if (M < kAmxRows) return gemm_packed_bf16_avx512(M, A, lda, m, a_scale, init, C, ldc, scratch);
    AmxKernels<WeightFormat::BF16, amx::NativeTiles>::gemm(M, A, lda, m, a_scale, init, C, ldc, scratch);
}

}  // namespace gru_infer

#include "../simd/amx_target_end.h"
#endif  // x86-64
