// Embedding table: integer ids -> vectors. Only valid as a model's first layer; the model feeds
// it ids instead of floats.
#pragma once
#include "gru_infer/aligned_buffer.h"
#include "gru_infer/layer.h"

namespace gru_infer {

class EmbeddingLayer final : public Layer {
public:
    EmbeddingLayer(std::size_t num_embeddings, std::size_t dim, AlignedBuffer table);

    LayerKind kind() const override { return LayerKind::Embedding; }
    std::size_t input_size() const override { return 1; }
    std::size_t output_size() const override { return dim_; }
    std::size_t num_embeddings() const { return num_; }
    std::size_t parameter_count() const override { return num_ * dim_; }

    // ids: n values; y: (n, dim). Throws InvalidArgument for an id outside [0, num_embeddings).
    void lookup(const std::int64_t* ids, std::size_t n, float* y) const;
    // Validate ids without writing (streams call this before a step; step itself never throws).
    void check_ids(const std::int64_t* ids, std::size_t n) const;
    void check_id(std::int64_t id, std::size_t position) const;  // position: for the message

    // Float inputs make no sense here: these throw; the model calls lookup() instead.
    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;

    const AlignedBuffer& table() const { return table_; }

private:
    std::size_t num_, dim_;
    AlignedBuffer table_;
};

}  // namespace gru_infer
