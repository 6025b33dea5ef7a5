// AVX2 + FMA fused GRU update over packed weights (GruStepArgs in kernels.h), both forms: reset
// gate after the recurrent product ("lbr" below) and before it ("cho"). One pass over a
// tile's packed rows gives z, r and n for 8 units at once; bias, activations and the state update
// happen in registers. Rows of the batch are taken MR at a time and tiles NT at a time, so that
// enough independent FMA chains are in flight (6 to 12 accumulators); two rows of a small batch
// share each tile's weight loads (lbr_two_rows), Cho batches run in two passes over the tiles.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx2_target_begin.h"

#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/simd/avx2_math.h"

namespace gru_infer {
namespace {

struct Epilogue {
    bool fast;
    bool clip_on;
    __m256 lo, hi;
    explicit Epilogue(const GruStepArgs& a)
        : fast(a.fast), clip_on(a.clip > 0.0f), lo(_mm256_set1_ps(-a.clip)), hi(_mm256_set1_ps(a.clip)) {}
    __m256 pre(__m256 v) const { return clip_on ? avx2::clamp(v, lo, hi) : v; }
    // The exact gates are pow2_math.h's (AVX-512's and the reduced-precision kernels'): a shorter
    // dependency chain than ExactMath's, which a small layer's step waits on.
    __m256 f(__m256 v) const { return fast ? avx2::fast_sigmoid(pre(v)) : avx2::Pow2::sigmoid(pre(v)); }
    __m256 g(__m256 v) const { return fast ? avx2::fast_tanh(pre(v)) : avx2::Pow2::tanh(pre(v)); }
};

// h_out = n + z (h - n) for the units of tile t in row m (the last tile masked to `hidden`).
inline void update_state(const GruStepArgs& a, std::size_t m, std::size_t t, __m256 z, __m256 n) {
    const std::size_t u0 = t * kTile, lanes = a.hidden - u0;
    const float* h = a.h + m * a.ldh + u0;
    float* out = a.h_out + m * a.ldo + u0;
    if (lanes >= kTile) {
        const __m256 hv = _mm256_loadu_ps(h);
        _mm256_storeu_ps(out, _mm256_fmadd_ps(z, _mm256_sub_ps(hv, n), n));
    } else {
        const __m256i mask = avx2::tail_mask(lanes);
        const __m256 hv = _mm256_maskload_ps(h, mask);
        _mm256_maskstore_ps(out, mask, _mm256_fmadd_ps(z, _mm256_sub_ps(hv, n), n));
    }
}

// lbr gates of one tile from its pre-activations: z, r, the recurrent and the input part of n.
inline void lbr_gates(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t t, __m256 zp,
                      __m256 rp, __m256 nrec, __m256 nx) {
    const __m256 r = ep.f(rp);
    update_state(a, m, t, ep.f(zp), ep.g(_mm256_fmadd_ps(r, nrec, nx)));
}

// acc[i][j][g] += v_i[k] * rows_j[k][g] over k < K: rows of NT tiles, MR input vectors.
// Parity (the default for one row, where there are few accumulators): even and odd k go to
// separate sums so that twice as many independent FMA chains hide the FMA latency; each row and
// tile then gets the same operations whatever MR and NT are. Broadcasts by _mm256_set1_ps here and
// in the kernels below: with _mm256_broadcast_ss (a builtin taking a pointer) GCC 12 kept a copy of
// the sums in memory, a store per FMA.
template <int MR, int NT, int G, bool Parity = MR == 1>
inline void accumulate(__m256 (&acc)[MR][NT][3], const float* rows, std::size_t tile_stride, const float* v,
                       std::size_t ldv, std::size_t K, int g0) {
    std::size_t k = 0;
    if (Parity) {
        __m256 odd[MR][NT][G];
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int g = 0; g < G; ++g) odd[i][j][g] = _mm256_setzero_ps();
        for (; k + 2 <= K; k += 2)
            for (int i = 0; i < MR; ++i) {
                const __m256 b0 = _mm256_set1_ps(v[i * ldv + k]), b1 = _mm256_set1_ps(v[i * ldv + k + 1]);
                for (int j = 0; j < NT; ++j)
                    for (int g = 0; g < G; ++g) {
                        const float* w = rows + j * tile_stride + k * kTileRow + 8 * (g0 + g);
                        acc[i][j][g0 + g] = _mm256_fmadd_ps(b0, _mm256_load_ps(w), acc[i][j][g0 + g]);
                        odd[i][j][g] = _mm256_fmadd_ps(b1, _mm256_load_ps(w + kTileRow), odd[i][j][g]);
                    }
            }
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int g = 0; g < G; ++g) acc[i][j][g0 + g] = _mm256_add_ps(acc[i][j][g0 + g], odd[i][j][g]);
    }
    for (; k < K; ++k) {
        __m256 w[NT][G];
        for (int j = 0; j < NT; ++j)
            for (int g = 0; g < G; ++g) w[j][g] = _mm256_load_ps(rows + j * tile_stride + k * kTileRow + 8 * (g0 + g));
        for (int i = 0; i < MR; ++i) {
            const __m256 b = _mm256_set1_ps(v[i * ldv + k]);
            for (int j = 0; j < NT; ++j)
                for (int g = 0; g < G; ++g) acc[i][j][g0 + g] = _mm256_fmadd_ps(b, w[j][g], acc[i][j][g0 + g]);
        }
    }
}

