#include "gru_infer/input_skip_layer.h"

#include <limits>
#include <string>

#include "gru_infer/error.h"

namespace gru_infer {

InputSkipLayer::InputSkipLayer(std::size_t features, std::size_t start, std::size_t model_input_size)
    : n_(features), start_(start), src_(model_input_size) {
    if (features == 0) throw InvalidArgument("InputSkip layer needs a positive feature count");
    if (start > model_input_size || features > model_input_size - start)
        throw InvalidArgument("InputSkip adds model-input features [" + std::to_string(start) + ", " +
                              std::to_string(start + features) + "), but the model input has " +
                              std::to_string(model_input_size));
}

void InputSkipLayer::add_rows(const float* x, const float* model_x, float* y, std::size_t rows) const noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
        const float* s = model_x + r * src_ + start_;
        for (std::size_t j = 0; j < n_; ++j) y[r * n_ + j] = x[r * n_ + j] + s[j];
    }
}

void InputSkipLayer::forward(const float* x, float* y, std::size_t B, std::size_t T,
                             const SequenceContext& ctx) const {
    if (!ctx.model_input) throw InvalidArgument("InputSkip layer run without the model's input");
    add_rows(x, ctx.model_input, y, B * T);
}

void InputSkipLayer::step_with_input(const float* x, const float* model_x, float* y, std::size_t B) const noexcept {
    add_rows(x, model_x, y, B);
}

void InputSkipLayer::step(const float*, float* y, std::size_t B, float*, float*, const StepContext&) const {
    for (std::size_t i = 0; i < B * n_; ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
}

}  // namespace gru_infer
