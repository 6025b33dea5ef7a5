// NEON fused GRU update over packed weights, both forms ("lbr": reset gate after the recurrent
// product; "cho": before it), each 8-unit tile in two registers. Laid out like the AVX2 kernel
// (gru_step_f32_avx2.cpp) but simpler: no tile pairing in lbr_row, no odd/even accumulators, no
// batched-GEMM path for 4+ rows (blocks of 4 rows per tile instead, both forms), and it ignores
// walk_backward (the walk order is a cache hint).
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON
#include "kernels/simd/neon_target_begin.h"
#include "kernels/simd/neon_compat.h"

#include "kernels/kernels.h"
#include "kernels/simd/neon_math.h"

namespace gru_infer {
namespace {

using neon::V8;

struct Epilogue {
    bool fast;
    float clip;
    explicit Epilogue(const GruStepArgs& a) : fast(a.fast), clip(a.clip) {}
    V8 pre(V8 v) const { return clip > 0.0f ? neon::clamp(v, -clip, clip) : v; }
    V8 f(V8 v) const { return fast ? neon::fast_sigmoid(pre(v)) : neon::sigmoid(pre(v)); }
    V8 g(V8 v) const { return fast ? neon::fast_tanh(pre(v)) : neon::tanh(pre(v)); }
};

template <int MR, int NT, int G, int g0 = 0>
inline void accumulate(V8 (&acc_io)[MR][NT][3], const float* rows, std::size_t tile_stride, const float* v,
                       std::size_t ldv, std::size_t K) {
    V8 acc[MR][NT][G];  // a local copy stays in registers (see the AVX2 kernel)
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NT; ++j)
            for (int g = 0; g < G; ++g) acc[i][j][g] = acc_io[i][j][g0 + g];
    for (std::size_t k = 0; k < K; ++k) {
        V8 w[NT][G];
        for (int j = 0; j < NT; ++j)
            for (int g = 0; g < G; ++g) w[j][g] = neon::load(rows + j * tile_stride + k * kTileRow + 8 * (g0 + g));
        for (int i = 0; i < MR; ++i) {
            const float b = v[i * ldv + k];
            for (int j = 0; j < NT; ++j)
                for (int g = 0; g < G; ++g) acc[i][j][g] = neon::fma_n(acc[i][j][g], w[j][g], b);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NT; ++j)
            for (int g = 0; g < G; ++g) acc_io[i][j][g0 + g] = acc[i][j][g];
}

template <int MR, int NT>
inline void lbr_block(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t0) {
    V8 acc[MR][NT][3], nx[MR][NT];
    const float* w = a.w + t0 * a.tile_stride;
    for (int j = 0; j < NT; ++j) {
        const float* bh = a.bh + (t0 + j) * kTileRow;
        const float* bx = a.bx + (t0 + j) * kTileRow;
        for (int i = 0; i < MR; ++i) {
            const float* src = a.x ? bx : a.xp + (m0 + i) * a.ldxp + (t0 + j) * kTileRow;
            acc[i][j][0] = neon::add(neon::load(src), neon::load(bh));
            acc[i][j][1] = neon::add(neon::load(src + 8), neon::load(bh + 8));
            acc[i][j][2] = neon::load(src + 16);
        }
    }
    if (a.x) accumulate<MR, NT, 3>(acc, w, a.tile_stride, a.x + m0 * a.ldx, a.ldx, a.input);
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NT; ++j) {
            nx[i][j] = acc[i][j][2];
            acc[i][j][2] = neon::load(a.bh + (t0 + j) * kTileRow + 16);
        }
    accumulate<MR, NT, 3>(acc, w + a.input * kTileRow, a.tile_stride, a.h + m0 * a.ldh, a.ldh, a.hidden);
    for (int j = 0; j < NT; ++j) {
        const std::size_t u0 = (t0 + j) * kTile, lanes = a.hidden - u0;
        for (int i = 0; i < MR; ++i) {
            const V8 z = ep.f(acc[i][j][0]), r = ep.f(acc[i][j][1]);
            const V8 n = ep.g(neon::fma(nx[i][j], r, acc[i][j][2]));
            const V8 h = neon::load_lanes(a.h + (m0 + i) * a.ldh + u0, lanes);
            neon::store_lanes(a.h_out + (m0 + i) * a.ldo + u0, neon::fma(n, z, neon::sub(h, n)), lanes);
        }
    }
}

template <int NT>
inline void lbr_tiles(const GruStepArgs& a, const Epilogue& ep, std::size_t t) {
    std::size_t m = 0;
    if (NT == 1)
        for (; m + 4 <= a.rows; m += 4) lbr_block<4, 1>(a, ep, m, t);
    for (; m < a.rows; ++m) lbr_block<1, NT>(a, ep, m, t);
}

// Cho pass 1, rows m0..m0+MR-1 of tile t: z, r * h and the candidate's input part into the scratch.
template <int MR>
inline void cho_gates(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    V8 acc[MR][1][3];
    const float* bh = a.bh + t * kTileRow;
    for (int i = 0; i < MR; ++i) {
        const float* src = a.x ? a.bx + t * kTileRow : a.xp + (m0 + i) * a.ldxp + t * kTileRow;
        for (int g = 0; g < 3; ++g) acc[i][0][g] = neon::load(src + 8 * g);
    }
    if (a.x) accumulate<MR, 1, 3>(acc, a.w + t * a.tile_stride, a.tile_stride, a.x + m0 * a.ldx, a.ldx, a.input);
    const std::size_t u0 = t * kTile;
    for (int i = 0; i < MR; ++i) {
        neon::store(ChoScratch(a, m0 + i).nx + u0, acc[i][0][2]);
        acc[i][0][0] = neon::add(acc[i][0][0], neon::load(bh));
        acc[i][0][1] = neon::add(acc[i][0][1], neon::load(bh + 8));
    }
    accumulate<MR, 1, 2>(acc, a.w + t * a.tile_stride + a.input * kTileRow, a.tile_stride, a.h + m0 * a.ldh, a.ldh,
                         a.hidden);
    for (int i = 0; i < MR; ++i) {
        const ChoScratch s(a, m0 + i);
        const V8 h = neon::load_lanes(a.h + (m0 + i) * a.ldh + u0, a.hidden - u0);
        neon::store(s.z + u0, ep.f(acc[i][0][0]));
        neon::store(s.rh + u0, neon::mul(ep.f(acc[i][0][1]), h));  // lanes past hidden: h = 0
    }
}

// Cho pass 2, rows m0..m0+MR-1 of tile t: the candidate from r * h, then the update.
template <int MR>
inline void cho_candidate(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    V8 acc[MR][1][3];
    for (int i = 0; i < MR; ++i) acc[i][0][2] = neon::load(a.bh + t * kTileRow + 16);
    accumulate<MR, 1, 1, 2>(acc, a.w + t * a.tile_stride + a.input * kTileRow, a.tile_stride, ChoScratch(a, m0).rh,
                            ChoScratch::row_floats(a), a.hidden);
    const std::size_t u0 = t * kTile, lanes = a.hidden - u0;
    for (int i = 0; i < MR; ++i) {
        const ChoScratch s(a, m0 + i);
        const V8 n = ep.g(neon::add(acc[i][0][2], neon::load(s.nx + u0)));
        const V8 h = neon::load_lanes(a.h + (m0 + i) * a.ldh + u0, lanes);
        neon::store_lanes(a.h_out + (m0 + i) * a.ldo + u0, neon::fma(n, neon::load(s.z + u0), neon::sub(h, n)), lanes);
    }
}

}  // namespace

