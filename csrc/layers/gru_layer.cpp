#include "gru_infer/gru_layer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "gru_infer/error.h"
#include "gru_infer/kernels.h"
#include "gru_infer/projection_pipeline.h"
#include "gru_infer/threading.h"

namespace gru_infer {

// Sequences with at most this many input features skip the separate input projection (forward;
// measured faster up to 16 at H = 16..128, slower at 32 and H = 64).
constexpr std::size_t kFusedInputMax = 16;

void GruConfig::validate() const {
    if (input_size == 0 || hidden_size == 0)
        throw InvalidArgument("GRU sizes must be positive, got input_size=" +
                              std::to_string(input_size) + ", hidden_size=" + std::to_string(hidden_size));
    if (static_cast<std::uint32_t>(direction) > 2)
        throw InvalidArgument("GRU direction must be forward, reverse or bidirectional");
    if (static_cast<std::uint32_t>(merge_mode) > 3)
        throw InvalidArgument("GRU merge mode must be concat, sum, mul or ave");
    for (const ActSpec* a : {&gate_activation, &candidate_activation})
        if (static_cast<std::uint32_t>(a->kind) >= static_cast<std::uint32_t>(ActKind::Count) ||
            !act_is_elementwise(a->kind))
            throw InvalidArgument(std::string("GRU activations must be element-wise, got '") +
                                  act_name(a->kind) + "'");
    if (!(clip >= 0.0f) || std::isinf(clip))
        throw InvalidArgument("GRU clip must be a finite value >= 0 (0 = no clip), got " + std::to_string(clip));
}

GruLayer::GruLayer(const GruConfig& config, std::vector<GruWeights> weights)
    : cfg_(config), w_(std::move(weights)) {
    cfg_.validate();
    const std::size_t H = cfg_.hidden_size, I = cfg_.input_size;
    if (w_.size() != cfg_.num_directions())
        throw InvalidArgument("GRU needs " + std::to_string(cfg_.num_directions()) +
                              " weight sets, got " + std::to_string(w_.size()));
    for (const auto& w : w_) {
        auto check = [](const AlignedBuffer& b, std::size_t n, const char* name) {
            if (b.size() != n)
                throw InvalidArgument(std::string("GRU ") + name + ": expected " + std::to_string(n) +
                                      " values, got " + std::to_string(b.size()));
        };
        check(w.W, 3 * H * I, "W (3*hidden x input)");
        check(w.R, 3 * H * H, "R (3*hidden x hidden)");
        check(w.bW, 3 * H, "bW (3*hidden)");
        check(w.bR, 3 * H, "bR (3*hidden)");
    }
    if (uses_packed_kernels()) {  // keep one copy of the weights: the packed one
        for (const auto& w : w_) packed_.push_back(pack_gru(w, I, H));
        w_.clear();
    }
}

std::vector<GruWeights> GruLayer::weights() const {
    if (quant_) return quant_weights();
    if (!uses_packed_kernels()) return w_;
    std::vector<GruWeights> out;
    for (const auto& p : packed_) out.push_back(unpack_gru(p));
    return out;
}

bool GruLayer::uses_packed_kernels(const GruConfig& c) {
    return c.gate_activation.kind == ActKind::Sigmoid && c.candidate_activation.kind == ActKind::Tanh;
}

GruLayer::GruLayer(const GruConfig& config, std::vector<PackedGru> packed) : cfg_(config), packed_(std::move(packed)) {
    cfg_.validate();
    if (!uses_packed_kernels())
        throw InvalidArgument("packed GRU weights need sigmoid gates and a tanh candidate");
    const std::size_t H = cfg_.hidden_size, I = cfg_.input_size, tiles = (H + kTile - 1) / kTile;
    if (packed_.size() != cfg_.num_directions())
        throw InvalidArgument("GRU needs " + std::to_string(cfg_.num_directions()) + " packed weight sets, got " +
                              std::to_string(packed_.size()));
    for (const auto& p : packed_)
        if (p.input != I || p.hidden != H || p.tiles != tiles || p.tile_stride != (I + H) * kTileRow ||
            p.w.size() != tiles * p.tile_stride || p.bx.size() != tiles * kTileRow || p.bh.size() != tiles * kTileRow)
            throw InvalidArgument("packed GRU weights do not match input_size=" + std::to_string(I) +
                                  ", hidden_size=" + std::to_string(H));
}

std::size_t GruLayer::xp_row_floats() const {
    if (quant_) return quant_xp_row_floats();
    return uses_packed_kernels() ? packed_[0].tiles * kTileRow : 3 * cfg_.hidden_size;
}

std::size_t GruLayer::project_inputs(std::size_t d, const float* x, std::size_t rows, float* xp) const {
    const Kernels& k = active_kernels();
    const std::size_t I = cfg_.input_size, ld = xp_row_floats();
    if (quant_) {
        quant_project(d, x, rows, xp);
    } else if (uses_packed_kernels()) {
        const PackedGru& p = packed_[d];
        k.gemm_packed(rows, I, x, I, p.w.data(), p.tile_stride, p.tiles, p.bx.data(), xp, ld);
    } else {
        k.gemm_nt(rows, 3 * cfg_.hidden_size, I, x, I, w_[d].W.data(), I, w_[d].bW.data(), xp, ld);
    }
    return ld;
}

std::size_t GruLayer::step_rows_scratch(std::size_t rows) const {
    const std::size_t H = cfg_.hidden_size;
    if (quant_) return quant_scratch_floats(rows);
    return uses_packed_kernels() ? gru_step_scratch_floats(rows, H) : rows * 4 * H;
}

void GruLayer::step_rows(std::size_t d, std::size_t rows, const float* xp, std::size_t xp_stride, const float* h,
                         std::size_t ldh, float* h_out, std::size_t ldo, float* scratch, bool reverse_tiles,
                         bool raw_input) const {
    const std::size_t H = cfg_.hidden_size;
    if (!uses_packed_kernels()) {
        if (raw_input) throw InvalidArgument("GRU generic path: inputs must be projected first");
        if (ldh != H || ldo != H) throw InvalidArgument("GRU generic path: state rows must be contiguous");
        if (h_out != h) std::memcpy(h_out, h, rows * H * sizeof(float));
        update(w_[d], rows, xp, xp_stride, h_out, scratch);
        return;
    }
    if (quant_) return quant_step_rows(d, rows, xp, xp_stride, h, ldh, h_out, ldo, scratch, raw_input);
    const PackedGru& p = packed_[d];
    GruStepArgs a;
    a.rows = rows; a.input = cfg_.input_size; a.hidden = H;
    if (raw_input) { a.x = xp; a.ldx = xp_stride; }
    else { a.xp = xp; a.ldxp = xp_stride; }
    a.h = h; a.ldh = ldh; a.h_out = h_out; a.ldo = ldo;
    a.w = p.w.data(); a.tile_stride = p.tile_stride; a.bx = p.bx.data(); a.bh = p.bh.data();
    a.clip = cfg_.clip; a.fast = fast_; a.scratch = scratch; a.reverse_tiles = reverse_tiles;
    const Kernels& k = active_kernels();
    (cfg_.linear_before_reset ? k.gru_lbr_step : k.gru_cho_step)(a);
}

const char* GruLayer::stream_unsupported_reason() const {
    if (cfg_.direction == GruDirection::Bidirectional)
        return "a bidirectional GRU reads the sequence from its end, so it cannot stream step by step";
    if (cfg_.direction == GruDirection::Reverse)
        return "a reverse GRU reads the sequence from its end, so it cannot stream step by step";
    return nullptr;
}

void GruLayer::update(const GruWeights& w, std::size_t rows, const float* xp, std::size_t xp_stride,
                      float* h, float* rec) const {
    const Kernels& k = active_kernels();
    const std::size_t H = cfg_.hidden_size, ld = 4 * H;  // rec row: z r n | r*h
    const float clip = cfg_.clip;
    auto clamp = [clip](float* v, std::size_t n) {
        if (clip > 0.0f)
            for (std::size_t j = 0; j < n; ++j) v[j] = std::min(clip, std::max(-clip, v[j]));
    };
    // z and r for every row (lbr=1: the candidate's recurrent product comes with them).
    k.gemm_nt(rows, cfg_.linear_before_reset ? 3 * H : 2 * H, H, h, H, w.R.data(), H, w.bR.data(), rec, ld);
    for (std::size_t b = 0; b < rows; ++b) {
        float* g = rec + b * ld;
        const float* x = xp + b * xp_stride;
        for (std::size_t j = 0; j < 2 * H; ++j) g[j] += x[j];
        clamp(g, 2 * H);
        apply_activation(cfg_.gate_activation, g, 2 * H);
        if (!cfg_.linear_before_reset) {
            const float* r = g + H;
            const float* hb = h + b * H;
            for (std::size_t j = 0; j < H; ++j) g[3 * H + j] = r[j] * hb[j];
        }
    }
    if (!cfg_.linear_before_reset)  // Rn (r * h) + bRn, after r is known
        k.gemm_nt(rows, H, H, rec + 3 * H, ld, w.R.data() + 2 * H * H, H, w.bR.data() + 2 * H, rec + 2 * H, ld);
    for (std::size_t b = 0; b < rows; ++b) {
        float* g = rec + b * ld;
        const float* x = xp + b * xp_stride;
        const float *z = g, *r = g + H;
        float* n = g + 2 * H;
        if (cfg_.linear_before_reset)
            for (std::size_t j = 0; j < H; ++j) n[j] = x[2 * H + j] + r[j] * n[j];
        else
            for (std::size_t j = 0; j < H; ++j) n[j] = x[2 * H + j] + n[j];
        clamp(n, H);
        apply_activation(cfg_.candidate_activation, n, H);
        float* hb = h + b * H;
        for (std::size_t j = 0; j < H; ++j) hb[j] = n[j] + z[j] * (hb[j] - n[j]);
    }
}

void GruLayer::run_direction(std::size_t d, const float* xp, std::size_t B, std::size_t T,
                             const std::int64_t* lengths, bool reverse, float* h, float* y_dir,
                             std::size_t y_stride, bool raw_input, ProjectionPipeline* pipeline) const {
    const std::size_t H = cfg_.hidden_size, G = raw_input ? cfg_.input_size : xp_row_floats();
    // Two state buffers (a kernel reads one and writes the other), gathered rows and scratch.
    AlignedBuffer h2(B * H), hg(B * H), hg2(B * H), xg(B * G), scratch(step_rows_scratch(B));
    float* cur = h;
    float* next = h2.data();
    auto len = [&](std::size_t b) { return lengths ? static_cast<std::size_t>(lengths[b]) : T; };
    bool equal_lengths = true;
    std::size_t steps = 0;
    for (std::size_t b = 0; b < B; ++b) {
        steps = std::max(steps, len(b));
        equal_lengths = equal_lengths && len(b) == len(0);
    }
    const bool out_in_processing_order = reverse && cfg_.reverse_output_in_processing_order;
    auto emit = [&](std::size_t b, std::size_t t, std::size_t s, const float* hb) {
        if (!y_dir) return;
        std::size_t t_out = out_in_processing_order ? s : t;
        std::memcpy(y_dir + (b * T + t_out) * y_stride, hb, H * sizeof(float));
    };
    if (equal_lengths && y_dir && uses_packed_kernels()) {
        // Each step's new state goes straight into its output rows (row b of step t at
        // y_dir + (b * T + t) * y_stride), and the next step reads it from there.
        const float* prev = cur;
        std::size_t ld_prev = H;
        for (std::size_t s = 0; s < steps; ++s) {
            const std::size_t t = reverse ? len(0) - 1 - s : s;
            float* out = y_dir + (out_in_processing_order ? s : t) * y_stride;
            if (pipeline) pipeline->wait_for(s);
            step_rows(d, B, xp + t * G, T * G, prev, ld_prev, out, T * y_stride, scratch.data(), s % 2 == 1,
                      raw_input);
            prev = out;
            ld_prev = T * y_stride;
        }
        if (prev != cur)
            for (std::size_t b = 0; b < B; ++b) std::memcpy(h + b * H, prev + b * ld_prev, H * sizeof(float));
        return;
    }
    for (std::size_t s = 0; s < steps; ++s) {
        if (equal_lengths) {  // every row at the same time index: one kernel call for the batch
            const std::size_t t = reverse ? len(0) - 1 - s : s;
            if (pipeline) pipeline->wait_for(s);
            step_rows(d, B, xp + t * G, T * G, cur, H, next, H, scratch.data(), s % 2 == 1, raw_input);
            std::swap(cur, next);
            for (std::size_t b = 0; b < B; ++b) emit(b, t, s, cur + b * H);
            continue;
        }
        std::size_t n = 0;  // gather the rows still inside their sequence
        for (std::size_t b = 0; b < B; ++b) {
            if (s >= len(b)) continue;
            const std::size_t t = reverse ? len(b) - 1 - s : s;
            std::memcpy(hg.data() + n * H, cur + b * H, H * sizeof(float));
            std::memcpy(xg.data() + n * G, xp + (b * T + t) * G, G * sizeof(float));
            ++n;
        }
        step_rows(d, n, xg.data(), G, hg.data(), H, hg2.data(), H, scratch.data(), false, raw_input);
        n = 0;
        for (std::size_t b = 0; b < B; ++b) {
            if (s >= len(b)) continue;
            const std::size_t t = reverse ? len(b) - 1 - s : s;
            std::memcpy(cur + b * H, hg2.data() + n * H, H * sizeof(float));
            emit(b, t, s, cur + b * H);
            ++n;
        }
    }
    if (cur != h) std::memcpy(h, cur, B * H * sizeof(float));
}

namespace {

void merge(MergeMode mode, const float* a, const float* b, float* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        switch (mode) {
            case MergeMode::Sum: out[i] = a[i] + b[i]; break;
            case MergeMode::Mul: out[i] = a[i] * b[i]; break;
            case MergeMode::Ave: out[i] = (a[i] + b[i]) * 0.5f; break;
            case MergeMode::Concat: break;  // handled by the caller's layout
        }
    }
}

}  // namespace

