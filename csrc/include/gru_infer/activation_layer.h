// An activation applied on its own (element-wise, or softmax over the last axis).
#pragma once
#include "gru_infer/activation.h"
#include "gru_infer/layer.h"

namespace gru_infer {

class ActivationLayer final : public Layer {
public:
    ActivationLayer(std::size_t features, ActSpec act);

    LayerKind kind() const override { return LayerKind::Activation; }
    std::size_t input_size() const override { return n_; }
    std::size_t output_size() const override { return n_; }
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

    const ActSpec& activation() const { return act_; }

private:
    std::size_t n_;
    ActSpec act_;
};

}  // namespace gru_infer
