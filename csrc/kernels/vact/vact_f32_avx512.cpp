// Element-wise sigmoid and tanh in the AVX-512 table. sigmoid: 16 lanes, the tail through a lane
// mask, with avx512::sigmoid (the function the GRU step uses for z and r, so test_vact checks its
// accuracy over the dense grid too); tanh: the AVX2 kernel.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx512_target_begin.h"

#include <immintrin.h>

#include "kernels/simd/avx512_math.h"

namespace gru_infer {

void tanh_f32_avx2(std::size_t n, const float* x, float* y);

void sigmoid_f32_avx512(std::size_t n, const float* x, float* y) {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, avx512::sigmoid(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, k, avx512::sigmoid(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

void tanh_f32_avx512(std::size_t n, const float* x, float* y) { tanh_f32_avx2(n, x, y); }

}  // namespace gru_infer

#include "kernels/simd/avx512_target_end.h"
#endif  // x86-64
