#include "gru_infer/stream.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "gru_infer/dense_layer.h"
#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "gru_infer/input_skip_layer.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "runtime/checked_size.h"
#include "runtime/denormals.h"
#include "stream_block.h"

namespace gru_infer {

// A GRU layer's step with its kernel arguments prepared (GruLayer::prepare_step).
struct StreamGruStep {
    const GruLayer* layer = nullptr;  // null: not a packed GRU layer (fp32 or reduced precision)
    bool quant = false;               // which of args and qargs the layer runs
    GruStepArgs args;
    QGruStepArgs qargs;
    void run(const float* x, float* y, std::size_t rows, float* state, bool walk_backward) {
        if (quant) layer->step_prepared(qargs, x, y, rows, state, walk_backward);
        else layer->step_prepared(args, x, y, rows, state, walk_backward);
    }
};

namespace {

std::size_t checked_product(std::size_t a, std::size_t b, std::size_t c) {
    if ((b && a > SIZE_MAX / b) || (c && a * b > SIZE_MAX / sizeof(float) / c))
        throw InvalidArgument("a stream of batch " + std::to_string(a) + " and max_block " + std::to_string(b) +
                              " is too large to address");
    return a * b * c;
}

}  // namespace

std::size_t Stream::default_max_block(std::size_t batch) {
    return std::max<std::size_t>(1, std::min<std::size_t>(64, 4096 / std::max<std::size_t>(batch, 1)));
}

std::size_t Stream::max_batch(const Model& model) {
    // Floats per batch row of all the stream's buffers: state, the widest layer's step scratch
    // (linear in the batch) and the two work buffers between layers.
    std::size_t widest = model.input_size(), scratch = 0;
    for (const auto& l : model.layers()) {
        widest = std::max(widest, l->output_size());
        scratch = std::max(scratch, l->step_scratch_size(1));
    }
    return kMaxBufferFloats / (model.state_size() + scratch + 2 * widest);
}

std::size_t Stream::max_block_limit(const Model& model, std::size_t batch) {
    // Floats per row and step of run()'s block buffers: two work buffers between layers, a gathered
    // input and output piece, ids, and a GRU's input projection.
    std::size_t widest = model.input_size(), xp_row = 0;
    for (const auto& l : model.layers()) {
        widest = std::max(widest, l->output_size());
        xp_row = std::max(xp_row, block_projection_floats(*l, std::max<std::size_t>(batch, 1)));
    }
    const std::size_t per_step = std::max<std::size_t>(batch, 1) * (4 * widest + xp_row + 2);
    return std::max<std::size_t>(1, kMaxBlockBytes / sizeof(float) / per_step);
}

Stream::Stream(std::shared_ptr<const Model> model, std::size_t batch, std::size_t max_block, bool fast_activations)
    : model_(std::move(model)), batch_(batch) {
    ctx_.fast_activations = fast_activations;
    if (!model_ || model_->layers().empty()) throw InvalidArgument("a stream needs a model with layers");
    const std::size_t max = max_batch(*model_);
    if (batch == 0 || batch > max)
        throw InvalidArgument("stream: batch must be in [1, " + std::to_string(max) +
                              "] for this model (its buffers would pass " + std::to_string(kMaxBufferBytes) +
                              " bytes), got " + std::to_string(batch));
    const std::size_t block_limit = max_block_limit(*model_, batch);
    if (max_block > block_limit)
        throw InvalidArgument("max_block: expected at most " + std::to_string(block_limit) + " steps for a batch of " +
                              std::to_string(batch) + " of this model (run()'s buffers stay under " +
                              std::to_string(kMaxBlockBytes >> 20) + " MiB; a longer block runs in pieces), got " +
                              std::to_string(max_block));
    max_block_ = max_block ? max_block : std::min(default_max_block(batch), block_limit);
    active_kernels();  // choose the kernels now, not in the first step
    std::size_t widest = model_->input_size(), scratch = 0, offset = 0, xp_row = 0;
    for (const auto& layer : model_->layers()) {
        if (const char* why = layer->stream_unsupported_reason())
            throw InvalidArgument(std::string("this model cannot stream: ") + why);
        const auto* g = dynamic_cast<const GruLayer*>(layer.get());
        const Layer* l = g ? &g->for_rows(batch) : layer.get();
        run_layers_.push_back(l);
        const auto* rg = dynamic_cast<const GruLayer*>(l);
        const auto* d = dynamic_cast<const DenseLayer*>(l);
        bf16_ = bf16_ || (rg ? rg->weight_format() : d ? d->weight_format() : WeightFormat::F32) == WeightFormat::BF16;
        widest = std::max(widest, l->output_size());
        // run() steps a stateless layer over every (row, step) of a block at once.
        scratch = std::max(scratch, l->step_scratch_size(l->state_size() ? batch : checked_product(batch, max_block_, 1)));
        xp_row = std::max(xp_row, block_projection_floats(*l, batch));
        scratch = std::max(scratch, block_scratch_floats(*l, batch, max_block_));
        state_offset_.push_back(offset);
        state_row_offset_.push_back(offset / batch);
        offset += l->state_size() * batch;
    }
    state_.resize(offset);
    reset();
    scratch_.resize(scratch);
    ping_.resize(batch * widest);
    pong_.resize(batch * widest);
    const std::size_t layers = model_->layers().size();
    if (layers > 1) {
        block_ping_.resize(checked_product(batch, max_block_, widest));
        block_pong_.resize(batch * max_block_ * widest);
    }
    block_xp_.resize(checked_product(batch, max_block_, xp_row));
    if (batch > 1) {  // pieces of a longer block are gathered here (their rows are not contiguous)
        block_in_.resize(checked_product(batch, max_block_, model_->takes_ids() ? 0 : model_->input_size()));
        block_out_.resize(checked_product(batch, max_block_, model_->output_size()));
        if (model_->takes_ids()) block_ids_.resize(batch * max_block_);
    }
    slot_state_.resize(offset);
    slot_mark_.resize(batch);
    slot_ids_.resize(batch);
    takes_ids_ = model_->takes_ids();
    gru_steps_.reset(new StreamGruStep[layers]);
    for (std::size_t i = 0; i < layers; ++i) {
        const auto* g = dynamic_cast<const GruLayer*>(run_layers_[i]);
        if (!g) continue;
        StreamGruStep& s = gru_steps_[i];
        s.quant = g->prepare_step(batch, scratch_.data(), fast_activations, s.qargs);
        if (s.quant || g->prepare_step(batch, scratch_.data(), fast_activations, s.args)) s.layer = g;
    }
    single_gru_ = layers == 1 && gru_steps_[0].layer;
}

Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

void Stream::reset() noexcept {
    for (std::size_t b = 0; b < batch_; ++b) reset_row(b);
}

void Stream::reset_row(std::size_t row) noexcept {
    const auto& layers = model_->layers();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::size_t S = layers[i]->state_size();
        float* state = state_.data() + state_offset_[i] + row * S;
        if (const float* init = layers[i]->initial_state()) std::memcpy(state, init, S * sizeof(float));
        else if (S) std::memset(state, 0, S * sizeof(float));
    }
}

