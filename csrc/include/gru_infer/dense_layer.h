// Fully connected layer over the last axis: y = x W^T + b, W is (out, in).
#pragma once
#include "gru_infer/aligned_buffer.h"
#include "gru_infer/layer.h"

namespace gru_infer {

class DenseLayer final : public Layer {
public:
    DenseLayer(std::size_t in, std::size_t out, AlignedBuffer weight, AlignedBuffer bias);

    LayerKind kind() const override { return LayerKind::Dense; }
    std::size_t input_size() const override { return in_; }
    std::size_t output_size() const override { return out_; }
    std::size_t parameter_count() const override { return out_ * (in_ + 1); }
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

    const AlignedBuffer& weight() const { return w_; }
    const AlignedBuffer& bias() const { return b_; }

private:
    std::size_t in_, out_;
    AlignedBuffer w_, b_;
};

}  // namespace gru_infer
