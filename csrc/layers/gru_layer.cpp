// GRU layer: configuration checks, constructors, weights, and the one-step set-up (packed_step,
// step_rows) that whole sequences (gru_sequence.cpp) and streams (step, below) share.
#include "gru_infer/gru_layer.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "gru_infer/error.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "runtime/checked_size.h"

namespace gru_infer {

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
    if (!initial_state.empty() && initial_state.size() != num_directions() * hidden_size)
        throw InvalidArgument("GRU initial state: expected " + std::to_string(num_directions() * hidden_size) +
                              " values (directions x hidden), got " + std::to_string(initial_state.size()));
}

namespace {

// The gate-major recurrent copy (pack_gate_major_recurrent, layers of 9 to 32 units) serves the
// AVX-512 step alone; the other tables ignore it. So it is made when the layer is built while the
// AVX-512 table is the active one, and an AVX2, NEON or scalar machine does not hold it. A layer
// built under another table and then run on AVX-512 (set_isa later) runs AVX-512's general step,
// which gives the same results within the kernels' tolerance, a little slower at those sizes.
std::vector<AlignedBuffer> gate_major_copies(const std::vector<PackedGru>& packed) {
    std::vector<AlignedBuffer> out;
    if (!uses_avx512_f32(active_kernels().name)) return out;
    for (const auto& p : packed) out.push_back(pack_gate_major_recurrent(p));
    return out;
}

}  // namespace

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
        const std::size_t H3 = checked_mul(3, H, "GRU hidden_size");  // (no wrap on 32-bit hosts)
        check(w.W, checked_mul(H3, I, "GRU W (3*hidden x input)"), "W (3*hidden x input)");
        check(w.R, checked_mul(H3, H, "GRU R (3*hidden x hidden)"), "R (3*hidden x hidden)");
        check(w.bW, H3, "bW (3*hidden)");
        check(w.bR, H3, "bR (3*hidden)");
    }
    if (uses_packed_kernels()) {  // keep one copy of the weights: the packed one
        for (const auto& w : w_) packed_.push_back(pack_gru(w, I, H));
        gate_major_ = gate_major_copies(packed_);
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
    const std::size_t H = cfg_.hidden_size, I = cfg_.input_size, tiles = tiles_for(H);
    if (packed_.size() != cfg_.num_directions())
        throw InvalidArgument("GRU needs " + std::to_string(cfg_.num_directions()) + " packed weight sets, got " +
                              std::to_string(packed_.size()));
    for (const auto& p : packed_)
        if (p.input != I || p.hidden != H || p.tiles != tiles ||
            p.tile_stride != checked_mul(I + H, kTileRow, "GRU packed row") ||
            p.w.size() != checked_mul(tiles, p.tile_stride, "GRU packed weights") ||
            p.bx.size() != tiles * kTileRow || p.bh.size() != tiles * kTileRow)
            throw InvalidArgument("packed GRU weights do not match input_size=" + std::to_string(I) +
                                  ", hidden_size=" + std::to_string(H));
    gate_major_ = gate_major_copies(packed_);
}

std::size_t GruLayer::xp_row_floats() const {
    if (runs_quantized()) return quant_xp_row_floats();
    return uses_packed_kernels() ? packed_[0].tiles * kTileRow : 3 * cfg_.hidden_size;
}

