// The layer interface. A model is a list of layers (see model.h); each layer kind has its own
// header. Activations flow between layers batch-first: (B, T, F) while a time axis exists,
// (B, F) after a layer that removes it (LastStep, a GRU with return_sequences = false).
#pragma once
#include <cstddef>
#include <cstdint>

namespace gru_infer {

// Values are stored in the native file: never renumber, only append.
enum class LayerKind : std::uint32_t {
    Gru = 1,
    Dense = 2,
    Activation = 3,
    Embedding = 4,
    LastStep = 5,
    InputSkip = 6,  // y = x + a slice of the model's input (input_skip_layer.h)
    Affine = 7,     // y = x * scale + shift per feature (affine_layer.h)
};

const char* layer_kind_name(LayerKind kind);

// Per-call context of a whole-sequence forward pass.
struct SequenceContext {
    const std::int64_t* lengths = nullptr;  // (B,) valid steps per sequence, or null = all T
    const float* h0 = nullptr;              // this layer's initial state, or null = its default
    float* hn = nullptr;                    // where to write this layer's final state, or null
    const float* model_input = nullptr;     // the model's input (B, T, model input size), for InputSkip
    bool fast_activations = false;          // GRU: rational sigmoid/tanh (max abs error 1e-4)
};

// Per-step context of a stream step (Layer::step).
struct StepContext {
    // Flips from one step to the next: a layer may walk its weights the other way round on
    // alternate steps (so each step starts on what the last left in cache); it must not change
    // the result.
    bool walk_backward = false;
    bool fast_activations = false;  // as in SequenceContext, fixed for the life of a stream
};

class Layer {
public:
    virtual ~Layer() = default;
    virtual LayerKind kind() const = 0;

    // Features this layer takes (for Embedding: 1 id per step) and gives.
    virtual std::size_t input_size() const = 0;
    virtual std::size_t output_size() const = 0;
    // False if the output has no time axis: (B, T, F) -> (B, F).
    virtual bool keeps_time() const { return true; }

    // Trained values (weights and biases) this layer holds.
    virtual std::size_t parameter_count() const { return 0; }

    // Recurrent state, in floats per batch row (GRU: num_directions * hidden).
    virtual std::size_t state_size() const { return 0; }
    // The state a row starts from when the caller gives none (state_size() floats, the same for
    // every batch row; a GRU's directions one after the other), or null = zeros.
    virtual const float* initial_state() const { return nullptr; }

    // Whole sequences: x is (B, T, input_size) batch-first; y is (B, T, output_size), or
    // (B, output_size) if !keeps_time(). With T == 1 and no time axis on input (has_time false)
    // the layer acts per row. y arrives unwritten: forward writes every element of it.
    virtual void forward(const float* x, float* y, std::size_t B, std::size_t T,
                         const SequenceContext& ctx) const = 0;

    // One time step of a stream: x is (B, input_size), y is (B, output_size); `state` holds
    // state_size() * B floats; `scratch` holds step_scratch_size(B) floats. Must not allocate.
    virtual std::size_t step_scratch_size(std::size_t B) const { (void)B; return 0; }
    virtual void step(const float* x, float* y, std::size_t B, float* state, float* scratch,
                      const StepContext& ctx) const = 0;
    // Why this layer cannot stream, or null if it can.
    virtual const char* stream_unsupported_reason() const { return nullptr; }
};

}  // namespace gru_infer