void Stream::run_from(std::size_t first, const float* x, float* y, std::size_t rows, float* state) noexcept {
    FlushDenormalsOnceMet flush(bf16_, mxcsr_trusted_);  // one step: MXCSR accesses would be a visible part of it
    const auto& layers = run_layers_;
    const float* cur = x;
    for (std::size_t i = first; i < layers.size(); ++i) {
        float* out = i + 1 == layers.size() ? y : (cur == ping_.data() ? pong_.data() : ping_.data());
        float* layer_state = state + state_row_offset_[i] * rows;
        if (StreamGruStep& g = gru_steps_[i]; g.layer) {  // as layers[i]->step, its arguments prepared
            g.run(cur, out, rows, layer_state, ctx_.walk_backward);
        } else if (layers[i]->kind() == LayerKind::InputSkip) {  // first == 0 here: skips need float input
            static_cast<const InputSkipLayer&>(*layers[i]).step_with_input(cur, x, out, rows);
        } else {
            layers[i]->step(cur, out, rows, layer_state, scratch_.data(), ctx_);
        }
        cur = out;
    }
    if (first == layers.size()) std::memcpy(y, x, rows * model_->output_size() * sizeof(float));
    ctx_.walk_backward = !ctx_.walk_backward;
}

void Stream::step(const float* x, float* y) noexcept {
    if (takes_ids_) {  // a float step into an id model: NaN, loudly, never a plausible answer
        for (std::size_t i = 0; i < batch_ * model_->output_size(); ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    if (single_gru_) {  // a model of one GRU layer: run_from without its layer loop (a tiny
        FlushDenormalsOnceMet flush(bf16_, mxcsr_trusted_);  // model's step is tens of ns, and the loop's bookkeeping showed)
        StreamGruStep& g = gru_steps_[0];
        g.run(x, y, batch_, state_.data(), ctx_.walk_backward);
        ctx_.walk_backward = !ctx_.walk_backward;
        return;
    }
    run_from(0, x, y, batch_, state_.data());
}

void Stream::check_ids(const std::int64_t* ids) const { check_ids(ids, batch_); }

void Stream::check_ids(const std::int64_t* ids, std::size_t n) const {
    if (!model_->takes_ids()) throw InvalidArgument("this model takes float features, not ids");
    static_cast<const EmbeddingLayer&>(*model_->layers()[0]).check_ids(ids, n);
}

void Stream::lookup_ids(const std::int64_t* ids, std::size_t n, float* out) const noexcept {
    const auto& emb = static_cast<const EmbeddingLayer&>(*model_->layers()[0]);
    const std::size_t dim = emb.output_size();
    for (std::size_t b = 0; b < n; ++b) {  // an invalid id gives a zero vector, never a wild read
        float* row = out + b * dim;
        const std::int64_t id = ids[b];  // read once: the caller's array may change meanwhile
        if (id >= 0 && static_cast<std::uint64_t>(id) < emb.num_embeddings())
            std::memcpy(row, emb.table().data() + static_cast<std::size_t>(id) * dim, dim * sizeof(float));
        else
            std::memset(row, 0, dim * sizeof(float));
    }
}

void Stream::step_ids(const std::int64_t* ids, float* y) noexcept {
    lookup_ids(ids, batch_, ping_.data());
    run_from(1, ping_.data(), y, batch_, state_.data());
}

}  // namespace gru_infer