// Biases and input part of rows m0..m0+MR-1 for NT tiles from t0: z and r with their recurrent
// biases too, n the input part alone (accumulate's Parity as there).
template <int MR, int NT, bool Parity = MR == 1>
inline void input_part(const GruStepArgs& a, std::size_t m0, std::size_t t0, __m256 (&acc)[MR][NT][3]) {
    for (int j = 0; j < NT; ++j) {
        const float* bh = a.bh + (t0 + j) * kTileRow;
        for (int i = 0; i < MR; ++i) {
            const float* src = a.x ? a.bx + (t0 + j) * kTileRow : a.xp + (m0 + i) * a.ldxp + (t0 + j) * kTileRow;
            acc[i][j][0] = _mm256_add_ps(_mm256_loadu_ps(src), _mm256_load_ps(bh));
            acc[i][j][1] = _mm256_add_ps(_mm256_loadu_ps(src + 8), _mm256_load_ps(bh + 8));
            acc[i][j][2] = _mm256_loadu_ps(src + 16);
        }
    }
    if (a.x)
        accumulate<MR, NT, 3, Parity>(acc, a.w + t0 * a.tile_stride, a.tile_stride, a.x + m0 * a.ldx, a.ldx, a.input, 0);
}

// lbr: rows m0..m0+MR-1, tiles t0..t0+NT-1.
template <int MR, int NT>
inline void lbr_block(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t0) {
    __m256 acc[MR][NT][3], nx[MR][NT];
    const float* w = a.w + t0 * a.tile_stride;
    input_part<MR, NT>(a, m0, t0, acc);  // (acc[..][2] holds the candidate's input part first)
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NT; ++j) {
            nx[i][j] = acc[i][j][2];
            acc[i][j][2] = _mm256_load_ps(a.bh + (t0 + j) * kTileRow + 16);
        }
    accumulate<MR, NT, 3>(acc, w + a.input * kTileRow, a.tile_stride, a.h + m0 * a.ldh, a.ldh, a.hidden, 0);
    for (int j = 0; j < NT; ++j)
        for (int i = 0; i < MR; ++i) lbr_gates(a, ep, m0 + i, t0 + j, acc[i][j][0], acc[i][j][1], acc[i][j][2], nx[i][j]);
}

// One row, NT tiles: biases, input part and recurrent products into pre[j] = {z, r, recurrent n,
// input n}. The gates come later (lbr_row), so that their long dependency chains (exp, division,
// then tanh on the result) overlap with the next tiles' products instead of waiting behind them.
template <int NT>
inline void lbr_products(const GruStepArgs& a, std::size_t m, std::size_t t0, float (*pre)[4][kTile]) {
    __m256 acc[1][NT][3];
    const float* w = a.w + t0 * a.tile_stride;
    input_part<1, NT>(a, m, t0, acc);
    for (int j = 0; j < NT; ++j) {
        _mm256_store_ps(pre[j][3], acc[0][j][2]);  // the candidate's input part
        acc[0][j][2] = _mm256_load_ps(a.bh + (t0 + j) * kTileRow + 16);
    }
    accumulate<1, NT, 3>(acc, w + a.input * kTileRow, a.tile_stride, a.h + m * a.ldh, a.ldh, a.hidden, 0);
    for (int j = 0; j < NT; ++j)
        for (int g = 0; g < 3; ++g) _mm256_store_ps(pre[j][g], acc[0][j][g]);
}

