// A model is a list of layers, run in order. Load once, then predict on whole sequences
// (re-entrant: any number of threads may call predict at once) or create streams (stream.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gru_infer/layer.h"
#include "gru_infer/weight_format.h"

namespace gru_infer {

struct PredictRequest {
    std::size_t batch = 0;                  // B
    std::size_t steps = 0;                  // T
    const float* x = nullptr;               // (B, T, input_size), for float models
    const std::int64_t* ids = nullptr;      // (B, T), for models that start with an Embedding
    const std::int64_t* lengths = nullptr;  // (B,) in [1, T], or null = every sequence is T long
    const float* h0 = nullptr;              // (B * state_size()) in state layout, or null = each layer's
                                            // initial_state() (zeros unless the layer has one)
    float* y = nullptr;                     // output_floats(B, T) floats
    float* hn = nullptr;                    // (B * state_size()) in state layout, or null
    // Rational sigmoid/tanh in the GRU layers (max abs error 1e-4, about 2x faster activations)
    // instead of exact ones, for this call only: the model itself never changes once built.
    bool fast_activations = false;
};

// Options of Model::quantize.
struct QuantizeOptions {
    // Layers (by index) left in fp32, e.g. the first and the last (as Xiph's models do).
    std::vector<std::size_t> keep_fp32;
    // int8: a calibrated input scale per layer index (layer_input_absmax / 127); 0 or past the end
    // of the list = dynamic (each input row's own absmax / 127, every step).
    std::vector<float> input_scales;
};

class Model {
public:
    // Appends a layer; throws InvalidArgument if its input does not match the previous output, if
    // it is wider than kMaxLayerWidth (runtime/checked_size.h), or if the first layer has no weights.
    void add(std::unique_ptr<Layer> layer);

    const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
    bool takes_ids() const;            // first layer is an Embedding
    std::size_t input_size() const;    // features per step (1 for id models)
    std::size_t output_size() const;   // features of the output
    bool output_has_time() const;      // (B, T, F) if true, else (B, F)
    std::size_t output_floats(std::size_t B, std::size_t T) const;

    // Recurrent state per batch row, all layers. The state layout of a batch of B: for each
    // recurrent layer in order, a block (num_directions, B, hidden), like PyTorch's h_n.
    std::size_t state_size() const;

    // Throws InvalidArgument on bad requests. Uses up to get_num_threads() threads (threading.h).
    void predict(const PredictRequest& req) const;
    // The largest batch * steps predict accepts (its buffers stay under kMaxBufferBytes,
    // runtime/checked_size.h), and the check predict makes: InvalidArgument naming the bound if B x T is larger.
    std::size_t max_batch_steps() const;
    void check_sizes(std::size_t batch, std::size_t steps) const;

    // A new model with the weights of its GRU and Dense layers in `format` (fp16, bf16, int8;
    // fp32 gives an fp32 copy), the other layers copied; this model is unchanged. GRUs whose
    // activations are not sigmoid/tanh stay fp32. Throws InvalidArgument on bad options.
    std::shared_ptr<Model> quantize(WeightFormat format, const QuantizeOptions& options = {}) const;
    // For calibration: max |value| of each layer's input (one entry per layer; 0 for an
    // Embedding) over the whole sequences x (B, T, input_size), or ids for id models.
    std::vector<float> layer_input_absmax(const float* x, const std::int64_t* ids, std::size_t B, std::size_t T) const;

    std::string source;  // where the model came from ("pytorch", "keras", ...): informational

private:
    void predict_checked(const PredictRequest& req) const;  // predict after its checks; lengths owned
    void run_rows(const PredictRequest& req) const;  // one thread, no checks
    // Copy batch rows [b0, b0 + nb) of a full state (B rows) to or from a state of nb rows.
    void copy_state_rows(const float* full, std::size_t B, std::size_t b0, float* part, std::size_t nb,
                         bool gather) const;

    std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace gru_infer
