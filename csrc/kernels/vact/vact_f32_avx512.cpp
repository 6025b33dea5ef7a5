// Element-wise sigmoid and tanh in the AVX-512 table: 16 lanes, the tail through a lane mask, with
// avx512::sigmoid and avx512::tanh (the functions the GRU step uses for its gates, so test_vact
// checks their accuracy over the dense grid too).
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx512_target_begin.h"

#include <immintrin.h>

#include "kernels/simd/avx512_math.h"

namespace gru_infer {

namespace {

template <__m512 (*F)(__m512)>
void apply(std::size_t n, const float* x, float* y) {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, F(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, k, F(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

}  // namespace

void sigmoid_f32_avx512(std::size_t n, const float* x, float* y) { apply<avx512::sigmoid<__m512>>(n, x, y); }
void tanh_f32_avx512(std::size_t n, const float* x, float* y) { apply<avx512::tanh<__m512>>(n, x, y); }

}  // namespace gru_infer

#include "kernels/simd/avx512_target_end.h"
#endif  // x86-64