namespace {

// Projection FLOPs below which a second thread costs more than it saves (starting one takes tens of
// microseconds; the GEMM runs at ~90 GFLOP/s).
constexpr double kPipelineMinFlops = 8e6;

// Steps per pipeline block: ~16 blocks, at least 16 steps (a GEMM of fewer rows loses speed), a
// multiple of 4 (the GEMM micro-kernel's rows).
std::size_t pipeline_block(std::size_t steps) {
    const std::size_t b = (steps / 16 + 3) / 4 * 4;
    return b < 16 ? 16 : b;
}

}  // namespace

void GruLayer::forward(const float* x, float* y, std::size_t B, std::size_t T,
                       const SequenceContext& ctx) const {
    const std::size_t H = cfg_.hidden_size, D = cfg_.num_directions();
    const bool concat = D == 1 || cfg_.merge_mode == MergeMode::Concat;
    AlignedBuffer h(D * B * H);
    AlignedBuffer seq_out;  // per-direction outputs when they must be merged element-wise
    if (cfg_.return_sequences && !concat) seq_out.resize(D * B * T * H);
    if (ctx.h0) std::memcpy(h.data(), ctx.h0, D * B * H * sizeof(float));
    if (cfg_.return_sequences && ctx.lengths)  // outputs past a sequence's end stay zero
        std::memset(y, 0, B * T * output_size() * sizeof(float));

    // A few input features (a sensor, audio samples): their products cost less inside the step
    // kernel than a separate projection pass and its (B, T, 3H) buffer. Batches of 4+ rows run
    // their steps as a GEMM, which wants the projection.
    const bool raw_input = uses_packed_kernels() && cfg_.input_size <= kFusedInputMax && B < 4;
    // A batch of one cannot be split across threads: with a thread to spare, the input projection
    // runs on it, block by block ahead of the steps (ProjectionPipeline), when there is enough
    // projection work to pay for starting a thread. Same results bit for bit.
    const std::size_t steps1 = B == 1 && ctx.lengths ? static_cast<std::size_t>(ctx.lengths[0]) : T;
    const bool pipelined = !raw_input && B == 1 && uses_packed_kernels() && get_num_threads() >= 2 &&
                           2.0 * steps1 * cfg_.input_size * 3 * H >= kPipelineMinFlops;
    auto direction = [&](std::size_t d) {
        AlignedBuffer xp = AlignedBuffer::uninitialized(raw_input ? 0 : B * T * xp_row_floats());
        const bool reverse = d == 1 || cfg_.direction == GruDirection::Reverse;
        float* y_dir = nullptr;
        std::size_t y_stride = H;
        if (cfg_.return_sequences) {
            if (concat) { y_dir = y + d * H; y_stride = D * H; }
            else y_dir = seq_out.data() + d * B * T * H;
        }
        auto run = [&](const float* in, ProjectionPipeline* pipeline) {
            run_direction(d, in, B, T, ctx.lengths, reverse, h.data() + d * B * H, y_dir, y_stride, raw_input, pipeline);
        };
        if (raw_input) return run(x, nullptr);
        // inside_parallel_for: the directions already run on two threads (or the batch was split).
        if (!pipelined || inside_parallel_for()) {
            project_inputs(d, x, B * T, xp.data());
            return run(xp.data(), nullptr);
        }
        const std::size_t ld = xp_row_floats();
        ProjectionPipeline pipeline(steps1, pipeline_block(steps1), [&](std::size_t s0, std::size_t s1) {
            const std::size_t r0 = reverse ? steps1 - s1 : s0;  // rows of processing steps s0 .. s1 - 1
            project_inputs(d, x + r0 * cfg_.input_size, s1 - s0, xp.data() + r0 * ld);
        });
        parallel_for(2, 2, [&](std::size_t task) {
            if (task == 0) run(xp.data(), &pipeline);
            else pipeline.produce();
        });
    };
    // The two directions are independent: run them on two threads when the work pays for it.
    const double work = 6.0 * B * T * (cfg_.input_size + H) * H;
    parallel_for(D, D == 2 && work > 4e6 ? get_num_threads() : 1, direction);
    if (ctx.hn) std::memcpy(ctx.hn, h.data(), D * B * H * sizeof(float));

    if (cfg_.return_sequences) {
        if (!concat) merge(cfg_.merge_mode, seq_out.data(), seq_out.data() + B * T * H, y, B * T * H);
        return;
    }
    // Final states only: (B, D*H) for concat, merged (B, H) otherwise.
    for (std::size_t b = 0; b < B; ++b) {
        if (concat)
            for (std::size_t d = 0; d < D; ++d)
                std::memcpy(y + (b * D + d) * H, h.data() + (d * B + b) * H, H * sizeof(float));
        else
            merge(cfg_.merge_mode, h.data() + b * H, h.data() + (B + b) * H, y + b * H, H);
    }
}

