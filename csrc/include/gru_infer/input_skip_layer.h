// Skip connection from the model's input: y = x + model_input[..., start : start + n], where n is
// this layer's width. The guitar-amp "SimpleRNN" ends like this (`lin(gru(x)) + x[..., :skip]`).
// It needs the model's own input, which a layer's forward/step does not see: Model passes it in
// SequenceContext::model_input, and Stream calls step_with_input (see stream.cpp).
#pragma once
#include "gru_infer/layer.h"

namespace gru_infer {

class InputSkipLayer final : public Layer {
public:
    // features: this layer's width n; start: first model-input feature added; model_input_size:
    // the model's input width (start + features must fit in it).
    InputSkipLayer(std::size_t features, std::size_t start, std::size_t model_input_size);

    LayerKind kind() const override { return LayerKind::InputSkip; }
    std::size_t input_size() const override { return n_; }
    std::size_t output_size() const override { return n_; }
    std::size_t start() const { return start_; }
    std::size_t model_input_size() const { return src_; }

    // Throws InvalidArgument if ctx.model_input is null.
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    // x: (B, n) this layer's input, model_x: (B, model_input_size) the stream's input this step.
    void step_with_input(const float* x, const float* model_x, float* y, std::size_t B) const noexcept;
    // Without the model's input there is no right answer: writes NaN (Stream never calls this).
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

private:
    void add_rows(const float* x, const float* model_x, float* y, std::size_t rows) const noexcept;
    std::size_t n_, start_, src_;
};

}  // namespace gru_infer
