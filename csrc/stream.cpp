#include "gru_infer/stream.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "kernels/kernels.h"
#include "runtime/checked_size.h"
#include "runtime/denormals.h"

namespace gru_infer {

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

Stream::Stream(std::shared_ptr<const Model> model, std::size_t batch, bool fast_activations)
    : model_(std::move(model)), batch_(batch) {
    ctx_.fast_activations = fast_activations;
    if (!model_ || model_->layers().empty()) throw InvalidArgument("a stream needs a model with layers");
    const std::size_t max = max_batch(*model_);
    if (batch == 0 || batch > max)
        throw InvalidArgument("stream: batch must be in [1, " + std::to_string(max) +
                              "] for this model (its buffers would pass " + std::to_string(kMaxBufferBytes) +
                              " bytes), got " + std::to_string(batch));
    active_kernels();  // choose the kernels now, not in the first step
    std::size_t widest = model_->input_size(), scratch = 0, offset = 0;
    for (const auto& l : model_->layers()) {
        if (const char* why = l->stream_unsupported_reason())
            throw InvalidArgument(std::string("this model cannot stream: ") + why);
        widest = std::max(widest, l->output_size());
        scratch = std::max(scratch, l->step_scratch_size(batch));
        state_offset_.push_back(offset);
        offset += l->state_size() * batch;
    }
    state_.resize(offset);
    scratch_.resize(scratch);
    ping_.resize(batch * widest);
    pong_.resize(batch * widest);
}

void Stream::reset() noexcept {
    if (state_.size()) std::memset(state_.data(), 0, state_.size() * sizeof(float));
}

void Stream::run_from(std::size_t first, const float* x, float* y) noexcept {
    FlushDenormals flush;
    const auto& layers = model_->layers();
    const float* cur = x;
    for (std::size_t i = first; i < layers.size(); ++i) {
        float* out = i + 1 == layers.size() ? y : (cur == ping_.data() ? pong_.data() : ping_.data());
        layers[i]->step(cur, out, batch_, state_.data() + state_offset_[i], scratch_.data(), ctx_);
        cur = out;
    }
    if (first == layers.size()) std::memcpy(y, x, batch_ * model_->output_size() * sizeof(float));
    ctx_.walk_backward = !ctx_.walk_backward;
}

void Stream::step(const float* x, float* y) noexcept {
    if (model_->takes_ids()) {  // a float step into an id model: NaN, loudly, never a plausible answer
        for (std::size_t i = 0; i < batch_ * model_->output_size(); ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    run_from(0, x, y);
}

void Stream::check_ids(const std::int64_t* ids) const {
    if (!model_->takes_ids()) throw InvalidArgument("this model takes float features, not ids");
    static_cast<const EmbeddingLayer&>(*model_->layers()[0]).check_ids(ids, batch_);
}

void Stream::step_ids(const std::int64_t* ids, float* y) noexcept {
    const auto& emb = static_cast<const EmbeddingLayer&>(*model_->layers()[0]);
    const std::size_t dim = emb.output_size();
    for (std::size_t b = 0; b < batch_; ++b) {  // an invalid id gives a zero vector, never a wild read
        float* row = ping_.data() + b * dim;
        if (ids[b] >= 0 && static_cast<std::size_t>(ids[b]) < emb.num_embeddings())
            std::memcpy(row, emb.table().data() + static_cast<std::size_t>(ids[b]) * dim, dim * sizeof(float));
        else
            std::memset(row, 0, dim * sizeof(float));
    }
    run_from(1, ping_.data(), y);
}

}  // namespace gru_infer
