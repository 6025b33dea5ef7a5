// GRU layer over whole sequences: forward (directions, threads, the batch-of-one projection
// pipeline, bidirectional merge) and run_direction (the time loop, ragged lengths).
#include <algorithm>
#include <cstring>

#include "gru_infer/gru_layer.h"
#include "gru_infer/threading.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "runtime/parallel.h"
#include "runtime/projection_pipeline.h"

namespace gru_infer {

// Batches project their inputs this many rows (steps x batch) at a time (run_direction).
constexpr std::size_t kProjectedRowsPerBlock = 256;

// Sequences with at most this many input features skip the separate input projection (forward;
// measured faster up to 16 at H = 16..128, slower at 32 and H = 64).
constexpr std::size_t kFusedInputMax = 16;

// An int8 layer of at most this many units takes its input product inside the step kernel (as
// a stream step does) at any input size: measured faster than the separate quantized projection
// (AVX-512, I = H = 32, batch 1: 0.94x -> 1.3x of fp32; bf16 and fp16 slower fused).
constexpr std::size_t kFusedInt8MaxHidden = 64;

// Widening per predict call instead measured 2-10% of a batch (conversion and fresh pages).
const GruLayer& GruLayer::for_rows(std::size_t rows) const {
    if (rows < kStepGemmRows || !runs_quantized() || runs_quantized_batches()) return *this;
    std::lock_guard<std::mutex> lock(wide_mutex_);
    if (!wide_) wide_ = std::make_unique<const GruLayer>(cfg_, quant_weights());
    return *wide_;
}

bool GruLayer::fuses_input(std::size_t rows) const {
    if (runs_quantized() && rows < kStepGemmRows && weight_format() == WeightFormat::Int8 &&
        cfg_.hidden_size <= kFusedInt8MaxHidden)
        return true;
    return uses_packed_kernels() && cfg_.input_size <= kFusedInputMax && rows < kStepGemmRows;
}

void GruLayer::run_direction(std::size_t d, const float* xp, std::size_t B, std::size_t T,
                             const std::int64_t* lengths, bool reverse, float* h, float* y_dir,
                             std::size_t y_stride, bool raw_input, ProjectionPipeline* pipeline, bool fast,
                             const float* x_batch) const {
    const std::size_t H = cfg_.hidden_size, I = cfg_.input_size, G = raw_input ? I : xp_row_floats();
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
    if (x_batch && equal_lengths) {
        // A few steps' inputs projected at a time, just before those steps, time-major (the rows of
        // a step contiguous; in (B, T) order they are T rows apart: no prefetching, and a cache-set
        // conflict when that is a multiple of 4 KB): the projection's output is still in cache
        // when the steps read it, and stays small however long the sequences are.
        const std::size_t L = len(0), block = std::min(std::max<std::size_t>(1, kProjectedRowsPerBlock / B), L);
        AlignedBuffer xt = AlignedBuffer::uninitialized(block * B * I), xb = AlignedBuffer::uninitialized(block * B * G);
        for (std::size_t s0 = 0; s0 < L; s0 += block) {
            const std::size_t s1 = std::min(L, s0 + block), t0 = reverse ? L - s1 : s0;
            for (std::size_t t = t0; t < t0 + (s1 - s0); ++t)
                for (std::size_t b = 0; b < B; ++b)
                    std::memcpy(xt.data() + ((t - t0) * B + b) * I, x_batch + (b * T + t) * I, I * sizeof(float));
            project_inputs(d, xt.data(), (s1 - s0) * B, xb.data());
            for (std::size_t s = s0; s < s1; ++s) {
                const std::size_t t = reverse ? L - 1 - s : s;
                step_rows(d, B, xb.data() + (t - t0) * B * G, G, cur, H, next, H, scratch.data(), s % 2 == 1, false,
                          fast);
                std::swap(cur, next);
                for (std::size_t b = 0; b < B; ++b) emit(b, t, s, cur + b * H);
            }
        }
        if (cur != h) std::memcpy(h, cur, B * H * sizeof(float));
        return;
    }
    AlignedBuffer xp_all;  // ragged batches: every step projected up front (their rows are gathered below)
    if (x_batch) {
        xp_all = AlignedBuffer::uninitialized(B * T * G);
        project_inputs(d, x_batch, B * T, xp_all.data());
        xp = xp_all.data();
    }
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
                      raw_input, fast);
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
            step_rows(d, B, xp + t * G, T * G, cur, H, next, H, scratch.data(), s % 2 == 1, raw_input, fast);
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
        // A batch of kStepGemmRows+ rows steps every row through the GEMM path, also when fewer
        // rows are left (zero rows fill up, their results unused): a row's result then does not
        // depend on how many others are still running, nor on how predict split the batch.
        const std::size_t rows = B >= kStepGemmRows ? std::max(n, kStepGemmRows) : n;
        if (rows > n) {
            std::memset(hg.data() + n * H, 0, (rows - n) * H * sizeof(float));
            std::memset(xg.data() + n * G, 0, (rows - n) * G * sizeof(float));
        }
        step_rows(d, rows, xg.data(), G, hg.data(), H, hg2.data(), H, scratch.data(), false, raw_input, fast);
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
    if (const GruLayer& g = for_rows(B); &g != this) return g.forward(x, y, B, T, ctx);
    const std::size_t H = cfg_.hidden_size, D = cfg_.num_directions();
    const bool concat = D == 1 || cfg_.merge_mode == MergeMode::Concat;
    AlignedBuffer h(D * B * H);
    AlignedBuffer seq_out;  // per-direction outputs when they must be merged element-wise
    if (cfg_.return_sequences && !concat) seq_out.resize(D * B * T * H);
    if (ctx.h0) std::memcpy(h.data(), ctx.h0, D * B * H * sizeof(float));
    else if (const float* h_init = initial_state())  // the layer's default, in every row
        for (std::size_t r = 0; r < D * B; ++r) std::memcpy(h.data() + r * H, h_init + r / B * H, H * sizeof(float));
    if (cfg_.return_sequences && ctx.lengths)  // outputs past a sequence's end stay zero
        std::memset(y, 0, B * T * output_size() * sizeof(float));

