// Activation functions: the kinds every importer maps to, with ONNX's alpha/beta parameters.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace gru_infer {

// Values are stored in the native file: never renumber, only append.
enum class ActKind : std::uint32_t {
    Identity = 0,
    Sigmoid = 1,
    Tanh = 2,
    Relu = 3,
    Softmax = 4,          // over the last axis; not valid as a GRU gate
    HardSigmoid = 5,      // clamp(alpha * x + beta, 0, 1)
    LeakyRelu = 6,        // x >= 0 ? x : alpha * x
    Elu = 7,              // x >= 0 ? x : alpha * (exp(x) - 1)
    Softsign = 8,         // x / (1 + |x|)
    Softplus = 9,         // log(1 + exp(x))
    Affine = 10,          // alpha * x + beta
    ScaledTanh = 11,      // alpha * tanh(beta * x)
    ThresholdedRelu = 12, // x > alpha ? x : 0
    LogSoftmax = 13,      // over the last axis
    Gelu = 14,            // x * (1 + erf(x / sqrt 2)) / 2 (torch GELU, ONNX Gelu)
    GeluTanh = 15,        // x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) / 2
    Silu = 16,            // x * sigmoid(x) (torch SiLU / Keras swish)
    Clip = 17,            // clamp(x, alpha, beta): Hardtanh, ReLU6, ONNX Clip
    HardSwish = 18,       // x * clamp(x / 6 + 1 / 2, 0, 1)
    Mish = 19,            // x * tanh(softplus(x))
    Selu = 20,            // beta * (x > 0 ? x : alpha * (exp(x) - 1)), alpha/beta = ONNX alpha/gamma
    Celu = 21,            // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    Count
};

struct ActSpec {
    ActKind kind = ActKind::Identity;
    float alpha = 0.0f;
    float beta = 0.0f;
};

const char* act_name(ActKind kind);
ActKind act_from_name(const std::string& name);  // throws InvalidArgument
bool act_is_elementwise(ActKind kind);

// In place over n contiguous values (element-wise kinds only). Exact: libm-accurate.
void apply_activation(const ActSpec& act, float* v, std::size_t n);

// In place over `rows` rows of `cols` values: element-wise kinds, or softmax per row.
void apply_activation_rows(const ActSpec& act, float* v, std::size_t rows, std::size_t cols);

}  // namespace gru_infer
