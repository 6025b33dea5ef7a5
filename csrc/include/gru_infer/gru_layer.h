// GRU layer, one or two directions, both formulations.
//   z = f(Wz x + bWz + Rz h + bRz)             r = f(Wr x + bWr + Rr h + bRr)
//   lbr = 1: n = g(Wn x + bWn + r * (Rn h + bRn))   (PyTorch, Keras reset_after, ONNX lbr=1)
//   lbr = 0: n = g(Wn x + bWn + Rn (r * h) + bRn)   (Cho et al., ONNX default)
//   h' = (1 - z) * n + z * h
// Gate blocks are stored in the order z, r, n for every source (importers reorder).
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "gru_infer/activation.h"
#include "gru_infer/aligned_buffer.h"
#include "gru_infer/layer.h"
#include "gru_infer/packed_gru.h"
#include "gru_infer/weight_format.h"

namespace gru_infer {

struct GruStepArgs;   // kernels/kernels.h (private)
struct QGruStepArgs;  // kernels/quant_kernels.h (private)

class ProjectionPipeline;
struct QuantGru;

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
    // The state each sequence and stream row starts from when the caller gives none (h0): (D, H)
    // floats, direction d's row for every batch row; empty = zeros (ONNX: a constant initial_h).
    std::vector<float> initial_state;

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
    // Weights already packed (pack_gru's layout), e.g. views into a loaded file; only for layers
    // that use the packed kernels (uses_packed_kernels(config)).
    GruLayer(const GruConfig& config, std::vector<PackedGru> packed);
    // Reduced-precision weights (int8, bf16, fp16), per direction, made by Model::quantize or
    // read from a file; only for layers that use the packed kernels.
    GruLayer(const GruConfig& config, std::vector<QuantGru> quant);
    ~GruLayer() override;
    static bool uses_packed_kernels(const GruConfig& config);

    LayerKind kind() const override { return LayerKind::Gru; }
    std::size_t input_size() const override { return cfg_.input_size; }
    std::size_t output_size() const override { return cfg_.output_size(); }
    bool keeps_time() const override { return cfg_.return_sequences; }
    std::size_t state_size() const override { return cfg_.num_directions() * cfg_.hidden_size; }
    const float* initial_state() const override {
        return cfg_.initial_state.empty() ? nullptr : cfg_.initial_state.data();
    }
    std::size_t parameter_count() const override {
        const std::size_t H = cfg_.hidden_size;
        return cfg_.num_directions() * 3 * H * (cfg_.input_size + H + (cfg_.has_bias ? 2 : 0));
    }

    void forward(const float* x, float* y, std::size_t B, std::size_t T,
                 const SequenceContext& ctx) const override;
    std::size_t step_scratch_size(std::size_t B) const override;
    void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
              const StepContext& ctx) const override;
    const char* stream_unsupported_reason() const override;

    const GruConfig& config() const { return cfg_; }
    // The weights in the plain layout (unpacked again on the packed path, which keeps only one copy).
    std::vector<GruWeights> weights() const;
    // The packed fp32 weights, per direction; empty on the generic path and for reduced-precision
    // layers that run the reduced-precision kernels (runs_quantized).
    const std::vector<PackedGru>& packed() const { return packed_; }
    // Direction d's gate-major recurrent copy (pack_gate_major_recurrent) for the step kernels, or
    // null (layers outside 9-32 units, generic path, reduced precision, and layers built while the
    // active kernel table was not AVX-512: only the AVX-512 step uses the copy).
    const float* gate_major_recurrent(std::size_t d) const {
        return d < gate_major_.size() && gate_major_[d].size() ? gate_major_[d].data() : nullptr;
    }
    WeightFormat weight_format() const;
    // The reduced-precision weights per direction (what the layer stores and saves), or null for
    // fp32 layers.
    const std::vector<QuantGru>* quantized() const { return quant_.get(); }
    // Whether it computes with them: false for fp32 layers and for reduced-precision layers small
    // enough that the fp32 kernels are faster (q_fp32_max_hidden), which run on packed() made from
    // the dequantized weights (the same values; fp32 arithmetic, the state not quantized).
    bool runs_quantized() const { return quant_ && packed_.empty(); }
    // The same for predict's batches of 4+ rows: false also where fp16 / bf16 batches run the fp32
    // kernels on the weights widened once (kept after the first such batch: +4 bytes a weight).
    bool runs_quantized_batches() const;
    // The layer that runs `rows` rows at a time: this one, or where runs_quantized_batches() is
    // false and rows >= 4, the fp32 layer of its widened weights (made by the first call that
    // needs it, then kept: the same object for every later call).
    const GruLayer& for_rows(std::size_t rows) const;
    // Whether steps of `rows` rows multiply the raw input inside the step kernel instead of a
    // separate input-projection pass (few input features, fewer rows than the step's GEMM path).
    bool fuses_input(std::size_t rows) const;
    // step() in two parts, so that a caller stepping again and again (Stream) fills the kernel's
    // arguments once: prepare_step sets those that stay the same from step to step (`rows` rows,
    // the step scratch at `scratch`); false (a untouched) if the layer's steps do not go through
    // the fp32 packed kernels (reduced precision, other activations). step_prepared then runs one
    // step as step() does.
    bool prepare_step(std::size_t rows, float* scratch, bool fast, GruStepArgs& a) const;
    void step_prepared(GruStepArgs& a, const float* x, float* y, std::size_t rows, float* state,
                       bool walk_backward) const;
    // The same for reduced-precision layers: false (a untouched) for fp32 ones.
    bool prepare_step(std::size_t rows, float* scratch, bool fast, QGruStepArgs& a) const;
    void step_prepared(QGruStepArgs& a, const float* x, float* y, std::size_t rows, float* state,
                       bool walk_backward) const;

    // Stream::run's block of `steps` steps on reduced-precision weights, as predict runs them: x
    // (rows, steps, input) -> y (rows, steps, hidden), the input projection of every row and step
    // at once into xp (rows * steps * quant_xp_row_floats() floats; unused when fuses_input(rows)),
    // then the steps from it; state (rows, hidden) read and left at the last step. scratch:
    // max(step_scratch_size(rows), quant_block_scratch(rows, steps)) floats. walk_backward: the
    // first step's walk (then alternated).
    void quant_block(std::size_t rows, std::size_t steps, const float* x, float* y, float* state, float* xp,
                     float* scratch, bool walk_backward, bool fast) const;
    std::size_t quant_block_scratch(std::size_t rows, std::size_t steps) const;