void gru_step_reset_after_f32_neon(const GruStepArgs& a) {
    const Epilogue ep(a);
    const std::size_t tiles = tiles_for(a.hidden);
    std::size_t t = 0;
    if (a.rows < 4)
        for (; t + 2 <= tiles; t += 2) lbr_tiles<2>(a, ep, t);
    for (; t < tiles; ++t) lbr_tiles<1>(a, ep, t);
}

void gru_step_reset_before_f32_neon(const GruStepArgs& a) {
    const Epilogue ep(a);
    const std::size_t tiles = tiles_for(a.hidden);
    // Pass 1 for every tile, then pass 2: blocks of 4 rows read a tile's weights once (the same
    // operations for each row in any block, so the same results as one row at a time).
    const std::size_t m4 = a.rows / 4 * 4;
    for (std::size_t t = 0; t < tiles; ++t) {
        for (std::size_t m = 0; m < m4; m += 4) cho_gates<4>(a, ep, m, t);
        for (std::size_t m = m4; m < a.rows; ++m) cho_gates<1>(a, ep, m, t);
    }
    for (std::size_t t = 0; t < tiles; ++t) {
        for (std::size_t m = 0; m < m4; m += 4) cho_candidate<4>(a, ep, m, t);
        for (std::size_t m = m4; m < a.rows; ++m) cho_candidate<1>(a, ep, m, t);
    }
}

}  // namespace gru_infer
#endif  // GRU_INFER_NEON
