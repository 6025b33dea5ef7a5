// Private to the stream: how a block of steps runs through one GRU layer (stream_block.cpp).
#pragma once
#include <cstddef>

#include "gru_infer/layer.h"

namespace gru_infer {

class GruLayer;

// Floats per row and step of the block input projection that `layer` needs in a stream of `batch`
// rows (0 if none: not a GRU on the packed kernels, or few enough inputs to multiply inside the
// step kernel).
std::size_t block_projection_floats(const Layer& layer, std::size_t batch);
// Floats of scratch that a block of `steps` steps of `layer` needs beyond its step_scratch_size.
std::size_t block_scratch_floats(const Layer& layer, std::size_t batch, std::size_t steps);

// `steps` steps of a forward GRU layer on the packed kernels: x (rows, steps, input) -> y (rows,
// steps, hidden), state (rows, hidden) read and left at the last step. xp: rows * steps *
// block_projection_floats floats; scratch: step_scratch_size(rows) floats.
void gru_block(const GruLayer& layer, std::size_t rows, std::size_t steps, const float* x, float* y, float* state,
               float* xp, float* scratch, StepContext ctx) noexcept;

}  // namespace gru_infer
