// NEON vector activations: y = sigmoid(x), y = tanh(x) over n values (neon_math.h).
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "kernels/simd/neon_compat.h"

#include <cstddef>

#include "kernels/simd/neon_math.h"

namespace gru_infer {

using neon::V8;

namespace {

// y = f(x) over n values, 8 at a time, the tail through a small copy.
template <typename F>
inline void map8(std::size_t n, const float* x, float* y, F f) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) neon::store(y + i, f(neon::load(x + i)));
    if (i < n) neon::store_lanes(y + i, f(neon::load_lanes(x + i, n - i)), n - i);
}

}  // namespace

void sigmoid_f32_neon(std::size_t n, const float* x, float* y) { map8(n, x, y, [](V8 v) { return neon::sigmoid(v); }); }
void tanh_f32_neon(std::size_t n, const float* x, float* y) { map8(n, x, y, [](V8 v) { return neon::tanh(v); }); }

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
