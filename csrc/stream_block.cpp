// Stream::run: a block of steps at once, layer by layer as predict does. A GRU layer's input
// projection for the whole block is one GEMM (qgemm for reduced precision), then its recurrence
// runs step by step, each step's state written straight into the block output and read from there
// by the next step.
#include <algorithm>
#include <cstring>
#include <limits>

#include "gru_infer/gru_layer.h"
#include "gru_infer/input_skip_layer.h"
#include "gru_infer/stream.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "layers/block_steps.h"
#include "runtime/denormals.h"
#include "stream_block.h"

namespace gru_infer {

namespace {

bool packed_gru(const Layer& l) {
    return l.kind() == LayerKind::Gru && !static_cast<const GruLayer&>(l).packed().empty();
}

// A GRU on the reduced-precision kernels (forward: a stream has no other).
bool quant_gru(const Layer& l) {
    return l.kind() == LayerKind::Gru && static_cast<const GruLayer&>(l).runs_quantized();
}

}  // namespace

std::size_t block_projection_floats(const Layer& l, std::size_t batch) {
    if (quant_gru(l)) {
        const auto& g = static_cast<const GruLayer&>(l);
        return g.fuses_input(batch) ? 0 : (*g.quantized())[0].tiles * kQTileRow;
    }
    if (!packed_gru(l)) return 0;
    const auto& g = static_cast<const GruLayer&>(l);
    return g.fuses_input(batch) ? 0 : g.packed()[0].tiles * kTileRow;
}

std::size_t block_scratch_floats(const Layer& l, std::size_t batch, std::size_t steps) {
    if (!quant_gru(l)) return 0;
    return static_cast<const GruLayer&>(l).quant_block_scratch(batch, steps);
}

void gru_block(const GruLayer& g, std::size_t rows, std::size_t steps, const float* x, float* y, float* state,
               float* xp, float* scratch, StepContext ctx) noexcept {
    const GruConfig& c = g.config();
    const PackedGru& p = g.packed()[0];
    const std::size_t I = c.input_size, H = c.hidden_size;
    const Kernels& k = active_kernels();
    const bool fused = g.fuses_input(rows);
    const std::size_t G = fused ? I : p.tiles * kTileRow;
    if (!fused) k.gemm_packed(rows * steps, I, x, I, p.w.data(), p.tile_stride, p.tiles, p.bx.data(), xp, G);
    const float* in = fused ? x : xp;
    GruStepArgs a;  // the fields that stay the same, as a step of the layer sets them
    g.prepare_step(rows, scratch, ctx.fast_activations, a);
    block_steps(a, c.linear_before_reset ? k.gru_step_reset_after : k.gru_step_reset_before, rows, steps, H, fused, in,
                G, y, state, ctx.walk_backward);
}

void Stream::run_block(std::size_t first, std::size_t steps, const float* x, float* y) noexcept {
    FlushDenormals flush;
    const auto& layers = run_layers_;
    const std::size_t B = batch_;
    const float* cur = x;
    std::size_t width = first ? layers[first - 1]->output_size() : model_->input_size();
    for (std::size_t i = first; i < layers.size(); ++i) {
        const Layer& l = *layers[i];
        float* out = i + 1 == layers.size() ? y : (cur == block_ping_.data() ? block_pong_.data() : block_ping_.data());
        float* state = state_.data() + state_offset_[i];
        if (packed_gru(l)) {
            gru_block(static_cast<const GruLayer&>(l), B, steps, cur, out, state, block_xp_.data(), scratch_.data(),
                      ctx_);
        } else if (quant_gru(l)) {  // the input projection hoisted too, as predict runs it
            static_cast<const GruLayer&>(l).quant_block(B, steps, cur, out, state, block_xp_.data(), scratch_.data(),
                                                        ctx_.walk_backward, ctx_.fast_activations);
        } else if (l.state_size()) {  // generic GRU: step by step, each step's rows gathered
            const std::size_t O = l.output_size();
            for (std::size_t s = 0; s < steps; ++s) {
                for (std::size_t b = 0; b < B; ++b)
                    std::memcpy(ping_.data() + b * width, cur + (b * steps + s) * width, width * sizeof(float));
                StepContext sc = ctx_;
                sc.walk_backward = ctx_.walk_backward != (s % 2 == 1);
                l.step(ping_.data(), pong_.data(), B, state, scratch_.data(), sc);
                for (std::size_t b = 0; b < B; ++b)
                    std::memcpy(out + (b * steps + s) * O, pong_.data() + b * O, O * sizeof(float));
            }
        } else if (l.kind() == LayerKind::InputSkip) {  // first == 0 here: skips need float input
            static_cast<const InputSkipLayer&>(l).step_with_input(cur, x, out, B * steps);
        } else {  // stateless: every (row, step) is a row of its own
            l.step(cur, out, B * steps, nullptr, scratch_.data(), StepContext{false, ctx_.fast_activations});
        }
        width = l.output_size();
        cur = out;
    }
    if (first == layers.size()) std::memcpy(y, x, B * steps * model_->output_size() * sizeof(float));
    if (steps % 2) ctx_.walk_backward = !ctx_.walk_backward;
}

void Stream::run(std::size_t steps, const float* x, float* y) noexcept {
    const std::size_t B = batch_, F = model_->input_size(), O = model_->output_size();
    if (model_->takes_ids()) {  // as step: NaN, never a plausible answer
        for (std::size_t i = 0; i < B * steps * O; ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    for (std::size_t t0 = 0; t0 < steps; t0 += max_block_) {
        const std::size_t n = std::min(max_block_, steps - t0);
        if (B == 1 || n == steps) {  // the piece is contiguous in x and y
            run_block(0, n, x + t0 * F, y + t0 * O);
            continue;
        }
        for (std::size_t b = 0; b < B; ++b)
            std::memcpy(block_in_.data() + b * n * F, x + (b * steps + t0) * F, n * F * sizeof(float));
        run_block(0, n, block_in_.data(), block_out_.data());
        for (std::size_t b = 0; b < B; ++b)
            std::memcpy(y + (b * steps + t0) * O, block_out_.data() + b * n * O, n * O * sizeof(float));
    }
}

void Stream::run_ids(std::size_t steps, const std::int64_t* ids, float* y) noexcept {
    const std::size_t B = batch_, O = model_->output_size();
    for (std::size_t t0 = 0; t0 < steps; t0 += max_block_) {
        const std::size_t n = std::min(max_block_, steps - t0);
        const bool contiguous = B == 1 || n == steps;
        const std::int64_t* piece = ids + t0;
        if (!contiguous) {
            for (std::size_t b = 0; b < B; ++b)
                std::memcpy(block_ids_.data() + b * n, ids + b * steps + t0, n * sizeof(std::int64_t));
            piece = block_ids_.data();
        }
        float* out = contiguous ? y + t0 * O : block_out_.data();
        if (model_->layers().size() == 1) {
            lookup_ids(piece, B * n, out);
        } else {
            lookup_ids(piece, B * n, block_ping_.data());
            run_block(1, n, block_ping_.data(), out);
        }
        if (!contiguous)
            for (std::size_t b = 0; b < B; ++b)
                std::memcpy(y + (b * steps + t0) * O, block_out_.data() + b * n * O, n * O * sizeof(float));
    }
}

}  // namespace gru_infer
