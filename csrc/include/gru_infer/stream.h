// A live stream through a model: one time step per call, state carried between calls.
// Everything is allocated when the stream is created; step() does not allocate, lock or throw.
// Contract: step(x_t) returns what predict(x[0..t]) returns at its last step.
#pragma once
#include <memory>
#include <vector>

#include "gru_infer/aligned_buffer.h"
#include "gru_infer/model.h"

namespace gru_infer {

class Stream {
public:
    // Throws InvalidArgument if some layer cannot stream (a bidirectional GRU needs the future)
    // or if batch is 0 or above max_batch(model).
    // fast_activations: rational sigmoid/tanh in the GRU layers (PredictRequest::fast_activations)
    // for every step of this stream.
    Stream(std::shared_ptr<const Model> model, std::size_t batch, bool fast_activations = false);
    // The largest batch a stream of `model` takes: its buffers stay under kMaxBufferBytes (runtime/checked_size.h).
    static std::size_t max_batch(const Model& model);

    std::size_t batch() const { return batch_; }
    const Model& model() const { return *model_; }

    // x: (batch, input_size), y: (batch, output_size). On a model that takes ids (use step_ids)
    // it writes NaN: step never throws, and never gives a plausible wrong answer.
    void step(const float* x, float* y) noexcept;
    // For models that start with an Embedding: ids (batch,). Ids must be valid: check them with
    // check_ids() first (step itself never throws).
    void step_ids(const std::int64_t* ids, float* y) noexcept;
    void check_ids(const std::int64_t* ids) const;

    void reset() noexcept;  // state to zeros
    float* state() { return state_.data(); }  // batch * model.state_size() floats, state layout
    const float* state() const { return state_.data(); }
    std::size_t state_floats() const { return state_.size(); }

private:
    void run_from(std::size_t first_layer, const float* x, float* y) noexcept;

    std::shared_ptr<const Model> model_;
    std::size_t batch_;
    AlignedBuffer state_, scratch_, ping_, pong_;
    std::vector<std::size_t> state_offset_;  // per layer, into state_
    StepContext ctx_;  // walk_backward flips every step (Layer::step)
};

}  // namespace gru_infer
