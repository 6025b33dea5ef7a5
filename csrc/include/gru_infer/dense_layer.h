// Fully connected layer over the last axis: y = x W^T + b, W is (out, in).
#pragma once
#include <memory>

#include "gru_infer/aligned_buffer.h"
#include "gru_infer/layer.h"
#include "gru_infer/weight_format.h"

namespace gru_infer {

struct QuantDense;

class DenseLayer final : public Layer {
public:
    DenseLayer(std::size_t in, std::size_t out, AlignedBuffer weight, AlignedBuffer bias);
    // Reduced-precision weights (int8, bf16, fp16), made by Model::quantize or read from a file.
    DenseLayer(std::size_t in, std::size_t out, QuantDense quant);
    ~DenseLayer() override;

    LayerKind kind() const override { return LayerKind::Dense; }
    std::size_t input_size() const override { return in_; }
    std::size_t output_size() const override { return out_; }
    std::size_t parameter_count() const override { return out_ * (in_ + 1); }
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    std::size_t step_scratch_size(std::size_t B) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

    // fp32 layers: the weights and bias; empty for reduced-precision ones (see weights_fp32).
    const AlignedBuffer& weight() const { return w_; }
    const AlignedBuffer& bias() const { return b_; }
    WeightFormat weight_format() const;
    const QuantDense* quantized() const { return q_.get(); }
    // The weights as the kernels use them (dequantized if reduced), (out, in), and the bias.
    AlignedBuffer weight_fp32() const;
    AlignedBuffer bias_fp32() const;

private:
    void run_quant(const float* x, std::size_t rows, float* y, float* scratch) const;
    std::size_t quant_scratch_floats(std::size_t rows) const;

    std::size_t in_, out_;
    AlignedBuffer w_, b_;
    std::shared_ptr<const QuantDense> q_;
};

}  // namespace gru_infer
