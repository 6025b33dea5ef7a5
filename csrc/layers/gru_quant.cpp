// The GRU layer on reduced-precision weights (int8, bf16, fp16): the same sequence and stream
// logic as fp32 (gru_layer.cpp), through the kernels of kernels/quant_kernels.h.
#include <cstdint>
#include <cstring>
#include <string>

#include "../kernels/quant_kernels.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "block_steps.h"

namespace gru_infer {

GruLayer::GruLayer(const GruConfig& config, std::vector<QuantGru> quant) : cfg_(config) {
    if (!kHasReducedPrecision) throw InvalidArgument(kNoReducedPrecision);
    cfg_.validate();
    if (!uses_packed_kernels())
        throw InvalidArgument("reduced-precision GRU weights need sigmoid gates and a tanh candidate");
    const std::size_t H = cfg_.hidden_size, I = cfg_.input_size, tiles = (H + kQLanes - 1) / kQLanes;
    if (quant.size() != cfg_.num_directions())
        throw InvalidArgument("GRU needs " + std::to_string(cfg_.num_directions()) + " weight sets, got " +
                              std::to_string(quant.size()));
    for (const auto& q : quant) {
        const bool ok = q.format != WeightFormat::F32 && q.input == I && q.hidden == H && q.tiles == tiles &&
                        q.format == quant[0].format && q.W.format == q.format && q.R.format == q.format &&
                        q.W.rows == 3 * H && q.W.cols == I && q.R.rows == 3 * H && q.R.cols == H && q.W.subs == 3 &&
                        q.R.subs == 3 && q.W.blocks == tiles && q.R.blocks == tiles &&
                        q.bx.size() == tiles * kQTileRow && q.bh.size() == tiles * kQTileRow;
        if (!ok)
            throw InvalidArgument("reduced-precision GRU weights do not match input_size=" + std::to_string(I) +
                                  ", hidden_size=" + std::to_string(H));
    }
    const bool fp32 = H <= q_fp32_max_hidden(quant[0].format);  // faster in fp32: see runs_quantized
    quant_ = std::make_shared<const std::vector<QuantGru>>(std::move(quant));
    if (fp32) {
        GruLayer f(cfg_, quant_weights());
        packed_ = std::move(f.packed_);
        gate_major_ = std::move(f.gate_major_);
    }
}

GruLayer::~GruLayer() = default;

bool GruLayer::runs_quantized_batches() const { return runs_quantized() && !q_fp32_batches(weight_format()); }

WeightFormat GruLayer::weight_format() const { return quant_ ? (*quant_)[0].format : WeightFormat::F32; }

std::vector<GruWeights> GruLayer::quant_weights() const {
    std::vector<GruWeights> out;
    for (const auto& q : *quant_) out.push_back(dequantize_gru(q));
    return out;
}

std::size_t GruLayer::quant_xp_row_floats() const { return (*quant_)[0].tiles * kQTileRow; }

std::size_t GruLayer::quant_block_scratch(std::size_t rows, std::size_t steps) const {
    return q_gemm_scratch_bytes(rows * steps, (*quant_)[0].W) / sizeof(float) + 16;  // + room to align to 64 bytes
}

void GruLayer::quant_project(std::size_t d, const float* x, std::size_t rows, float* xp, float* scratch) const {
    const QuantGru& q = (*quant_)[d];
    AlignedBuffer own;
    if (!scratch) {
        own = AlignedBuffer::uninitialized(quant_block_scratch(rows, 1));
        scratch = own.data();
    }
    auto* s = reinterpret_cast<char*>(scratch);
    q_active(q.format).gemm(rows, x, cfg_.input_size, q.W, q.x_scale, q.bx.data(), xp, quant_xp_row_floats(),
                            s + (64 - reinterpret_cast<std::uintptr_t>(s) % 64) % 64);
}

std::size_t GruLayer::quant_scratch_floats(std::size_t rows) const {
    return q_step_scratch_bytes(rows, (*quant_)[0]) / sizeof(float) + 16;  // + room to align to 64 bytes
}

void GruLayer::quant_step_rows(std::size_t d, std::size_t rows, const float* xp, std::size_t xp_stride, const float* h,
                               std::size_t ldh, float* h_out, std::size_t ldo, float* scratch, bool walk_backward,
                               bool raw_input, bool fast) const {
    const QuantGru& q = (*quant_)[d];
    QGruStepArgs a;
    a.rows = rows;
    if (raw_input) { a.x = xp; a.ldx = xp_stride; }
    else { a.xp = xp; a.ldxp = xp_stride; }
    a.h = h; a.ldh = ldh; a.h_out = h_out; a.ldo = ldo;
    a.w = &q; a.clip = cfg_.clip; a.fast = fast; a.walk_backward = walk_backward;
    auto* s = reinterpret_cast<char*>(scratch);
    a.scratch = s + (64 - reinterpret_cast<std::uintptr_t>(s) % 64) % 64;
    const QKernels& k = q_active(q.format);
    (cfg_.linear_before_reset ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
}

void GruLayer::quant_block(std::size_t rows, std::size_t steps, const float* x, float* y, float* state, float* xp,
                           float* scratch, bool walk_backward, bool fast) const {
    const std::size_t H = cfg_.hidden_size, I = cfg_.input_size;
    const bool fused = fuses_input(rows);
    const std::size_t G = fused ? I : quant_xp_row_floats();
    if (!fused) quant_project(0, x, rows * steps, xp, scratch);  // before the steps use scratch
    QGruStepArgs a;  // the fields that stay the same, as a step of the layer sets them
    prepare_step(rows, scratch, fast, a);
    const QKernels& k = q_active(a.w->format);
    block_steps(a, cfg_.linear_before_reset ? k.gru_step_reset_after : k.gru_step_reset_before, rows, steps, H, fused,
                fused ? x : xp, G, y, state, walk_backward);
}

}  // namespace gru_infer
