#include "gru_infer/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gru_infer/error.h"
#include "kernels/clamp.h"
#include "kernels/kernels.h"

namespace gru_infer {
namespace {

const char* const kNames[] = {
    "identity", "sigmoid", "tanh", "relu", "softmax", "hard_sigmoid", "leaky_relu", "elu",
    "softsign", "softplus", "affine", "scaled_tanh", "thresholded_relu", "log_softmax",
    "gelu", "gelu_tanh", "silu", "clip", "hard_swish", "mish", "selu", "celu",
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<std::size_t>(ActKind::Count),
              "one name per ActKind");

// log(1 + exp(x)) without overflow.
inline float softplus(float x) {
    return x > 0.0f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

template <typename F>
void map(float* v, std::size_t n, F f) {
    for (std::size_t i = 0; i < n; ++i) v[i] = f(v[i]);
}

void softmax_row(float* v, std::size_t n, bool log) {
    float m = v[0];
    for (std::size_t i = 1; i < n; ++i) m = std::max(m, v[i]);
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(v[i] - m));
    if (log) {
        float ls = static_cast<float>(std::log(sum));
        for (std::size_t i = 0; i < n; ++i) v[i] = v[i] - m - ls;
    } else {
        float inv = static_cast<float>(1.0 / sum);
        for (std::size_t i = 0; i < n; ++i) v[i] = std::exp(v[i] - m) * inv;
    }
}

}  // namespace

const char* act_name(ActKind kind) {
    auto i = static_cast<std::size_t>(kind);
    return i < static_cast<std::size_t>(ActKind::Count) ? kNames[i] : "unknown";
}

ActKind act_from_name(const std::string& name) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(ActKind::Count); ++i)
        if (name == kNames[i]) return static_cast<ActKind>(i);
    throw InvalidArgument("unknown activation '" + name + "'");
}

bool act_is_elementwise(ActKind kind) {
    return kind != ActKind::Softmax && kind != ActKind::LogSoftmax;
}

// NaN in gives NaN out for every kind, and +-inf and -0.0 give what torch gives (test:
// tests/test_nan_activations.py): clamps go through clamp_keep_nan, and the tests that pick a branch
// are written so that NaN takes the branch computing from x.
void apply_activation(const ActSpec& act, float* v, std::size_t n) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    const float a = act.alpha, b = act.beta;
    switch (act.kind) {
        case ActKind::Identity: return;
        case ActKind::Sigmoid: return active_kernels().sigmoid(n, v, v);
        case ActKind::Tanh: return active_kernels().tanh(n, v, v);
        case ActKind::Relu: return map(v, n, [=](float x) { return clamp_keep_nan(x, 0.0f, kInf); });
        case ActKind::HardSigmoid: return map(v, n, [=](float x) { return clamp_keep_nan(a * x + b, 0.0f, 1.0f); });
        case ActKind::LeakyRelu: return map(v, n, [=](float x) { return x >= 0.0f ? x : a * x; });
        case ActKind::Elu: return map(v, n, [=](float x) { return x >= 0.0f ? x : a * std::expm1(x); });
        // +-inf -> NaN (inf / inf), as torch, onnxruntime and Keras compute it.
        case ActKind::Softsign: return map(v, n, [](float x) { return x / (1.0f + std::fabs(x)); });
        case ActKind::Softplus: return map(v, n, [](float x) { return softplus(x); });
        case ActKind::Affine: return map(v, n, [=](float x) { return a * x + b; });
        case ActKind::ScaledTanh: return map(v, n, [=](float x) { return a * std::tanh(b * x); });
        // NaN -> NaN as torch's threshold and Keras' x * (x > theta); onnxruntime gives 0.
        case ActKind::ThresholdedRelu: return map(v, n, [=](float x) { return x <= a ? 0.0f : x; });
        // +inf -> inf (torch's scalar path; its vectorised erf makes NaN); -inf -> NaN (-inf * 0) as torch.
        case ActKind::Gelu:
            return map(v, n, [](float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); });
        case ActKind::GeluTanh:
            return map(v, n, [](float x) {
                return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
            });
        case ActKind::Silu: return map(v, n, [](float x) { return x / (1.0f + std::exp(-x)); });
        case ActKind::Clip: return map(v, n, [=](float x) { return clamp_keep_nan(x, a, b); });
        case ActKind::HardSwish:  // -inf -> NaN (-inf * 0) as torch and onnxruntime
            return map(v, n, [](float x) { return x * clamp_keep_nan(x / 6.0f + 0.5f, 0.0f, 1.0f); });
        case ActKind::Mish: return map(v, n, [](float x) { return x * std::tanh(softplus(x)); });
        case ActKind::Selu: return map(v, n, [=](float x) { return b * (x > 0.0f ? x : a * std::expm1(x)); });
        // max(0, x) + min(0, alpha (exp(x / alpha) - 1)) for either sign of alpha, without dropping NaN.
        case ActKind::Celu: return map(v, n, [=](float x) { return x > 0.0f ? x : a * std::expm1(x / a); });
        case ActKind::Softmax:
        case ActKind::LogSoftmax:
        case ActKind::Count: break;
    }
    throw InvalidArgument(std::string("activation '") + act_name(act.kind) + "' is not element-wise");
}

void apply_activation_rows(const ActSpec& act, float* v, std::size_t rows, std::size_t cols) {
    if (act_is_elementwise(act.kind)) return apply_activation(act, v, rows * cols);
    if (cols == 0) return;
    for (std::size_t r = 0; r < rows; ++r)
        softmax_row(v + r * cols, cols, act.kind == ActKind::LogSoftmax);
}

}  // namespace gru_infer