    // A few input features (a sensor, audio samples): their products cost less inside the step
    // kernel than a separate projection pass and its (B, T, 3H) buffer. Batches of 4+ rows run
    // their steps as a GEMM, which wants the projection.
    const bool raw_input = fuses_input(B);
    // A batch of one cannot be split across threads: with a thread to spare, the input projection
    // runs on it, block by block ahead of the steps (ProjectionPipeline), when there is enough
    // projection work to pay for starting a thread. Same results bit for bit.
    const std::size_t steps1 = B == 1 && ctx.lengths ? static_cast<std::size_t>(ctx.lengths[0]) : T;
    const bool pipelined = !raw_input && B == 1 && uses_packed_kernels() && get_num_threads() >= 2 &&
                           2.0 * steps1 * cfg_.input_size * 3 * H >= kPipelineMinFlops;
    // Batches project their inputs inside run_direction (x_batch): a few steps at a time.
    const bool projects_in_run = !raw_input && B >= kStepGemmRows;
    auto direction = [&](std::size_t d) {
        AlignedBuffer xp = AlignedBuffer::uninitialized(raw_input || projects_in_run ? 0 : B * T * xp_row_floats());
        const bool reverse = d == 1 || cfg_.direction == GruDirection::Reverse;
        float* y_dir = nullptr;
        std::size_t y_stride = H;
        if (cfg_.return_sequences) {
            if (concat) { y_dir = y + d * H; y_stride = D * H; }
            else y_dir = seq_out.data() + d * B * T * H;
        }
        auto run = [&](const float* in, ProjectionPipeline* pipeline) {
            run_direction(d, in, B, T, ctx.lengths, reverse, h.data() + d * B * H, y_dir, y_stride, raw_input, pipeline,
                          ctx.fast_activations, projects_in_run ? x : nullptr);
        };
        if (raw_input) return run(x, nullptr);
        if (projects_in_run) return run(nullptr, nullptr);
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

}  // namespace gru_infer