private:
    // The fused packed kernels cover sigmoid gates with a tanh candidate (every framework's
    // default); any other activation runs the generic path (gemm_nt + update).
    bool uses_packed_kernels() const { return uses_packed_kernels(cfg_); }
    // Input projection of rows x (rows, I) into xp: packed layout (tiles * kTileRow per row) on
    // the packed path, plain (3H per row) on the generic one. Returns the row length.
    std::size_t project_inputs(std::size_t d, const float* x, std::size_t rows, float* xp) const;
    std::size_t xp_row_floats() const;
    // h_out[b] <- GRU(xp[b], h[b]) for `rows` state rows; xp row b at xp + b * xp_stride.
    // walk_backward: see GruStepArgs and Layer::step (run_direction alternates it from step to step).
    // fast: rational activations (SequenceContext::fast_activations), packed path only.
    void step_rows(std::size_t d, std::size_t rows, const float* xp, std::size_t xp_stride, const float* h,
                   float* h_out, float* scratch, bool walk_backward, bool fast) const {
        step_rows(d, rows, xp, xp_stride, h, cfg_.hidden_size, h_out, cfg_.hidden_size, scratch, walk_backward, false,
                  fast);
    }
    // The same with row strides for h and h_out, and raw_input: xp holds the unprojected inputs
    // (input_size per row), multiplied in by the step kernel. Both only on the packed path.
    void step_rows(std::size_t d, std::size_t rows, const float* xp, std::size_t xp_stride, const float* h,
                   std::size_t ldh, float* h_out, std::size_t ldo, float* scratch, bool walk_backward,
                   bool raw_input, bool fast) const;
    std::size_t step_rows_scratch(std::size_t rows) const;
    // One direction over whole sequences; the final state ends in h (B, H). raw_input: xp is the
    // (B, T, input_size) input itself (see step_rows). pipeline: xp is being filled by it (B = 1),
    // each step waits for its row. x_batch: instead of xp, the (B, T, input_size) input, projected
    // here (batches): a few steps at a time when the lengths are equal, else all at once.
    void run_direction(std::size_t d, const float* xp, std::size_t B, std::size_t T, const std::int64_t* lengths,
                       bool reverse, float* h, float* y_dir, std::size_t y_stride, bool raw_input,
                       ProjectionPipeline* pipeline, bool fast, const float* x_batch) const;
    // Generic path: one in-place recurrent update, rec is (rows, 4H) scratch.
    void update(const GruWeights& w, std::size_t rows, const float* xp, std::size_t xp_stride,
                float* h, float* rec) const;

    // The reduced-precision versions of project_inputs, step_rows and step (gru_quant.cpp).
    // scratch: quant_block_scratch(rows, 1) floats, or null (allocated here).
    void quant_project(std::size_t d, const float* x, std::size_t rows, float* xp, float* scratch = nullptr) const;
    void quant_step_rows(std::size_t d, std::size_t rows, const float* xp, std::size_t xp_stride, const float* h,
                         std::size_t ldh, float* h_out, std::size_t ldo, float* scratch, bool walk_backward,
                         bool raw_input, bool fast) const;
    std::size_t quant_scratch_floats(std::size_t rows) const;
    std::size_t quant_xp_row_floats() const;
    std::vector<GruWeights> quant_weights() const;

    GruConfig cfg_;
    std::vector<GruWeights> w_;      // per direction, on the generic path only
    std::vector<PackedGru> packed_;  // per direction, on the packed path only
    std::vector<AlignedBuffer> gate_major_;  // per direction, from packed_ (small layers, AVX-512 only)
    std::shared_ptr<const std::vector<QuantGru>> quant_;  // per direction, reduced precision only
    // fp16 / bf16 layers whose batches run the fp32 kernels (q_fp32_batches): the fp32 layer of
    // their widened weights, made by the first batch that needs it and kept (for_rows).
    mutable std::mutex wide_mutex_;
    mutable std::unique_ptr<const GruLayer> wide_;
};

}  // namespace gru_infer
