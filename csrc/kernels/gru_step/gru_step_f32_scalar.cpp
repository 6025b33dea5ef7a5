// Scalar reference of the fused GRU update over packed weights (see GruStepArgs in kernels.h), both
// forms: reset gate after the recurrent product ("lbr") and before it ("cho").
// Per tile of kTile units: accumulate the z, r, n rows over the input (if fused) and the state,
// then gates, candidate and the new state.
#include <cmath>

#include "kernels/clamp.h"
#include "kernels/kernels.h"
#include "kernels/simd/fast_math.h"

namespace gru_infer {
namespace {

inline float sigmoid_exact(float x) { return 1.0f / (1.0f + std::exp(-x)); }

struct Act {
    bool fast;
    float clip;
    float pre(float v) const { return clip > 0.0f ? clamp_keep_nan(v, -clip, clip) : v; }
    float f(float v) const { return fast ? fast_math::sigmoid(pre(v)) : sigmoid_exact(pre(v)); }
    float g(float v) const { return fast ? fast_math::tanh(pre(v)) : std::tanh(pre(v)); }
};

// acc[c] += sum_k v[k] * rows[k][c] for the columns [c0, c1) of a tile's packed rows.
inline void accumulate(float* acc, const float* rows, const float* v, std::size_t K, std::size_t c0,
                       std::size_t c1) {
    for (std::size_t k = 0; k < K; ++k)
        for (std::size_t c = c0; c < c1; ++c) acc[c] += v[k] * rows[k * kTileRow + c];
}

// Input-side pre-activations of one tile: zr (z, r sums so far) and nx (candidate input part).
inline void input_part(const GruStepArgs& a, std::size_t m, std::size_t t, float* acc, float* nx) {
    if (a.x) {
        for (std::size_t c = 0; c < kTileRow; ++c) acc[c] = a.bx[t * kTileRow + c];
        accumulate(acc, a.w + t * a.tile_stride, a.x + m * a.ldx, a.input, 0, kTileRow);
    } else {
        for (std::size_t c = 0; c < kTileRow; ++c) acc[c] = a.xp[m * a.ldxp + t * kTileRow + c];
    }
    for (std::size_t l = 0; l < kTile; ++l) nx[l] = acc[2 * kTile + l];
}

}  // namespace

void gru_step_reset_after_f32_scalar(const GruStepArgs& a) {
    const Act act{a.fast, a.clip};
    const std::size_t tiles = tiles_for(a.hidden);
    for (std::size_t m = 0; m < a.rows; ++m) {
        const float* h = a.h + m * a.ldh;
        for (std::size_t t = 0; t < tiles; ++t) {
            float acc[kTileRow], nx[kTile];
            input_part(a, m, t, acc, nx);
            for (std::size_t c = 0; c < 2 * kTile; ++c) acc[c] += a.bh[t * kTileRow + c];
            for (std::size_t l = 0; l < kTile; ++l) acc[2 * kTile + l] = a.bh[t * kTileRow + 2 * kTile + l];
            accumulate(acc, a.w + t * a.tile_stride + a.input * kTileRow, h, a.hidden, 0, kTileRow);
            for (std::size_t l = 0; l < kTile && t * kTile + l < a.hidden; ++l) {
                const std::size_t u = t * kTile + l;
                const float z = act.f(acc[l]), r = act.f(acc[kTile + l]);
                const float n = act.g(nx[l] + r * acc[2 * kTile + l]);
                a.h_out[m * a.ldo + u] = n + z * (h[u] - n);
            }
        }
    }
}

void gru_step_reset_before_f32_scalar(const GruStepArgs& a) {
    const Act act{a.fast, a.clip};
    const std::size_t tiles = tiles_for(a.hidden), Hp = tiles * kTile;
    // scratch per row: z (Hp), r * h (Hp), candidate input part (Hp)
    for (std::size_t m = 0; m < a.rows; ++m) {
        const float* h = a.h + m * a.ldh;
        float* z = a.scratch + m * 3 * Hp;
        float* rh = z + Hp;
        float* nx = rh + Hp;
        for (std::size_t t = 0; t < tiles; ++t) {  // pass 1: z and r from the old state
            float acc[kTileRow];
            input_part(a, m, t, acc, nx + t * kTile);
            for (std::size_t c = 0; c < 2 * kTile; ++c) acc[c] += a.bh[t * kTileRow + c];
            accumulate(acc, a.w + t * a.tile_stride + a.input * kTileRow, h, a.hidden, 0, 2 * kTile);
            for (std::size_t l = 0; l < kTile; ++l) {
                const std::size_t u = t * kTile + l;
                z[u] = act.f(acc[l]);
                rh[u] = u < a.hidden ? act.f(acc[kTile + l]) * h[u] : 0.0f;
            }
        }
        for (std::size_t t = 0; t < tiles; ++t) {  // pass 2: candidate from r * h
            float acc[kTileRow] = {};
            accumulate(acc, a.w + t * a.tile_stride + a.input * kTileRow, rh, a.hidden, 2 * kTile, kTileRow);
            for (std::size_t l = 0; l < kTile && t * kTile + l < a.hidden; ++l) {
                const std::size_t u = t * kTile + l;
                const float n = act.g(nx[u] + acc[2 * kTile + l] + a.bh[t * kTileRow + 2 * kTile + l]);
                a.h_out[m * a.ldo + u] = n + z[u] * (h[u] - n);
            }
        }
    }
}

}  // namespace gru_infer
