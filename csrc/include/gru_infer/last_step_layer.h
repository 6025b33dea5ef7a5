// Select the last time step: (B, T, F) -> (B, F), like `out[:, -1]` in PyTorch. In a stream each
// step is the last one, so it passes the step through.
#pragma once
#include "gru_infer/layer.h"

namespace gru_infer {

class LastStepLayer final : public Layer {
public:
    explicit LastStepLayer(std::size_t features) : n_(features) {}

    LayerKind kind() const override { return LayerKind::LastStep; }
    std::size_t input_size() const override { return n_; }
    std::size_t output_size() const override { return n_; }
    bool keeps_time() const override { return false; }
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

private:
    std::size_t n_;
};

}  // namespace gru_infer
