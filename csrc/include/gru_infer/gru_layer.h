// GRU layer, one or two directions, both formulations.
//   z = f(Wz x + bWz + Rz h + bRz)             r = f(Wr x + bWr + Rr h + bRr)
//   lbr = 1: n = g(Wn x + bWn + r * (Rn h + bRn))   (PyTorch, Keras reset_after, ONNX lbr=1)
//   lbr = 0: n = g(Wn x + bWn + Rn (r * h) + bRn)   (Cho et al., ONNX default)
//   h' = (1 - z) * n + z * h
// Gate blocks are stored in the order z, r, n for every source (importers reorder).
#pragma once
#include <vector>

#include "gru_infer/activation.h"
#include "gru_infer/aligned_buffer.h"
#include "gru_infer/layer.h"

namespace gru_infer {

enum class GruDirection : std::uint32_t { Forward = 0, Reverse = 1, Bidirectional = 2 };
enum class MergeMode : std::uint32_t { Concat = 0, Sum = 1, Mul = 2, Ave = 3 };

struct GruConfig {
    std::size_t input_size = 0;
    std::size_t hidden_size = 0;
    GruDirection direction = GruDirection::Forward;
    bool linear_before_reset = true;
    bool has_bias = true;
    ActSpec gate_activation{ActKind::Sigmoid};
    ActSpec candidate_activation{ActKind::Tanh};
    float clip = 0.0f;  // > 0: clamp every pre-activation to [-clip, clip] (ONNX)
    MergeMode merge_mode = MergeMode::Concat;
    bool return_sequences = true;
    // Keras go_backwards: a reverse-only layer emits outputs in processing order.
    bool reverse_output_in_processing_order = false;

    std::size_t num_directions() const { return direction == GruDirection::Bidirectional ? 2 : 1; }
    std::size_t output_size() const {
        return num_directions() == 2 && merge_mode == MergeMode::Concat ? 2 * hidden_size : hidden_size;
    }
    void validate() const;  // throws InvalidArgument
};

struct GruWeights {
    AlignedBuffer W;   // (3H, I)
    AlignedBuffer R;   // (3H, H)
    AlignedBuffer bW;  // (3H)
    AlignedBuffer bR;  // (3H)
};

class GruLayer final : public Layer {
public:
    // `weights` has one entry per direction (forward first).
    GruLayer(const GruConfig& config, std::vector<GruWeights> weights);

    LayerKind kind() const override { return LayerKind::Gru; }
    std::size_t input_size() const override { return cfg_.input_size; }
    std::size_t output_size() const override { return cfg_.output_size(); }
    bool keeps_time() const override { return cfg_.return_sequences; }
    std::size_t state_size() const override { return cfg_.num_directions() * cfg_.hidden_size; }

    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    std::size_t step_scratch_size(std::size_t B) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch) const override;
    const char* stream_unsupported_reason() const override;

    const GruConfig& config() const { return cfg_; }
    const std::vector<GruWeights>& weights() const { return w_; }

private:
    // One direction over whole sequences. xp holds x W^T + bW for all (b, t): (B*T, 3H).
    // h is (B, H), updated in place. y_dir is this direction's output slice (stride y_stride per
    // step), or null. reverse: walk each sequence from its last valid step down.
    void run_direction(const GruWeights& w, const float* xp, std::size_t B, std::size_t T,
                       const std::int64_t* lengths, bool reverse, float* h, float* y_dir,
                       std::size_t y_stride, float* scratch) const;
    // One recurrent update of `rows` contiguous state rows: h[b] <- GRU(xp[b], h[b]), where
    // xp[b] = xp + b * xp_stride is that row's input projection (3H). `rec` is (rows, 3H) scratch.
    void update(const GruWeights& w, std::size_t rows, const float* xp, std::size_t xp_stride,
                float* h, float* rec) const;

    GruConfig cfg_;
    std::vector<GruWeights> w_;
};

}  // namespace gru_infer
