#include "gru_infer/packed_gru.h"

#include "gru_infer/gru_layer.h"

namespace gru_infer {

PackedGru pack_gru(const GruWeights& wt, std::size_t I, std::size_t H) {
    PackedGru p;
    p.input = I;
    p.hidden = H;
    p.tiles = (H + kTile - 1) / kTile;
    p.tile_stride = (I + H) * kTileRow;
    p.w.resize(p.tiles * p.tile_stride);
    p.bx.resize(p.tiles * kTileRow);
    p.bh.resize(p.tiles * kTileRow);
    for (std::size_t t = 0; t < p.tiles; ++t)
        for (std::size_t g = 0; g < 3; ++g)
            for (std::size_t l = 0; l < kTile; ++l) {
                const std::size_t u = t * kTile + l;
                if (u >= H) continue;  // padding stays zero
                const std::size_t row = g * H + u, col = g * kTile + l;
                float* tile = p.w.data() + t * p.tile_stride;
                for (std::size_t k = 0; k < I; ++k) tile[k * kTileRow + col] = wt.W[row * I + k];
                for (std::size_t k = 0; k < H; ++k) tile[(I + k) * kTileRow + col] = wt.R[row * H + k];
                p.bx[t * kTileRow + col] = wt.bW[row];
                p.bh[t * kTileRow + col] = wt.bR[row];
            }
    return p;
}

}  // namespace gru_infer
