// GRU weights packed for the fused kernels, the same on every ISA. The layout is part of the native
// file format (version 2 stores it as is: docs/native_format.md).
//
// Units are cut into tiles of kTile (8). Tile t holds, for each input k (first the `input` rows
// of W, then the `hidden` rows of R), one packed row of kTileRow (24) floats:
//     [ z weights of units 8t..8t+7 | r weights | n weights ]
// so one pass over a tile's rows, broadcasting x[k] or h[k], accumulates all three gates of 8
// units. Units past `hidden` in the last tile are zero. Biases are packed the same way (one
// packed row per tile): bx from the input biases bW, bh from the recurrent biases bR.
#pragma once
#include <cstddef>

#include "gru_infer/aligned_buffer.h"

namespace gru_infer {

constexpr std::size_t kTile = 8;             // units per tile
constexpr std::size_t kTileRow = 3 * kTile;  // floats per packed row: z, r and n of a tile's units

// Tiles that hold `hidden` units (the last one padded with zeros).
constexpr std::size_t tiles_for(std::size_t hidden) { return (hidden + kTile - 1) / kTile; }

struct GruWeights;

struct PackedGru {
    std::size_t input = 0, hidden = 0, tiles = 0, tile_stride = 0;  // tile_stride in floats
    AlignedBuffer w, bx, bh;
};

PackedGru pack_gru(const GruWeights& weights, std::size_t input, std::size_t hidden);
GruWeights unpack_gru(const PackedGru& packed);  // the exact inverse of pack_gru

}  // namespace gru_infer