std::size_t GruLayer::project_inputs(std::size_t d, const float* x, std::size_t rows, float* xp) const {
    const Kernels& k = active_kernels();
    const std::size_t I = cfg_.input_size, ld = xp_row_floats();
    if (runs_quantized()) {
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
    if (runs_quantized()) return quant_scratch_floats(rows);
    return uses_packed_kernels() ? gru_step_scratch_floats(rows, H) : rows * 4 * H;
}

namespace {

// The arguments of one step of the packed kernels over `rows` rows: the one place GruStepArgs is
// filled. x holds the projected inputs (xp, tiles * kTileRow per row), or with raw_input the
// inputs themselves, which the kernel multiplies in. Every field is set, so that no zeroing of the
// whole struct is left (GCC emitted rep stos for it, half of GruLayer::step's time at H = 8).
inline GruStepArgs packed_args(const GruConfig& cfg, const PackedGru& p, const float* gate_major, bool fast, std::size_t rows, const float* x,
                               std::size_t ldx, bool raw_input, const float* h, std::size_t ldh, float* h_out,
                               std::size_t ldo, float* scratch, bool walk_backward) {
    GruStepArgs a;
    a.rows = rows; a.input = cfg.input_size; a.hidden = cfg.hidden_size;
    a.x = raw_input ? x : nullptr; a.ldx = raw_input ? ldx : 0;
    a.xp = raw_input ? nullptr : x; a.ldxp = raw_input ? 0 : ldx;
    a.h = h; a.ldh = ldh; a.h_out = h_out; a.ldo = ldo;
    a.w = p.w.data(); a.tile_stride = p.tile_stride; a.bx = p.bx.data(); a.bh = p.bh.data();
    a.w_gate_major = gate_major;
    a.clip = cfg.clip; a.fast = fast; a.scratch = scratch; a.walk_backward = walk_backward;
    return a;
}

inline void run_packed(const GruConfig& cfg, const GruStepArgs& a) {
    const Kernels& k = active_kernels();
    (cfg.linear_before_reset ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
}

// The new state into the layer's state after a step: inline 16-byte moves, which read the
// kernel's just-stored output through store forwarding (a library memcpy on the step's critical
// path measured 17 ns per step at H = 16, 37 at H = 32).
inline void copy_state(float* dst, const float* src, std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) __builtin_memcpy(dst + i, src + i, 4 * sizeof(float));
    for (; i < n; ++i) dst[i] = src[i];
}

}  // namespace

void GruLayer::step_rows(std::size_t d, std::size_t rows, const float* xp, std::size_t xp_stride, const float* h,
                         std::size_t ldh, float* h_out, std::size_t ldo, float* scratch, bool walk_backward,
                         bool raw_input, bool fast) const {
    const std::size_t H = cfg_.hidden_size;
    if (!uses_packed_kernels()) {
        if (raw_input) throw InvalidArgument("GRU generic path: inputs must be projected first");
        if (ldh != H || ldo != H) throw InvalidArgument("GRU generic path: state rows must be contiguous");
        if (h_out != h) std::memcpy(h_out, h, rows * H * sizeof(float));
        update(w_[d], rows, xp, xp_stride, h_out, scratch);
        return;
    }
    if (runs_quantized())
        return quant_step_rows(d, rows, xp, xp_stride, h, ldh, h_out, ldo, scratch, walk_backward, raw_input, fast);
    run_packed(cfg_, packed_args(cfg_, packed_[d], gate_major_recurrent(d), fast, rows, xp, xp_stride, raw_input, h, ldh, h_out, ldo, scratch,
                                 walk_backward));
}

const char* GruLayer::stream_unsupported_reason() const {
    if (cfg_.direction == GruDirection::Bidirectional)
        return "a bidirectional GRU reads the sequence from its end, so it cannot stream step by step";
    if (cfg_.direction == GruDirection::Reverse)
        return "a reverse GRU reads the sequence from its end, so it cannot stream step by step";
    return nullptr;
}

bool GruLayer::prepare_step(std::size_t rows, float* scratch, bool fast, GruStepArgs& a) const {
    if (runs_quantized() || !uses_packed_kernels()) return false;
    const std::size_t H = cfg_.hidden_size;
    a = packed_args(cfg_, packed_[0], gate_major_recurrent(0), fast, rows, nullptr, cfg_.input_size, /*raw_input=*/true, nullptr, H, nullptr, H,
                    scratch + rows * xp_row_floats(), false);
    return true;
}

void GruLayer::step_prepared(GruStepArgs& a, const float* x, float* y, std::size_t rows, float* state,
                             bool walk_backward) const {
    a.rows = rows; a.x = x; a.h = state; a.h_out = y; a.walk_backward = walk_backward;
    run_packed(cfg_, a);
    copy_state(state, y, rows * cfg_.hidden_size);
}

bool GruLayer::prepare_step(std::size_t rows, float* scratch, bool fast, QGruStepArgs& a) const {
    if (!runs_quantized()) return false;
    const std::size_t H = cfg_.hidden_size;
    a = QGruStepArgs{};
    a.rows = rows; a.ldx = cfg_.input_size; a.ldh = H; a.ldo = H;
    a.w = &(*quant_)[0]; a.clip = cfg_.clip; a.fast = fast;
    auto* s = reinterpret_cast<char*>(scratch + rows * xp_row_floats());  // as step(): 64-byte aligned
    a.scratch = s + (64 - reinterpret_cast<std::uintptr_t>(s) % 64) % 64;
    return true;
}

void GruLayer::step_prepared(QGruStepArgs& a, const float* x, float* y, std::size_t rows, float* state,
                             bool walk_backward) const {
    a.rows = rows; a.x = x; a.h = state; a.h_out = y; a.walk_backward = walk_backward;
    const QKernels& k = q_active(a.w->format);
    (cfg_.linear_before_reset ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
    copy_state(state, y, rows * cfg_.hidden_size);
}

std::size_t GruLayer::step_scratch_size(std::size_t B) const {
    return B * xp_row_floats() + step_rows_scratch(B);
}

void GruLayer::step(const float* x, float* y, std::size_t B, float* state, float* scratch,
                    const StepContext& ctx) const {
    const std::size_t H = cfg_.hidden_size;
    float* rest = scratch + B * xp_row_floats();
    if (runs_quantized()) {  // the input product fused in, as below
        quant_step_rows(0, B, x, cfg_.input_size, state, H, y, H, rest, ctx.walk_backward, true, ctx.fast_activations);
        std::memcpy(state, y, B * H * sizeof(float));
        return;
    }
    GruStepArgs a;
    if (prepare_step(B, scratch, ctx.fast_activations, a)) {  // input and recurrent products in one pass
        step_prepared(a, x, y, B, state, ctx.walk_backward);
        return;
    }
    const std::size_t G = project_inputs(0, x, B, scratch);
    step_rows(0, B, scratch, G, state, state, rest, ctx.walk_backward, ctx.fast_activations);
    std::memcpy(y, state, B * H * sizeof(float));
}

}  // namespace gru_infer
