// The small-layer reduced-precision step (quant_small_avx512.h, quant_small_avx2.h) serves
// batches of 1 to 3 rows of layers of at most this many tiles of 16 units (H <= 128); larger ones
// run QuantStep.
#pragma once
#include <cstddef>

namespace gru_infer {

constexpr std::size_t kQSmallTiles = 8;
constexpr std::size_t kQSmallRows = 3;

}  // namespace gru_infer