inline void lbr_gates(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t t, const float (*p)[kTile]) {
    lbr_gates(a, ep, m, t, _mm256_load_ps(p[0]), _mm256_load_ps(p[1]), _mm256_load_ps(p[2]), _mm256_load_ps(p[3]));
}

// Tiles in pairs, last to first when a.walk_backward is set; the gates of each pair run after the
// products of the next, so their latency chains overlap with those loads and FMAs.
inline void lbr_row(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t tiles) {
    alignas(32) float pre[2][2][4][kTile];  // two pairs in flight
    const std::size_t pairs = (tiles + 1) / 2;
    std::size_t prev_t = 0, prev_n = 0;
    for (std::size_t i = 0; i < pairs; ++i) {
        const std::size_t t = 2 * (a.walk_backward ? pairs - 1 - i : i), n = tiles - t < 2 ? 1 : 2;
        float(*cur)[4][kTile] = pre[i % 2];
        if (n == 2) lbr_products<2>(a, m, t, cur);
        else lbr_products<1>(a, m, t, cur);
        for (std::size_t j = 0; j < prev_n; ++j) lbr_gates(a, ep, m, prev_t + j, pre[(i + 1) % 2][j]);
        prev_t = t;
        prev_n = n;
    }
    for (std::size_t j = 0; j < prev_n; ++j) lbr_gates(a, ep, m, prev_t + j, pre[(pairs + 1) % 2][j]);
}

// Two rows (a stereo stream, a batch of 2 or 3) one tile at a time: each weight loaded once for both
// rows, each row the same operations as lbr_row gives it alone (the even and odd k sums of a tile
// do not depend on the tiles beside it), so predict may split such a batch row by row. A tile's
// gates run after the next tile's products.
inline void lbr_two_rows_products(const GruStepArgs& a, std::size_t m0, std::size_t t, float (*pre)[4][kTile]) {
    __m256 acc[2][1][3];
    input_part<2, 1, true>(a, m0, t, acc);
    for (int i = 0; i < 2; ++i) {
        _mm256_store_ps(pre[i][3], acc[i][0][2]);  // the candidate's input part
        acc[i][0][2] = _mm256_load_ps(a.bh + t * kTileRow + 16);
    }
    accumulate<2, 1, 3, true>(acc, a.w + t * a.tile_stride + a.input * kTileRow, a.tile_stride, a.h + m0 * a.ldh, a.ldh,
                              a.hidden, 0);
    for (int i = 0; i < 2; ++i)
        for (int g = 0; g < 3; ++g) _mm256_store_ps(pre[i][g], acc[i][0][g]);
}

inline void lbr_two_rows(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t tiles) {
    alignas(32) float pre[2][2][4][kTile];  // [tile in flight][row]
    std::size_t prev_t = 0;
    for (std::size_t i = 0; i < tiles; ++i) {
        const std::size_t t = a.walk_backward ? tiles - 1 - i : i;
        lbr_two_rows_products(a, m0, t, pre[i % 2]);
        if (i)
            for (int r = 0; r < 2; ++r) lbr_gates(a, ep, m0 + r, prev_t, pre[(i + 1) % 2][r]);
        prev_t = t;
    }
    for (int r = 0; r < 2; ++r) lbr_gates(a, ep, m0 + r, prev_t, pre[(tiles + 1) % 2][r]);
}

// One gate's recurrent products for one tile: acc[c] += h[k] R[k][gate] (k = c mod C; the last
// K mod C into the first sums). rows: the gate's columns in the first recurrent row.
template <int C>
inline void gate_products(__m256 (&acc)[C], const float* rows, const float* h, std::size_t K) {
    std::size_t k = 0;
    for (; k + C <= K; k += C)
        for (int c = 0; c < C; ++c)
            acc[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(h + k + c), _mm256_load_ps(rows + (k + c) * kTileRow), acc[c]);
    for (; k < K; ++k) acc[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(h + k), _mm256_load_ps(rows + k * kTileRow), acc[0]);
}

