#include "gru_infer/activation.h"

#include "gru_infer/error.h"
#include "kernels/act_scalar.h"
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

// Sigmoid and tanh on the active ISA's vector kernels, the other kinds as kernels/act_scalar.h computes them.
void apply_activation(const ActSpec& act, float* v, std::size_t n) {
    if (act.kind == ActKind::Sigmoid) return active_kernels().sigmoid(n, v, v);
    if (act.kind == ActKind::Tanh) return active_kernels().tanh(n, v, v);
    if (!apply_activation_scalar(act, v, n))
        throw InvalidArgument(std::string("activation '") + act_name(act.kind) + "' is not element-wise");
}

void apply_activation_rows(const ActSpec& act, float* v, std::size_t rows, std::size_t cols) {
    if (act_is_elementwise(act.kind)) return apply_activation(act, v, rows * cols);
    if (cols == 0) return;
    for (std::size_t r = 0; r < rows; ++r) {
        if (act.kind == ActKind::LogSoftmax) softmax_row<double, true>(v + r * cols, cols);
        else softmax_row<double, false>(v + r * cols, cols);
    }
}

}  // namespace gru_infer