std::size_t GruLayer::step_scratch_size(std::size_t B) const {
    return B * xp_row_floats() + step_rows_scratch(B);
}

void GruLayer::step(const float* x, float* y, std::size_t B, float* state, float* scratch,
                    bool walk_backward) const {
    const std::size_t H = cfg_.hidden_size;
    float* rest = scratch + B * xp_row_floats();
    if (quant_) {  // the input product fused in, as below
        quant_step_rows(0, B, x, cfg_.input_size, state, H, y, H, rest, true);
        std::memcpy(state, y, B * H * sizeof(float));
        return;
    }
    if (uses_packed_kernels()) {  // input and recurrent products in one pass over the packed tiles
        const PackedGru& p = packed_[0];
        GruStepArgs a;
        a.rows = B; a.input = cfg_.input_size; a.hidden = H;
        a.x = x; a.ldx = cfg_.input_size;
        a.h = state; a.ldh = H; a.h_out = y; a.ldo = H;
        a.w = p.w.data(); a.tile_stride = p.tile_stride; a.bx = p.bx.data(); a.bh = p.bh.data();
        a.clip = cfg_.clip; a.fast = fast_; a.scratch = rest; a.reverse_tiles = walk_backward;
        const Kernels& k = active_kernels();
        (cfg_.linear_before_reset ? k.gru_lbr_step : k.gru_cho_step)(a);
        std::memcpy(state, y, B * H * sizeof(float));
        return;
    }
    const std::size_t G = project_inputs(0, x, B, scratch);
    step_rows(0, B, scratch, G, state, state, rest, walk_backward);
    std::memcpy(y, state, B * H * sizeof(float));
}

}  // namespace gru_infer