// One row of a layer of one tile (H <= 8), where a step is one latency chain: the input part first
// (it does not wait for the state), then the recurrent products gate by gate, r's first, so that
// r's gate (the head of the chain r -> n -> h) runs while z's and n's products do. pow2_math.h's
// sigmoid and tanh (shorter chains than ExactMath's), their scales folded into each
// pre-activation's last FMA and tanh's last steps into the update, as in AVX-512's small steps.
// (Layers of 2-4 tiles stay on lbr_row: one pass per gate broadcasts h three times and needs more
// than AVX2's 16 registers, which measured slower.)
template <bool Fast>
inline void lbr_row_one_tile(const GruStepArgs& a, std::size_t m) {
    using PM = avx2::Pow2;
    constexpr int C = 4;  // sums per gate, for FMAs in flight
    __m256 x[1][1][3];  // z and r with both biases, n's input part
    input_part<1, 1>(a, m, 0, x);
    const float* rec = a.w + a.input * kTileRow;
    const float* h = a.h + m * a.ldh;
    const __m256 ss = _mm256_set1_ps(Fast ? 1.0f : PM::kSigmoidScale), ts = _mm256_set1_ps(Fast ? 1.0f : PM::kTanhScale);
    __m256 acc[C];
    auto products = [&](int g, __m256 first) __attribute__((always_inline)) {
        acc[0] = first;
        for (int c = 1; c < C; ++c) acc[c] = _mm256_setzero_ps();
        gate_products<C>(acc, rec + g * kTile, h, a.hidden);
        return _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    };
    auto sigmoid = [&](__m256 rec_sum, __m256 e) __attribute__((always_inline)) {
        return Fast ? avx2::fast_sigmoid(_mm256_add_ps(rec_sum, e)) : PM::sigmoid_of_t(_mm256_fmadd_ps(rec_sum, ss, _mm256_mul_ps(e, ss)));
    };
    const __m256 r = sigmoid(products(1, _mm256_setzero_ps()), x[0][0][1]);
    const __m256 z = sigmoid(products(0, _mm256_setzero_ps()), x[0][0][0]);
    const __m256i tail = avx2::tail_mask(a.hidden);
    const bool whole = a.hidden == kTile;
    const __m256 w = _mm256_sub_ps(_mm256_set1_ps(1.0f), z);  // the update h = w n + c
    const __m256 c = _mm256_mul_ps(z, whole ? _mm256_loadu_ps(h) : _mm256_maskload_ps(h, tail));
    const __m256 nh = products(2, _mm256_load_ps(a.bh + 2 * kTile));
    const __m256 u = _mm256_fmadd_ps(r, _mm256_mul_ps(nh, ts), _mm256_mul_ps(x[0][0][2], ts));
    const __m256 hl = Fast ? _mm256_fmadd_ps(w, avx2::fast_tanh(u), c) : PM::fma_tanh_of_u(u, w, c);
    float* out = a.h_out + m * a.ldo;
    if (whole) _mm256_storeu_ps(out, hl);  // a plain move, which the next step's loads can forward from
    else _mm256_maskstore_ps(out, tail, hl);
}

template <bool Fast>
[[gnu::noinline]] void lbr_one_tile_rows(const GruStepArgs& a) {
    for (std::size_t m = 0; m < a.rows; ++m) lbr_row_one_tile<Fast>(a, m);
}

// Batches without scratch: tiles outermost, so a tile's packed rows stay in L1 while every row
// of the batch uses them.
inline void lbr_tile(const GruStepArgs& a, const Epilogue& ep, std::size_t t) {
    std::size_t m = 0;
    // Fused input rows need 4 accumulators per row: 2 rows at a time; else 4 rows.
    if (a.x)
        for (; m + 2 <= a.rows; m += 2) lbr_block<2, 1>(a, ep, m, t);
    else
        for (; m + 4 <= a.rows; m += 4) lbr_block<4, 1>(a, ep, m, t);
    for (; m < a.rows; ++m) lbr_block<1, 1>(a, ep, m, t);
}

// Cho pass 1 for one row and tiles t0..t0+NT-1: z, r * h and the candidate's input part into the
// scratch. Several tiles at a time so that enough FMA chains are in flight (a row's products are a
// chain per gate and parity of k; one tile alone waits on their latency).
template <int NT>
inline void cho_gates(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t t0, const ChoScratch& s) {
    __m256 acc[1][NT][3];
    input_part<1, NT>(a, m, t0, acc);
    for (int j = 0; j < NT; ++j) _mm256_storeu_ps(s.nx + (t0 + j) * kTile, acc[0][j][2]);
    accumulate<1, NT, 2>(acc, a.w + t0 * a.tile_stride + a.input * kTileRow, a.tile_stride, a.h + m * a.ldh, a.ldh,
                         a.hidden, 0);
    for (int j = 0; j < NT; ++j) {
        const std::size_t u0 = (t0 + j) * kTile, lanes = a.hidden - u0;
        const __m256 h = lanes >= kTile ? _mm256_loadu_ps(a.h + m * a.ldh + u0)
                                        : _mm256_maskload_ps(a.h + m * a.ldh + u0, avx2::tail_mask(lanes));
        _mm256_storeu_ps(s.z + u0, ep.f(acc[0][j][0]));
        _mm256_storeu_ps(s.rh + u0, _mm256_mul_ps(ep.f(acc[0][j][1]), h));  // masked-out lanes of h are 0
    }
}

