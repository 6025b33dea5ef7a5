// AVX2 + FMA vector activations: y = sigmoid(x), y = tanh(x) over n values (avx2_math.h).
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx2_target_begin.h"

#include <immintrin.h>

#include <cstddef>

#include "kernels/simd/avx2_math.h"

namespace gru_infer {
namespace {

// y = f(x) over n values, 8 at a time, the tail through a lane mask.
template <typename F>
inline void map8(std::size_t n, const float* x, float* y, F f) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i mask = avx2::tail_mask(n - i);
        _mm256_maskstore_ps(y + i, mask, f(_mm256_maskload_ps(x + i, mask)));
    }
}

}  // namespace

void sigmoid_f32_avx2(std::size_t n, const float* x, float* y) { map8(n, x, y, [](__m256 v) { return avx2::sigmoid(v); }); }
void tanh_f32_avx2(std::size_t n, const float* x, float* y) { map8(n, x, y, [](__m256 v) { return avx2::tanh(v); }); }

}  // namespace gru_infer

#include "kernels/simd/avx2_target_end.h"
#endif  // x86-64
