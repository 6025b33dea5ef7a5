// Per-feature affine map y = x * scale + shift over the last axis: BatchNormalization at inference
// (scale = gamma / sqrt(var + eps), shift = beta - mean * scale) when no neighbouring Dense can
// absorb it exactly.
#pragma once
#include "gru_infer/aligned_buffer.h"
#include "gru_infer/layer.h"

namespace gru_infer {

class AffineLayer final : public Layer {
public:
    AffineLayer(std::size_t features, AlignedBuffer scale, AlignedBuffer shift);

    LayerKind kind() const override { return LayerKind::Affine; }
    std::size_t input_size() const override { return n_; }
    std::size_t output_size() const override { return n_; }
    std::size_t parameter_count() const override { return 2 * n_; }
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

    const AlignedBuffer& scale() const { return scale_; }
    const AlignedBuffer& shift() const { return shift_; }

private:
    void apply(const float* x, float* y, std::size_t rows) const noexcept;
    std::size_t n_;
    AlignedBuffer scale_, shift_;
};

}  // namespace gru_infer