// Cho pass 2 for one row and tiles t0..t0+NT-1: the candidate from r * h, then the update.
template <int NT>
inline void cho_candidate(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t t0, const ChoScratch& s) {
    __m256 acc[1][NT][3];
    for (int j = 0; j < NT; ++j) acc[0][j][2] = _mm256_load_ps(a.bh + (t0 + j) * kTileRow + 16);
    accumulate<1, NT, 1>(acc, a.w + t0 * a.tile_stride + a.input * kTileRow, a.tile_stride, s.rh, 0, a.hidden, 2);
    for (int j = 0; j < NT; ++j) {
        const std::size_t u0 = (t0 + j) * kTile;
        update_state(a, m, t0 + j, _mm256_loadu_ps(s.z + u0), ep.g(_mm256_add_ps(acc[0][j][2], _mm256_loadu_ps(s.nx + u0))));
    }
}

}  // namespace

void gemm_packed_f32_avx2(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                          std::size_t tile_stride, std::size_t tiles, const float* bias, float* C, std::size_t ldc);

namespace {

// Batches of 4 rows or more: the recurrent product as one packed GEMM (rec = h R + bh, the
// blocked kernel of gemm_packed_f32_avx2.cpp), then the gates in a second, light pass.
void lbr_step_batched(const GruStepArgs& a, const Epilogue& ep) {
    const std::size_t tiles = tiles_for(a.hidden), ld = tiles * kTileRow;
    float* rec = a.scratch;  // (rows, ld)
    const float* xp = a.xp;
    std::size_t ldxp = a.ldxp;
    if (a.x) {  // streaming: the input projection first, into the second half of the scratch
        float* xs = a.scratch + a.rows * ld;
        gemm_packed_f32_avx2(a.rows, a.input, a.x, a.ldx, a.w, a.tile_stride, tiles, a.bx, xs, ld);
        xp = xs;
        ldxp = ld;
    }
    gemm_packed_f32_avx2(a.rows, a.hidden, a.h, a.ldh, a.w + a.input * kTileRow, a.tile_stride, tiles, a.bh, rec, ld);
    for (std::size_t m = 0; m < a.rows; ++m)
        for (std::size_t t = 0; t < tiles; ++t) {
            const float* g = rec + m * ld + t * kTileRow;
            const float* x = xp + m * ldxp + t * kTileRow;
            lbr_gates(a, ep, m, t, _mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(g)),
                      _mm256_add_ps(_mm256_loadu_ps(x + 8), _mm256_loadu_ps(g + 8)), _mm256_loadu_ps(g + 16),
                      _mm256_loadu_ps(x + 16));
        }
}

}  // namespace

void gru_step_reset_after_f32_avx2(const GruStepArgs& a) {
    const Epilogue ep(a);
    if (a.rows >= kStepGemmRows && a.scratch) return lbr_step_batched(a, ep);
    const std::size_t tiles = tiles_for(a.hidden);
    if (a.rows < 4 && tiles == 1 && !(a.clip > 0.0f))  // (a clip runs the general path)
        return a.fast ? lbr_one_tile_rows<true>(a) : lbr_one_tile_rows<false>(a);
    if (a.rows < 4) {
        std::size_t m = 0;
        if (a.rows >= 2) {
            lbr_two_rows(a, ep, 0, tiles);
            m = 2;
        }
        for (; m < a.rows; ++m) lbr_row(a, ep, m, tiles);
        return;
    }
    for (std::size_t t = 0; t < tiles; ++t) lbr_tile(a, ep, t);
}

