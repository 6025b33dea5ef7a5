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

// A small layer's recurrent weights once more, gate-major, made in memory from the packed ones
// (never stored in a file): three blocks, r, n and z, each of `hidden` rows k of V floats (the
// gate's weights of every unit for h[k]; V = units rounded up to 16, lanes past `hidden` zero).
// The AVX-512 step of a layer of 9 to 32 units then finishes r's products first and runs r's gate
// while n's products run (r -> n -> h is the step's critical path).
constexpr std::size_t kGateMajorMinHidden = 9, kGateMajorMaxHidden = 32;
constexpr bool uses_gate_major(std::size_t hidden) {
    return hidden >= kGateMajorMinHidden && hidden <= kGateMajorMaxHidden;
}
constexpr std::size_t gate_major_lanes(std::size_t hidden) { return (hidden + 15) / 16 * 16; }
AlignedBuffer pack_gate_major_recurrent(const PackedGru& packed);  // empty unless uses_gate_major

}  // namespace gru_infer
