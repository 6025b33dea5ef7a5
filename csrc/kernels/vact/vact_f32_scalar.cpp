// Scalar reference of the vector activations: y = sigmoid(x), y = tanh(x) over n values, libm exact.
#include <cmath>
#include <cstddef>

namespace gru_infer {

void sigmoid_f32_scalar(std::size_t n, const float* x, float* y) {
    for (std::size_t i = 0; i < n; ++i) {
        const float v = x[i];  // exp of -|v| never overflows
        const float e = std::exp(-std::fabs(v));
        y[i] = v >= 0.0f ? 1.0f / (1.0f + e) : (v < 0.0f ? e / (1.0f + e) : v);
    }
}

void tanh_f32_scalar(std::size_t n, const float* x, float* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

}  // namespace gru_infer