namespace {

// Cho batches (4+ rows), as the AVX-512 kernel's cho_rows on 8 lanes: pass 1 z and r of a tile
// for MR rows (2 accumulators a row, 3 while the input part runs: 2 rows then, else 4), z, r * h
// and n's input part to the scratch; pass 2 n of a tile for 8 rows from bh_n + (r * h) R_n, then
// the update. The weights of a tile are read once per block of rows, not once per row.
template <int MR>
inline void cho_zr_rows_of_tile(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    __m256 acc[MR][1][3];  // z, r, n's input part
    input_part<MR, 1, false>(a, m0, t, acc);
    const std::size_t u0 = t * kTile;
    for (int i = 0; i < MR; ++i) _mm256_storeu_ps(ChoScratch(a, m0 + i).nx + u0, acc[i][0][2]);
    accumulate<MR, 1, 2, false>(acc, a.w + t * a.tile_stride + a.input * kTileRow, a.tile_stride, a.h + m0 * a.ldh, a.ldh,
                                a.hidden, 0);
    const std::size_t lanes = a.hidden - u0;
    for (int i = 0; i < MR; ++i) {
        const ChoScratch s(a, m0 + i);
        const float* hp = a.h + (m0 + i) * a.ldh + u0;
        const __m256 h = lanes >= kTile ? _mm256_loadu_ps(hp) : _mm256_maskload_ps(hp, avx2::tail_mask(lanes));
        _mm256_storeu_ps(s.z + u0, ep.f(acc[i][0][0]));
        _mm256_storeu_ps(s.rh + u0, _mm256_mul_ps(ep.f(acc[i][0][1]), h));  // masked-out lanes of h are 0
    }
}

template <int MR>
inline void cho_n_rows_of_tile(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    __m256 acc[MR][1][3];  // [..][2]: n's recurrent part
    for (int i = 0; i < MR; ++i) acc[i][0][2] = _mm256_load_ps(a.bh + t * kTileRow + 16);
    accumulate<MR, 1, 1, false>(acc, a.w + t * a.tile_stride + a.input * kTileRow, a.tile_stride, ChoScratch(a, m0).rh,
                                ChoScratch::row_floats(a), a.hidden, 2);
    const std::size_t u0 = t * kTile;
    for (int i = 0; i < MR; ++i) {
        const ChoScratch s(a, m0 + i);
        update_state(a, m0 + i, t, _mm256_loadu_ps(s.z + u0), ep.g(_mm256_add_ps(acc[i][0][2], _mm256_loadu_ps(s.nx + u0))));
    }
}

void cho_rows(const GruStepArgs& a, const Epilogue& ep) {
    const std::size_t tiles = tiles_for(a.hidden);
    // (the same operations for each row, whichever block it falls in; 2 rows a block while the
    // input part needs 3 sums a row)
    const std::size_t block = a.x ? 2 : 4, whole = a.rows / block * block;
    for (std::size_t t = 0; t < tiles; ++t) {
        for (std::size_t m = 0; m < whole; m += block)
            a.x ? cho_zr_rows_of_tile<2>(a, ep, m, t) : cho_zr_rows_of_tile<4>(a, ep, m, t);
        for (std::size_t m = whole; m < a.rows; ++m) cho_zr_rows_of_tile<1>(a, ep, m, t);
    }
    for (std::size_t t = 0; t < tiles; ++t)
        for_row_blocks(
            a.rows, [&](std::size_t m) { cho_n_rows_of_tile<8>(a, ep, m, t); },
            [&](std::size_t m) { cho_n_rows_of_tile<4>(a, ep, m, t); },
            [&](std::size_t m) { cho_n_rows_of_tile<1>(a, ep, m, t); });
}

}  // namespace

void gru_step_reset_before_f32_avx2(const GruStepArgs& a) {
    const Epilogue ep(a);
    if (a.rows >= kStepGemmRows && a.scratch) return cho_rows(a, ep);
    const std::size_t tiles = tiles_for(a.hidden);
    for (std::size_t m = 0; m < a.rows; ++m) {
        const ChoScratch s(a, m);
        std::size_t t = 0;
        for (; t + 2 <= tiles; t += 2) cho_gates<2>(a, ep, m, t, s);
        if (t < tiles) cho_gates<1>(a, ep, m, t, s);
        for (t = 0; t + 4 <= tiles; t += 4) cho_candidate<4>(a, ep, m, t, s);
        for (; t < tiles; ++t) cho_candidate<1>(a, ep, m, t, s);
    }
}

}  // namespace gru_infer

#include "kernels/simd/avx2_target_end.h"
#endif  // x86-64
