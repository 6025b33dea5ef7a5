#include "gru_infer/model.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "gru_infer/aligned_buffer.h"
#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "gru_infer/input_skip_layer.h"
#include "gru_infer/threading.h"
#include "kernels/kernels.h"
#include "runtime/checked_size.h"
#include "runtime/denormals.h"
#include "runtime/parallel.h"

namespace gru_infer {

void Model::add(std::unique_ptr<Layer> layer) {
    if (!layer) throw InvalidArgument("cannot add a null layer");
    const std::string where = std::string(layer_kind_name(layer->kind())) + " layer " +
                              std::to_string(layers_.size());
    if (layer->kind() == LayerKind::Embedding && !layers_.empty())
        throw InvalidArgument(where + ": an Embedding can only be the first layer");
    // A weightless layer takes its width from the layer before it, so every width in a model is
    // backed by weights that exist: a small file cannot declare a huge layer.
    if (layers_.empty() && layer->parameter_count() == 0)
        throw InvalidArgument(where + ": the first layer must have weights (GRU, Dense, Embedding or Affine)");
    for (const std::size_t width : {layer->input_size(), layer->output_size(), layer->state_size()})
        if (width > kMaxLayerWidth)
            throw InvalidArgument(where + ": " + std::to_string(width) + " features is wider than the " +
                                  std::to_string(kMaxLayerWidth) + " a layer may have");
    if (!layers_.empty()) {
        if (layer->input_size() != output_size())
            throw InvalidArgument(where + ": takes " + std::to_string(layer->input_size()) +
                                  " features but the previous layer gives " + std::to_string(output_size()));
        if (!output_has_time() && (layer->kind() == LayerKind::Gru || layer->kind() == LayerKind::LastStep ||
                                   layer->kind() == LayerKind::InputSkip))
            throw InvalidArgument(where + ": needs a time axis, but an earlier layer already removed it");
    }
    if (layer->kind() == LayerKind::InputSkip) {
        const auto& skip = static_cast<const InputSkipLayer&>(*layer);
        if (takes_ids()) throw InvalidArgument(where + ": adds the model's input, but this model takes ids");
        const std::size_t model_in = layers_.empty() ? skip.input_size() : input_size();
        if (skip.model_input_size() != model_in)
            throw InvalidArgument(where + ": made for a model input of " + std::to_string(skip.model_input_size()) +
                                  " features, but the model takes " + std::to_string(model_in));
    }
    layers_.push_back(std::move(layer));
}

bool Model::takes_ids() const { return !layers_.empty() && layers_[0]->kind() == LayerKind::Embedding; }
std::size_t Model::input_size() const { return layers_.empty() ? 0 : layers_.front()->input_size(); }
std::size_t Model::output_size() const { return layers_.empty() ? 0 : layers_.back()->output_size(); }

bool Model::output_has_time() const {
    for (const auto& l : layers_)
        if (!l->keeps_time()) return false;
    return true;
}

std::size_t Model::output_floats(std::size_t B, std::size_t T) const {
    return B * (output_has_time() ? T : 1) * output_size();
}

std::size_t Model::state_size() const {
    std::size_t n = 0;
    for (const auto& l : layers_) n += l->state_size();
    return n;
}

void Model::predict(const PredictRequest& req) const {
    const std::size_t B = req.batch, T = req.steps;
    if (layers_.empty()) throw InvalidArgument("the model has no layers");
    if (B == 0 || T == 0)
        throw InvalidArgument("predict needs at least one sequence of at least one step, got batch=" +
                              std::to_string(B) + ", steps=" + std::to_string(T));
    if (takes_ids() ? !req.ids : !req.x)
        throw InvalidArgument(takes_ids() ? "this model starts with an Embedding and takes integer ids"
                                          : "this model takes float features, not ids");
    if (!req.y) throw InvalidArgument("predict needs an output buffer");
    check_sizes(B, T);
    if (req.lengths) {
        // The time loop trusts the lengths: check and use a copy, never the caller's array, which
        // another thread may change while this runs.
        std::vector<std::int64_t> lengths(req.lengths, req.lengths + B);
        for (std::size_t b = 0; b < B; ++b)
            if (lengths[b] < 1 || static_cast<std::size_t>(lengths[b]) > T)
                throw InvalidArgument("lengths[" + std::to_string(b) + "] = " + std::to_string(lengths[b]) +
                                      " is outside [1, " + std::to_string(T) + "]");
        PredictRequest owned = req;
        owned.lengths = lengths.data();
        return predict_checked(owned);
    }
    predict_checked(req);
}

void Model::predict_checked(const PredictRequest& req) const {
    const std::size_t B = req.batch, T = req.steps;
    if (takes_ids())
        static_cast<const EmbeddingLayer&>(*layers_[0]).check_ids(req.ids, B * T);

    FlushDenormals flush;
    // Rows of a batch are independent through every layer: split the batch across threads when
    // there is enough work to pay for starting them (~tens of microseconds). A batch of
    // kStepGemmRows+ rows is split into parts of at least that many, which take the kernel path
    // the whole batch takes: the result is the same bits on any number of threads.
    std::size_t widest = input_size();
    for (const auto& l : layers_) widest = std::max(widest, l->output_size());
    const double work = static_cast<double>(B) * T * widest * widest * layers_.size();
    const std::size_t parts = B >= kStepGemmRows ? B / kStepGemmRows : B;
    const std::size_t chunks = work < 4e6 ? 1 : std::min(parts, get_num_threads());
    if (chunks <= 1) return run_rows(req);

    const std::size_t out_per_row = output_floats(1, T), in_per_row = T * input_size();
    parallel_for(chunks, chunks, [&](std::size_t c) {
        const std::size_t b0 = B * c / chunks, b1 = B * (c + 1) / chunks, nb = b1 - b0;
        PredictRequest sub = req;
        sub.batch = nb;
        if (req.x) sub.x = req.x + b0 * in_per_row;
        if (req.ids) sub.ids = req.ids + b0 * T;
        if (req.lengths) sub.lengths = req.lengths + b0;
        sub.y = req.y + b0 * out_per_row;
        AlignedBuffer h0, hn;  // this chunk's rows of the state, gathered from the (D, B, H) blocks
        if (req.h0) { h0.resize(nb * state_size()); copy_state_rows(req.h0, B, b0, h0.data(), nb, true); sub.h0 = h0.data(); }
        if (req.hn) { hn.resize(nb * state_size()); sub.hn = hn.data(); }
        run_rows(sub);
        if (req.hn) copy_state_rows(req.hn, B, b0, hn.data(), nb, false);
    });
}

std::size_t Model::max_batch_steps() const {
    // Every buffer predict allocates, per sequence row and step, is at most this many floats:
    // two work buffers and the output (each <= widest), and the input projections of up to two
    // GRU directions (3 gates of <= widest units, rounded up to whole tiles: <= 3 * widest + 32).
    std::size_t widest = input_size();
    for (const auto& l : layers_) widest = std::max(widest, l->output_size());
    return kMaxBufferFloats / (4 * (3 * widest + 32));
}

void Model::check_sizes(std::size_t B, std::size_t T) const {
    std::size_t rows_steps;
    if (!mul_fits(B, T, &rows_steps) || rows_steps > max_batch_steps())
        throw InvalidArgument("predict: batch x steps must be at most " + std::to_string(max_batch_steps()) +
                              " for this model (its buffers would pass " + std::to_string(kMaxBufferBytes) +
                              " bytes), got batch=" + std::to_string(B) + " x steps=" + std::to_string(T));
}

void Model::copy_state_rows(const float* full_in, std::size_t B, std::size_t b0, float* part, std::size_t nb,
                            bool gather) const {
    std::size_t full_off = 0, part_off = 0;
    for (const auto& l : layers_) {
        if (!l->state_size()) continue;
        const std::size_t D = l->kind() == LayerKind::Gru
                                  ? static_cast<const GruLayer&>(*l).config().num_directions() : 1;
        const std::size_t H = l->state_size() / D;
        for (std::size_t d = 0; d < D; ++d) {
            float* full = const_cast<float*>(full_in) + full_off + (d * B + b0) * H;
            float* mine = part + part_off + d * nb * H;
            if (gather) std::memcpy(mine, full, nb * H * sizeof(float));
            else std::memcpy(full, mine, nb * H * sizeof(float));
        }
        full_off += D * B * H;
        part_off += D * nb * H;
    }
}

void Model::run_rows(const PredictRequest& req) const {
    const std::size_t B = req.batch, T = req.steps;
    std::size_t widest = input_size();
    for (const auto& l : layers_) widest = std::max(widest, l->output_size());
    // Layers before the last alternate between two work buffers; the last writes into req.y.
    const std::size_t n = layers_.size();
    AlignedBuffer ping = AlignedBuffer::uninitialized(n > 1 ? B * T * widest : 0);
    AlignedBuffer pong = AlignedBuffer::uninitialized(n > 2 ? B * T * widest : 0);
    const float* cur = req.x;
    std::size_t cur_T = T, state_offset = 0;
    bool has_time = true;
    for (std::size_t i = 0; i < n; ++i) {
        const Layer& layer = *layers_[i];
        float* out = i + 1 == n ? req.y : (i % 2 == 0) ? ping.data() : pong.data();
        if (layer.kind() == LayerKind::Embedding) {
            static_cast<const EmbeddingLayer&>(layer).lookup(req.ids, B * T, out);
        } else {
            SequenceContext ctx;
            ctx.lengths = has_time ? req.lengths : nullptr;
            ctx.h0 = req.h0 ? req.h0 + state_offset : nullptr;
            ctx.hn = req.hn ? req.hn + state_offset : nullptr;
            ctx.model_input = req.x;
            ctx.fast_activations = req.fast_activations;
            layer.forward(cur, out, B, cur_T, ctx);
        }
        state_offset += B * layer.state_size();
        if (!layer.keeps_time()) { has_time = false; cur_T = 1; }
        cur = out;
    }
}

}  // namespace gru_infer
