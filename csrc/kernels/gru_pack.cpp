// The packed weight layout of the GRU kernels (packed_gru.h): pack_gru and its exact inverse.
#include "gru_infer/packed_gru.h"

#include "gru_infer/gru_layer.h"

namespace gru_infer {

namespace {

// Calls fn(plain W/R/bW/bR element, packed element) for every weight, in both directions of use.
template <typename W, typename P, typename F>
void for_each_weight(W& wt, P& p, std::size_t I, std::size_t H, F fn) {
    for (std::size_t t = 0; t < p.tiles; ++t)
        for (std::size_t g = 0; g < 3; ++g)
            for (std::size_t l = 0; l < kTile; ++l) {
                const std::size_t u = t * kTile + l;
                if (u >= H) continue;  // padding stays zero
                const std::size_t row = g * H + u, col = g * kTile + l;
                auto* tile = p.w.data() + t * p.tile_stride;
                for (std::size_t k = 0; k < I; ++k) fn(wt.W[row * I + k], tile[k * kTileRow + col]);
                for (std::size_t k = 0; k < H; ++k) fn(wt.R[row * H + k], tile[(I + k) * kTileRow + col]);
                fn(wt.bW[row], p.bx[t * kTileRow + col]);
                fn(wt.bR[row], p.bh[t * kTileRow + col]);
            }
}

}  // namespace

PackedGru pack_gru(const GruWeights& wt, std::size_t I, std::size_t H) {
    PackedGru p;
    p.input = I;
    p.hidden = H;
    p.tiles = tiles_for(H);
    p.tile_stride = (I + H) * kTileRow;
    p.w = AlignedBuffer::weights(p.tiles * p.tile_stride);
    p.bx.resize(p.tiles * kTileRow);
    p.bh.resize(p.tiles * kTileRow);
    for_each_weight(wt, p, I, H, [](const float& plain, float& packed) { packed = plain; });
    return p;
}

GruWeights unpack_gru(const PackedGru& p) {
    const std::size_t I = p.input, H = p.hidden;
    GruWeights w{AlignedBuffer(3 * H * I), AlignedBuffer(3 * H * H), AlignedBuffer(3 * H), AlignedBuffer(3 * H)};
    for_each_weight(w, p, I, H, [](float& plain, const float& packed) { plain = packed; });
    return w;
}

AlignedBuffer pack_gate_major_recurrent(const PackedGru& p) {
    const std::size_t H = p.hidden;
    if (!uses_gate_major(H)) return AlignedBuffer();
    const std::size_t V = gate_major_lanes(H);
    AlignedBuffer g = AlignedBuffer::weights(3 * V * H);
    for (std::size_t gate = 0; gate < 3; ++gate) {  // blocks r, n, z; packed columns z, r, n
        const std::size_t col = (gate + 1) % 3 * kTile;
        for (std::size_t k = 0; k < H; ++k)
            for (std::size_t u = 0; u < H; ++u)
                g[(gate * H + k) * V + u] = p.w[(u / kTile) * p.tile_stride + (p.input + k) * kTileRow + col + u % kTile];
    }
    return g;
}

}  // namespace gru_infer
