// A live stream through a model, state carried between calls. Three ways to advance it:
//   step(x, y)                  one time step of every batch row
//   run(steps, x, y)            a block of steps of every batch row (the input projection of the
//                               whole block is one GEMM, the rest runs as predict does)
//   step_slots(n, slots, x, y)  one time step of some rows ("slots") only, e.g. the streams of a
//                               server that have new input; the weights are read once for all
// Everything is allocated when the stream is created; none of these allocates, locks or throws.
// Contract: step(x_t) returns what predict(x[0..t]) returns at its last step; run of T steps
// returns what T calls of step return; a slot behaves as a stream of its own.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "gru_infer/aligned_buffer.h"
#include "gru_infer/model.h"

namespace gru_infer {

struct StreamGruStep;  // stream.cpp

class Stream {
public:
    // Largest block that run() computes at once when the caller does not say: 64 steps, fewer for
    // big batches so that batch * max_block stays within 4096 rows (at least 1).
    static std::size_t default_max_block(std::size_t batch);

    // Throws InvalidArgument if some layer cannot stream (a bidirectional GRU needs the future),
    // if batch is 0 or above max_batch(model), or max_block above max_block_limit(model, batch).
    // max_block: the largest block run() computes in one piece (0 = default_max_block(batch));
    // its buffers are allocated here, and a longer block is run in pieces of max_block steps.
    // fast_activations: rational sigmoid/tanh in the GRU layers (PredictRequest::fast_activations)
    // for every step of this stream.
    Stream(std::shared_ptr<const Model> model, std::size_t batch, std::size_t max_block = 0,
           bool fast_activations = false);
    ~Stream();
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;
    // The largest batch a stream of `model` takes: its buffers stay under kMaxBufferBytes (runtime/checked_size.h).
    static std::size_t max_batch(const Model& model);
    // The largest max_block for a batch: run()'s block buffers stay under kMaxBlockBytes (a longer
    // block runs in pieces, so a bigger one buys nothing). A larger max_block throws InvalidArgument.
    static constexpr std::size_t kMaxBlockBytes = std::size_t(1) << 30;
    static std::size_t max_block_limit(const Model& model, std::size_t batch);

    std::size_t batch() const { return batch_; }
    std::size_t max_block() const { return max_block_; }
    const Model& model() const { return *model_; }

    // x: (batch, input_size), y: (batch, output_size). On a model that takes ids (use step_ids)
    // it writes NaN: step never throws, and never gives a plausible wrong answer.
    void step(const float* x, float* y) noexcept;
    // For models that start with an Embedding: ids (batch,). Ids must be valid: check them with
    // check_ids() first (step itself never throws).
    void step_ids(const std::int64_t* ids, float* y) noexcept;
    void check_ids(const std::int64_t* ids) const;
    void check_ids(const std::int64_t* ids, std::size_t n) const;  // n ids

    // A block: x (batch, steps, input_size) -> y (batch, steps, output_size), each step's output
    // (also for a model whose predict keeps only the last step). NaN on an id model, as step.
    void run(std::size_t steps, const float* x, float* y) noexcept;
    // The same for id models: ids (batch, steps), checked with check_ids(ids, batch * steps).
    void run_ids(std::size_t steps, const std::int64_t* ids, float* y) noexcept;

    // One step of the rows slots[0..n): x (n, input_size) -> y (n, output_size); the other rows
    // keep their state. Slots must be distinct and < batch (check_slots); if not, y is NaN and
    // no state changes.
    void step_slots(std::size_t n, const std::size_t* slots, const float* x, float* y) noexcept;
    void step_ids_slots(std::size_t n, const std::size_t* slots, const std::int64_t* ids, float* y) noexcept;
    void reset_slots(std::size_t n, const std::size_t* slots) noexcept;  // as reset(); ignores invalid slots
    void check_slots(std::size_t n, const std::size_t* slots) const;    // throws InvalidArgument
    bool slots_valid(std::size_t n, const std::size_t* slots) noexcept;  // the same check, no throw; keeps a copy
    // One row's state (model.state_size() floats, the state layout of a batch of one).
    void get_slot_state(std::size_t slot, float* out) const noexcept;
    void set_slot_state(std::size_t slot, const float* in) noexcept;

    void reset() noexcept;  // state to each layer's initial_state() (zeros unless it has one), as at creation
    float* state() { return state_.data(); }  // batch * model.state_size() floats, state layout
    const float* state() const { return state_.data(); }
    std::size_t state_floats() const { return state_.size(); }

private:
    // Layers first.. of `rows` rows for one step; layer i's state at state + state_row_offset_[i] * rows.
    void run_from(std::size_t first_layer, const float* x, float* y, std::size_t rows, float* state) noexcept;
    // Layers first.. over a block of steps <= max_block_: x (batch, steps, F) and y contiguous.
    void run_block(std::size_t first_layer, std::size_t steps, const float* x, float* y) noexcept;
    void lookup_ids(const std::int64_t* ids, std::size_t n, float* out) const noexcept;  // bad id -> zeros
    void move_slot_states(std::size_t n, bool gather) noexcept;  // the rows slot_ids_[0..n)
    void reset_row(std::size_t row) noexcept;  // one row's state to the layers' initial states

    std::shared_ptr<const Model> model_;
    std::size_t batch_, max_block_ = 1;
    AlignedBuffer state_, scratch_, ping_, pong_;
    // Per layer, the layer that runs the stream's rows (GruLayer::for_rows: fp16 / bf16 GRUs of 4+
    // rows run the fp32 layer of their widened weights), the model's own otherwise.
    std::vector<const Layer*> run_layers_;
    std::vector<std::size_t> state_offset_;      // per layer, into state_
    std::vector<std::size_t> state_row_offset_;  // per layer, state floats of one row before it
    StepContext ctx_;  // walk_backward flips every step (Layer::step)
    bool takes_ids_ = false;
    bool single_gru_ = false;  // the model is one GRU layer with prepared arguments (step's fast path)
    bool bf16_ = false;        // a layer has bf16 weights: its kernels are faster with MXCSR flushing
    unsigned mxcsr_trusted_ = 0;  // steps left that skip reading MXCSR (runtime/denormals.h)
    // Per layer: an fp32 GRU layer's step with its kernel arguments prepared (GruLayer::prepare_step;
    // the other layers go through Layer::step): a small model's step is a few hundred cycles, and
    // filling the arguments on every call was a noticeable part of them.
    std::unique_ptr<StreamGruStep[]> gru_steps_;
    // run(): per-layer outputs of a block, the GRU input projection, and (batch > 1) the pieces
    // of a block longer than max_block_.
    AlignedBuffer block_ping_, block_pong_, block_xp_, block_in_, block_out_;
    std::vector<std::int64_t> block_ids_;
    // step_slots(): the active slots' states gathered into contiguous rows, a mark per slot, and
    // the checked copy of the caller's slots (slots_valid).
    AlignedBuffer slot_state_;
    std::vector<unsigned char> slot_mark_;
    std::vector<std::size_t> slot_ids_;
};

}  // namespace gru_infer
