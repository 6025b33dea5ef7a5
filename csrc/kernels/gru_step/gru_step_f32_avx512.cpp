// AVX-512 fused GRU update over packed weights (GruStepArgs in kernels.h). Reset gate after the
// product (lbr): batches of fewer than 4 rows take the products of two rows of a tile as three
// aligned zmm (pair_products), the gates of two tiles on 16 lanes; a layer of one tile in
// registers (lbr_row_one_tile), of 2 to 4 tiles (H <= 32) with its gate-major recurrent copy
// (lbr_row_gate_major), larger ones two tiles at a time, two batch rows together (lbr_rows_few).
// Batches of 4+ rows go 8 rows at a time through each tile, everything in registers. Reset gate
// before the product (Cho): batches of 4+ rows in two passes over the tiles (cho_rows), fewer rows
// by the AVX2 kernel.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx512_target_begin.h"

#include <immintrin.h>

#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/simd/avx2_math.h"
#include "kernels/simd/avx512_math.h"
#include "kernels/simd/avx512_tile_pair.h"

namespace gru_infer {

namespace {

struct Epilogue {
    bool fast, clip_on;
    __m512 lo, hi;
    explicit Epilogue(const GruStepArgs& a)
        : fast(a.fast), clip_on(a.clip > 0.0f), lo(_mm512_set1_ps(-a.clip)), hi(_mm512_set1_ps(a.clip)) {}
    __m512 pre(__m512 v) const { return clip_on ? avx512::clamp(v, lo, hi) : v; }
    __m256 pre(__m256 v) const {
        return clip_on ? avx2::clamp(v, _mm512_castps512_ps256(lo), _mm512_castps512_ps256(hi)) : v;
    }
    __m256 f(__m256 v) const { return fast ? avx2::fast_sigmoid(pre(v)) : avx512::sigmoid(pre(v)); }
    __m512 f(__m512 v) const { return fast ? avx512::fast_sigmoid(pre(v)) : avx512::sigmoid(pre(v)); }
    __m512 g(__m512 v) const { return fast ? avx512::fast_tanh(pre(v)) : avx512::tanh(pre(v)); }
    __m256 g(__m256 v) const { return fast ? avx2::fast_tanh(pre(v)) : avx512::tanh(pre(v)); }
};

// Epilogue without clip and with the mode known at compile time: straight-line code with no
// branches, so that the gates of several tiles interleave (small layers, where they are the
// critical path).
// The exact mode takes its arguments pre-scaled (kScaled: f of t = -log2(e) x, g of u = 2 log2(e) x),
// the scales folded into the last FMA of each pre-activation.
template <bool Fast>
struct FixedEpilogue {
    static constexpr bool kScaled = !Fast;
    __m256 f(__m256 v) const { return Fast ? avx2::fast_sigmoid(v) : avx512::sigmoid_of_t(v); }
    __m256 g(__m256 v) const { return Fast ? avx2::fast_tanh(v) : avx512::tanh_of_u(v); }
    // Two tiles at once (the same arithmetic lane for lane, so the same results).
    __m512 f(__m512 v) const { return Fast ? avx512::fast_sigmoid(v) : avx512::sigmoid_of_t(v); }
    __m512 g(__m512 v) const { return Fast ? avx512::fast_tanh(v) : avx512::tanh_of_u(v); }
    // w g(v) + c, for w >= 0.
    __m256 fma_g(__m256 v, __m256 w, __m256 c) const {
        return Fast ? _mm256_fmadd_ps(w, avx2::fast_tanh(v), c) : avx512::fma_tanh_of_u(v, w, c);
    }
    __m512 fma_g(__m512 v, __m512 w, __m512 c) const {
        return Fast ? _mm512_fmadd_ps(w, avx512::fast_tanh(v), c) : avx512::fma_tanh_of_u(v, w, c);
    }
};

inline __mmask8 lanes_mask(const GruStepArgs& a, std::size_t t) {
    const std::size_t lanes = a.hidden - t * kTile;
    return lanes >= kTile ? 0xff : static_cast<__mmask8>((1u << lanes) - 1);
}

// Gates of one tile: zr = z | r pre-activations, nrec and nx the recurrent and input parts of n;
// h_out = (1 - z) n + z h for the tile's units of row m (z h is ready before n: one FMA after n).
[[gnu::always_inline]] inline void lbr_gates(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t t, __m512 zr,
                      __m256 nrec, __m256 nx) {
    // r first and on 8 lanes: it is on the step's critical path (r -> n -> h), and an 8-lane
    // division has two thirds of the latency of a 16-lane one; z waits until the end.
    const __m256 r = ep.f(_mm512_extractf32x8_ps(zr, 1));
    const __m256 n = ep.g(_mm256_fmadd_ps(r, nrec, nx));
    const __m256 z = ep.f(_mm512_castps512_ps256(zr));
    const __m256 one_minus_z = _mm256_sub_ps(_mm256_set1_ps(1.0f), z);
    const std::size_t u0 = t * kTile;
    const float* hp = a.h + m * a.ldh + u0;
    float* out = a.h_out + m * a.ldo + u0;
    if (u0 + kTile <= a.hidden) {  // a whole tile: plain moves, which the next step's loads of the
        const __m256 h = _mm256_loadu_ps(hp);  // state can forward from; masked stores cannot
        _mm256_storeu_ps(out, _mm256_fmadd_ps(one_minus_z, n, _mm256_mul_ps(z, h)));
        return;
    }
    const __mmask8 k = lanes_mask(a, t);
    const __m256 h = _mm256_maskz_loadu_ps(k, hp);
    _mm256_mask_storeu_ps(out, k, _mm256_fmadd_ps(one_minus_z, n, _mm256_mul_ps(z, h)));
}

// zr[j][c] += v[k] W_j[k][0:16], n[j][c] += v[k] W_j[k][16:24] for k = c mod C, over NT tiles.
template <int NT, int C>
[[gnu::always_inline]] inline void small_products(__m512 (&zr)[NT][C], __m256 (&n)[NT][C], const float* w,
                                                  std::size_t tile_stride, const float* v, std::size_t K) {
    std::size_t k = 0;
    for (; k + C <= K; k += C)
        for (int c = 0; c < C; ++c) {
            const __m512 b = _mm512_set1_ps(v[k + c]);
            for (int j = 0; j < NT; ++j) {
                const float* p = w + j * tile_stride + (k + c) * kTileRow;
                zr[j][c] = _mm512_fmadd_ps(b, _mm512_loadu_ps(p), zr[j][c]);
                n[j][c] = _mm256_fmadd_ps(_mm512_castps512_ps256(b), _mm256_load_ps(p + 16), n[j][c]);
            }
        }
    for (; k < K; ++k) {  // the last K mod C into the first sums (indices known at compile time: registers)
        const __m512 b = _mm512_set1_ps(v[k]);
        for (int j = 0; j < NT; ++j) {
            const float* p = w + j * tile_stride + k * kTileRow;
            zr[j][0] = _mm512_fmadd_ps(b, _mm512_loadu_ps(p), zr[j][0]);
            n[j][0] = _mm256_fmadd_ps(_mm512_castps512_ps256(b), _mm256_load_ps(p + 16), n[j][0]);
        }
    }
}

// The recurrent products of a small layer, every load aligned. A packed row is 96 bytes, so a
// row with an even index in the weight buffer starts a cache line and one with an odd index starts
// 32 bytes into one: the 24-float loads of small_products split a line every other row. From an
// even row, two rows are three aligned zmm, [z r] [n z'] [r' n'], multiplied by h_k, (h_k | h_k+1)
// and h_k+1 into A, B and C (three FMAs and loads per two rows instead of four, none split); a
// lone even row is [z r] into A and [n] into B's low half, a lone odd row [z] into B's high half
// and [r n] into C. Odd: bit j = tile j's first row sits 32 bytes into a line. Any Odd gives the
// same sums (it only chooses the loads), so a misaligned buffer is merely slower.
// MR rows at once (v, v + ldv, ...): each weight load serves every row, and each row gets the
// same operations in the same order as alone (so a row's sums do not depend on MR).
template <int NT, int C, unsigned Odd, int MR = 1>
[[gnu::always_inline]] inline void pair_products(__m512 (&A)[MR][NT][C], __m512 (&B)[MR][NT][C], __m512 (&Cc)[MR][NT][C],
                                                 const float* w, std::size_t tile_stride, const float* v,
                                                 std::size_t ldv, std::size_t K) {
    constexpr __mmask16 lo = 0x00ff, hi = 0xff00;
    constexpr bool any_odd = Odd != 0;
    if (any_odd && K)
        for (int j = 0; j < NT; ++j)
            if (Odd >> j & 1) {
                const float* p = w + j * tile_stride;
                const __m512 wb = _mm512_maskz_loadu_ps(hi, p - 8), wc = _mm512_loadu_ps(p + 8);
                for (int i = 0; i < MR; ++i) {
                    const __m512 b = _mm512_set1_ps(v[i * ldv]);
                    // masked FMA, not b * 0 in the other lanes: an infinite v[0] would make them NaN
                    B[i][j][0] = _mm512_mask3_fmadd_ps(b, wb, B[i][j][0], hi);
                    Cc[i][j][0] = _mm512_fmadd_ps(b, wc, Cc[i][j][0]);
                }
            }
    // Tile j's pairs start at row o = Odd bit j: rows o + 2q and o + 2q + 1.
    auto pair = [&](int j, int c, std::size_t q) __attribute__((always_inline)) {
        const std::size_t k = (Odd >> j & 1) + 2 * q;
        const float* p = w + j * tile_stride + k * kTileRow;
        const __m512 w0 = _mm512_loadu_ps(p), w1 = _mm512_loadu_ps(p + 16), w2 = _mm512_loadu_ps(p + 32);
        for (int i = 0; i < MR; ++i) {
            const __m512 b0 = _mm512_set1_ps(v[i * ldv + k]), b1 = _mm512_set1_ps(v[i * ldv + k + 1]);
            A[i][j][c] = _mm512_fmadd_ps(b0, w0, A[i][j][c]);
            B[i][j][c] = _mm512_fmadd_ps(_mm512_mask_blend_ps(hi, b0, b1), w1, B[i][j][c]);
            Cc[i][j][c] = _mm512_fmadd_ps(b1, w2, Cc[i][j][c]);
        }
    };
    const std::size_t common = any_odd ? (K ? (K - 1) / 2 : 0) : K / 2;  // pairs every tile has
    std::size_t q = 0;
    for (; q + C <= common; q += C)
        for (int c = 0; c < C; ++c)
            for (int j = 0; j < NT; ++j) pair(j, c, q + c);
    for (; q < common; ++q)
        for (int j = 0; j < NT; ++j) pair(j, 0, q);
    for (int j = 0; j < NT; ++j) {  // what is left of tile j: one more pair, then a lone even row
        const std::size_t o = Odd >> j & 1;
        std::size_t k = o + 2 * common;
        if (any_odd && !o && k + 2 <= K) {
            pair(j, 0, common);
            k += 2;
        }
        if (k < K) {
            const float* p = w + j * tile_stride + k * kTileRow;
            const __m512 wa = _mm512_loadu_ps(p), wb = _mm512_maskz_loadu_ps(lo, p + 16);
            for (int i = 0; i < MR; ++i) {
                const __m512 b = _mm512_set1_ps(v[i * ldv + k]);
                A[i][j][0] = _mm512_fmadd_ps(b, wa, A[i][j][0]);
                B[i][j][0] = _mm512_mask3_fmadd_ps(b, wb, B[i][j][0], lo);  // (as above)
            }
        }
    }
}

template <int C>
[[gnu::always_inline]] inline __m512 sum(const __m512 (&v)[C]) {
    if (C == 4) return _mm512_add_ps(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]));
    if (C == 2) return _mm512_add_ps(v[0], v[1]);
    return v[0];
}

template <int C>
[[gnu::always_inline]] inline __m256 sum(const __m256 (&v)[C]) {
    if (C == 4) return _mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3]));
    if (C == 2) return _mm256_add_ps(v[0], v[1]);
    return v[0];
}

struct Pre {  // one tile's pre-activations, between products and gates
    __m512 zr;
    __m256 nrec, nx;
};

// pair_products' sums of tile j into its pre-activations: zr += A + [B.hi C.lo], n += B.lo + C.hi.
template <int NT, int C>
[[gnu::always_inline]] inline void fold_pair_sums(const __m512 (&A)[NT][C], const __m512 (&B)[NT][C],
                                                  const __m512 (&Cc)[NT][C], int j, __m512& zr, __m256& n) {
    const __m512 b = sum<C>(B[j]), c = sum<C>(Cc[j]);
    zr = _mm512_add_ps(zr, _mm512_add_ps(sum<C>(A[j]), _mm512_shuffle_f32x4(b, c, 0x4e)));
    n = _mm256_add_ps(n, _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(c, 1)));
}

// lbr_products with every load aligned (pair_products), one sum per accumulator (six chains of
// FMAs a tile pair and row: measured faster than twelve), MR rows (pre[i], rows m0 + i). XOdd:
// which of the NT tiles start 32 bytes into a line; HOdd: the same for their recurrent rows.
template <int NT, unsigned XOdd, unsigned HOdd, int MR>
[[gnu::noinline]] void lbr_products_pairs(const GruStepArgs& a, std::size_t m0, std::size_t t0, Pre (*pre)[2]) {
    constexpr int C = 1;
    __m512 A[MR][NT][C], B[MR][NT][C], Cc[MR][NT][C];
    const float* w = a.w + t0 * a.tile_stride;
    // The lambdas inlined: else GCC keeps A, B and Cc in memory and the loops store them every pass.
    auto clear = [&]() __attribute__((always_inline)) {
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int c = 0; c < C; ++c) A[i][j][c] = B[i][j][c] = Cc[i][j][c] = _mm512_setzero_ps();
    };
    auto fold = [&](int i, int j, __m512& zr, __m256& n) __attribute__((always_inline)) {
        fold_pair_sums<NT, C>(A[i], B[i], Cc[i], j, zr, n);
    };
    __m512 zr[MR][NT];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NT; ++j) {
            const float* bh = a.bh + (t0 + j) * kTileRow;
            const float* src = a.x ? a.bx + (t0 + j) * kTileRow : a.xp + (m0 + i) * a.ldxp + (t0 + j) * kTileRow;
            zr[i][j] = _mm512_add_ps(_mm512_loadu_ps(src), _mm512_loadu_ps(bh));
            pre[i][j].nx = _mm256_loadu_ps(src + 16);
            pre[i][j].nrec = _mm256_load_ps(bh + 16);
        }
    auto input_part = [&]() __attribute__((always_inline)) {
        clear();
        pair_products<NT, C, XOdd, MR>(A, B, Cc, w, a.tile_stride, a.x + m0 * a.ldx, a.ldx, a.input);
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j) fold(i, j, zr[i][j], pre[i][j].nx);
    };
    if (a.x && !a.walk_backward) input_part();
    clear();
    pair_products<NT, C, HOdd, MR>(A, B, Cc, w + a.input * kTileRow, a.tile_stride, a.h + m0 * a.ldh, a.ldh, a.hidden);
    if (a.x && a.walk_backward) {
        // Walking back, the recurrent rows (read last by a forward step) come first; their sums
        // wait in registers so that zr adds the input part first either way (the same result).
        __m512 hz[MR][NT];
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j) {
                hz[i][j] = _mm512_set1_ps(-0.0f);  // -0 + s == s for every s
                fold(i, j, hz[i][j], pre[i][j].nrec);
            }
        input_part();
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j) pre[i][j].zr = _mm512_add_ps(zr[i][j], hz[i][j]);
        return;
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NT; ++j) {
            fold(i, j, zr[i][j], pre[i][j].nrec);
            pre[i][j].zr = zr[i][j];
        }
}

// pair_products' Odd for NT tiles whose rows of interest start at row0 + j * tile_stride.
template <int NT>
inline unsigned odd_tiles(const float* row0, std::size_t tile_stride) {
    unsigned odd = 0;
    for (int j = 0; j < NT; ++j)
        if (reinterpret_cast<std::uintptr_t>(row0 + j * tile_stride) & 32) odd |= 1u << j;
    return odd;
}

// lbr_products_pairs for the NT tiles from t0, its Odd patterns read from the weights' addresses.
template <int NT, int MR>
inline void lbr_products_aligned(const GruStepArgs& a, std::size_t m0, std::size_t t0, Pre (*pre)[2]) {
    const unsigned x = odd_tiles<NT>(a.w + t0 * a.tile_stride, a.tile_stride);
    constexpr unsigned all = (1u << NT) - 1;
    const bool flip = a.input % 2;  // the recurrent rows start `input` rows later
    switch (x) {
        case 0: return flip ? lbr_products_pairs<NT, 0, all, MR>(a, m0, t0, pre) : lbr_products_pairs<NT, 0, 0, MR>(a, m0, t0, pre);
        case 1:
            return flip ? lbr_products_pairs<NT, 1, all ^ 1, MR>(a, m0, t0, pre) : lbr_products_pairs<NT, 1, 1, MR>(a, m0, t0, pre);
        case 2: return flip ? lbr_products_pairs<NT, 2 & all, all ^ (2 & all), MR>(a, m0, t0, pre)
                            : lbr_products_pairs<NT, 2 & all, 2 & all, MR>(a, m0, t0, pre);
        default:
            return flip ? lbr_products_pairs<NT, all, 0, MR>(a, m0, t0, pre) : lbr_products_pairs<NT, all, all, MR>(a, m0, t0, pre);
    }
}

// lbr_gates of tiles t and t + 1 on 16 lanes (the same arithmetic lane for lane; half the
// instructions, which is what counts with only two vector ports for 512-bit code).
inline void lbr_gates2(const GruStepArgs& a, const Epilogue& ep, std::size_t m, std::size_t t, const Pre& p0,
                       const Pre& p1) {
    const __m512 r = ep.f(_mm512_shuffle_f32x4(p0.zr, p1.zr, 0xee));
    const __m512 n = ep.g(_mm512_fmadd_ps(r, concat(p0.nrec, p1.nrec), concat(p0.nx, p1.nx)));
    const __m512 z = ep.f(_mm512_shuffle_f32x4(p0.zr, p1.zr, 0x44));
    const std::size_t u0 = t * kTile;
    const float* hp = a.h + m * a.ldh + u0;
    float* out = a.h_out + m * a.ldo + u0;
    const __m512 one_minus_z = _mm512_sub_ps(_mm512_set1_ps(1.0f), z);
    if (u0 + 2 * kTile <= a.hidden) {
        _mm512_storeu_ps(out, _mm512_fmadd_ps(one_minus_z, n, _mm512_mul_ps(z, _mm512_loadu_ps(hp))));
        return;
    }
    const __mmask16 k = static_cast<__mmask16>((1u << (a.hidden - u0)) - 1);
    _mm512_mask_storeu_ps(out, k, _mm512_fmadd_ps(one_minus_z, n, _mm512_mul_ps(z, _mm512_maskz_loadu_ps(k, hp))));
}

// Tiles in pairs (last to first when a.walk_backward is set); a pair's gates run after the next
// pair's products, so that their latency chains overlap with those loads and FMAs. MR rows from
// m0 at once (a batch of 2 or 3: each pair's weights read once for all of them).
template <int MR>
void lbr_rows_few(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t tiles) {
    Pre pre[2][MR][2];
    const std::size_t pairs = (tiles + 1) / 2;
    std::size_t prev_t = 0, prev_n = 0;
    auto gates = [&](const Pre (&last)[MR][2]) {
        for (int i = 0; i < MR; ++i) {
            if (prev_n == 2) lbr_gates2(a, ep, m0 + i, prev_t, last[i][0], last[i][1]);
            else if (prev_n == 1) lbr_gates(a, ep, m0 + i, prev_t, last[i][0].zr, last[i][0].nrec, last[i][0].nx);
        }
    };
    for (std::size_t p = 0; p < pairs; ++p) {
        const std::size_t t = 2 * (a.walk_backward ? pairs - 1 - p : p), n = tiles - t < 2 ? 1 : 2;
        if (n == 2) lbr_products_aligned<2, MR>(a, m0, t, pre[p % 2]);
        else lbr_products_aligned<1, MR>(a, m0, t, pre[p % 2]);
        gates(pre[(p + 1) % 2]);
        prev_t = t;
        prev_n = n;
    }
    gates(pre[(pairs + 1) % 2]);
}

// One row of a layer of one tile (H <= 8), where a step is latency, not bandwidth: the products
// in registers, 4 independent sums per accumulator so that 8 FMAs are in flight, the input part
// first (it does not wait for the state, so the CPU can start it while the previous step's gates
// finish), the recurrent sums apart from the input's (so that they do not wait for them).
template <class Ep>
[[gnu::always_inline]] inline void lbr_row_one_tile(const GruStepArgs& a, const Ep& ep, std::size_t m) {
    constexpr int C = 4;
    __m512 zr[1][C], A[1][C];
    __m256 nx[1][C], nh[1][C];
    const float* src = a.x ? a.bx : a.xp + m * a.ldxp;
    zr[0][0] = _mm512_add_ps(_mm512_loadu_ps(src), _mm512_loadu_ps(a.bh));
    nx[0][0] = _mm256_loadu_ps(src + 16);
    nh[0][0] = _mm256_load_ps(a.bh + 16);
    A[0][0] = _mm512_setzero_ps();
    for (int c = 1; c < C; ++c) {
        zr[0][c] = A[0][c] = _mm512_setzero_ps();
        nx[0][c] = nh[0][c] = _mm256_setzero_ps();
    }
    if (a.x) small_products<1, C>(zr, nx, a.w, a.tile_stride, a.x + m * a.ldx, a.input);
    small_products<1, C>(A, nh, a.w + a.input * kTileRow, a.tile_stride, a.h + m * a.ldh, a.hidden);
    // z | r pre-activations: biases and input part (ready early) plus the recurrent part (on the
    // state's path), which with Ep::kScaled enters by the FMA that also applies the scale.
    const __m512 early = sum<C>(zr[0]), rec = sum<C>(A[0]);
    __m256 nhs = sum<C>(nh[0]), nxs = sum<C>(nx[0]);
    __m512 zrs;
    if (Ep::kScaled) {
        const __m512 scale = _mm512_set1_ps(avx512::kSigmoidScale);
        zrs = _mm512_fmadd_ps(rec, scale, _mm512_mul_ps(early, scale));
        nhs = _mm256_mul_ps(nhs, _mm256_set1_ps(avx512::kTanhScale));  // ready long before r: off the path
        nxs = _mm256_mul_ps(nxs, _mm256_set1_ps(avx512::kTanhScale));
    } else {
        zrs = _mm512_add_ps(early, rec);
    }
    const float* h = a.h + m * a.ldh;
    float* out = a.h_out + m * a.ldo;
    const __m256 r = ep.f(_mm512_extractf32x8_ps(zrs, 1));
    const __m256 u = _mm256_fmadd_ps(r, nhs, nxs);
    const __m256 z = ep.f(_mm512_castps512_ps256(zrs));
    const __mmask8 k = a.hidden >= kTile ? 0xff : static_cast<__mmask8>((1u << a.hidden) - 1);
    const __m256 hl = ep.fma_g(u, _mm256_sub_ps(_mm256_set1_ps(1.0f), z), _mm256_mul_ps(z, _mm256_maskz_loadu_ps(k, h)));
    if (k == 0xff) _mm256_storeu_ps(out, hl);  // a plain move, which the next step's loads can forward from
    else _mm256_mask_storeu_ps(out, k, hl);
}

// acc[i][c] += v[k] w[k][16 i : 16 i + 16] over k < K for one gate's gate-major rows (V = 16 NV
// floats each), C sums per accumulator (k = c mod C; the last K mod C into the first).
template <int NV, int C>
[[gnu::always_inline]] inline void gate_major_products(__m512 (&acc)[NV][C], const float* w, const float* v,
                                                       std::size_t K) {
    auto fma_row = [&](std::size_t k, int c) __attribute__((always_inline)) {
        const __m512 b = _mm512_set1_ps(v[k]);
        for (int i = 0; i < NV; ++i) acc[i][c] = _mm512_fmadd_ps(b, _mm512_load_ps(w + (k * NV + i) * 16), acc[i][c]);
    };
    std::size_t k = 0;
    for (; k + C <= K; k += C)
        for (int c = 0; c < C; ++c) fma_row(k + c, c);
    for (; k < K; ++k) fma_row(k, 0);
}

// One row of a layer of 2 to 4 tiles (9 to 32 units) whose recurrent weights are also given
// gate-major (a.w_gate_major). The input part first, in tile form (pair_products; it does not wait
// for the state); then the recurrent products gate by gate, r's first: r's gate (the head of the
// step's critical path, r -> n -> h) runs while the next gate's products do. tanh's last steps are
// folded into the update (fma_g). Gates on NV zmm of 16 units (tiles 2i and 2i + 1). XOdd:
// pair_products' Odd for the input rows.
template <int NT, unsigned XOdd, class Ep>
[[gnu::always_inline]] inline void lbr_row_gate_major(const GruStepArgs& a, const Ep& ep, std::size_t m) {
    constexpr int NV = (NT + 1) / 2, CX = 4 / NT, C = 4;
    const std::size_t H = a.hidden;
    __m512 early[NT];  // z | r: biases and input part
    __m256 nx[NT];
    for (int j = 0; j < NT; ++j) {
        const float* src = a.x ? a.bx + j * kTileRow : a.xp + m * a.ldxp + j * kTileRow;
        early[j] = _mm512_add_ps(_mm512_loadu_ps(src), _mm512_loadu_ps(a.bh + j * kTileRow));
        nx[j] = _mm256_loadu_ps(src + 16);
    }
    if (a.x) {
        __m512 A[1][NT][CX], B[1][NT][CX], Cc[1][NT][CX];
        for (int j = 0; j < NT; ++j)
            for (int c = 0; c < CX; ++c) A[0][j][c] = B[0][j][c] = Cc[0][j][c] = _mm512_setzero_ps();
        pair_products<NT, CX, XOdd>(A, B, Cc, a.w, a.tile_stride, a.x + m * a.ldx, a.ldx, a.input);
        for (int j = 0; j < NT; ++j) fold_pair_sums<NT, CX>(A[0], B[0], Cc[0], j, early[j], nx[j]);
    }
    auto second = [](int i) { return 2 * i + 1 < NT ? 2 * i + 1 : 2 * i; };  // (lanes past H are not stored)
    __m512 R[NV][C], N[NV][C], Z[NV][C];
    for (int i = 0; i < NV; ++i) {
        for (int c = 0; c < C; ++c) R[i][c] = N[i][c] = Z[i][c] = _mm512_setzero_ps();
        N[i][0] = concat(_mm256_load_ps(a.bh + 2 * i * kTileRow + 16), _mm256_load_ps(a.bh + second(i) * kTileRow + 16));
    }
    const float* h = a.h + m * a.ldh;
    const std::size_t block = gate_major_lanes(H) * H;  // floats per gate
    gate_major_products<NV, C>(R, a.w_gate_major, h, H);
    const __m512 zr_scale = _mm512_set1_ps(Ep::kScaled ? avx512::kSigmoidScale : 1.0f);
    const __m512 n_scale = _mm512_set1_ps(Ep::kScaled ? avx512::kTanhScale : 1.0f);
    auto pre = [&](__m512 rec, __m512 e) __attribute__((always_inline)) {  // scaled as Ep takes it
        return Ep::kScaled ? _mm512_fmadd_ps(rec, zr_scale, _mm512_mul_ps(e, zr_scale)) : _mm512_add_ps(rec, e);
    };
    __m512 r[NV];
    for (int i = 0; i < NV; ++i) r[i] = ep.f(pre(sum<C>(R[i]), _mm512_shuffle_f32x4(early[2 * i], early[second(i)], 0xee)));
    const std::size_t units_last = H - (NV - 1) * 16;  // 1..16
    const __mmask16 k = units_last >= 16 ? 0xffff : static_cast<__mmask16>((1u << units_last) - 1);
    __m512 w[NV], c[NV];  // the update h = w n + c: w = 1 - z, c = z h
    auto z_gate = [&]() __attribute__((always_inline)) {
        gate_major_products<NV, C>(Z, a.w_gate_major + 2 * block, h, H);
        for (int i = 0; i < NV; ++i) {
            const __m512 z = ep.f(pre(sum<C>(Z[i]), _mm512_shuffle_f32x4(early[2 * i], early[second(i)], 0x44)));
            const __m512 hi = i + 1 < NV || k == 0xffff ? _mm512_loadu_ps(h + 16 * i) : _mm512_maskz_loadu_ps(k, h + 16 * i);
            w[i] = _mm512_sub_ps(_mm512_set1_ps(1.0f), z);
            c[i] = _mm512_mul_ps(z, hi);
        }
    };
    // With one zmm a gate (H <= 16) z's products run beside r's gate and n's beside z's; with two,
    // z's come after n's (each the faster order there: benchmarks/results.md).
    if (NV == 1) z_gate();
    gate_major_products<NV, C>(N, a.w_gate_major + block, h, H);
    __m512 u[NV];  // n's pre-activation
    for (int i = 0; i < NV; ++i) {
        const __m512 nh = _mm512_mul_ps(sum<C>(N[i]), n_scale), nxs = _mm512_mul_ps(concat(nx[2 * i], nx[second(i)]), n_scale);
        u[i] = _mm512_fmadd_ps(r[i], nh, nxs);
    }
    if (NV > 1) z_gate();
    float* out = a.h_out + m * a.ldo;
    for (int i = 0; i < NV; ++i) {
        const __m512 hl = ep.fma_g(u[i], w[i], c[i]);
        if (i + 1 < NV || k == 0xffff) _mm512_storeu_ps(out + 16 * i, hl);  // a plain move, which the next step's loads can forward from
        else _mm512_mask_storeu_ps(out + 16 * i, k, hl);
    }
}

// MR rows of tile t before their recurrent products: zr = z | r from xp (or bx + x W) + bh, and
// n's input part nx (both forms).
template <int MR>
[[gnu::always_inline]] inline void rows_input_part(const GruStepArgs& a, std::size_t m0, std::size_t t, __m512 (&zr)[MR],
                                                   __m256 (&nx)[MR]) {
    const float* w = a.w + t * a.tile_stride;
    const float* bh = a.bh + t * kTileRow;
    for (int i = 0; i < MR; ++i) {
        const float* src = a.x ? a.bx + t * kTileRow : a.xp + (m0 + i) * a.ldxp + t * kTileRow;
        zr[i] = _mm512_add_ps(_mm512_loadu_ps(src), _mm512_loadu_ps(bh));
        nx[i] = _mm256_loadu_ps(src + 16);
    }
    if (a.x)
        for (std::size_t k = 0; k < a.input; ++k) {
            const __m512 p0 = _mm512_loadu_ps(w + k * kTileRow);
            const __m256 p1 = _mm256_load_ps(w + k * kTileRow + 16);
            for (int i = 0; i < MR; ++i) {
                const __m512 b = _mm512_set1_ps(a.x[(m0 + i) * a.ldx + k]);
                zr[i] = _mm512_fmadd_ps(b, p0, zr[i]);
                nx[i] = _mm256_fmadd_ps(_mm512_castps512_ps256(b), p1, nx[i]);
            }
        }
}

// Batches of 4 rows or more: MR rows of one tile, input and recurrent products and the gates in
// registers (zr and the two parts of n: 3 accumulators a row), nothing through scratch. Measured
// against the AVX2 kernel's way (two packed GEMMs into scratch, then a gate pass): 16 rows at
// I=H=256 7.3-7.5 vs 7.5-7.7 us per row, batch-32 sequences equal.
template <int MR>
inline void lbr_rows_of_tile(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    __m512 zr[MR];
    __m256 nx[MR], nh[MR];
    rows_input_part<MR>(a, m0, t, zr, nx);
    for (int i = 0; i < MR; ++i) nh[i] = _mm256_load_ps(a.bh + t * kTileRow + 16);
    const float* r = a.w + t * a.tile_stride + a.input * kTileRow;
    for (std::size_t k = 0; k < a.hidden; ++k) {
        const __m512 p0 = _mm512_loadu_ps(r + k * kTileRow);
        const __m256 p1 = _mm256_load_ps(r + k * kTileRow + 16);
        for (int i = 0; i < MR; ++i) {
            const __m512 b = _mm512_set1_ps(a.h[(m0 + i) * a.ldh + k]);
            zr[i] = _mm512_fmadd_ps(b, p0, zr[i]);
            nh[i] = _mm256_fmadd_ps(_mm512_castps512_ps256(b), p1, nh[i]);
        }
    }
    for (int i = 0; i < MR; ++i) lbr_gates(a, ep, m0 + i, t, zr[i], nh[i], nx[i]);
}

// MR rows of tiles t and t + 1 together, the input multiplied in (a.x; without it:
// lbr_rows_of_tile_pair_recurrent): their packed rows k, 48 floats, as three zmm [z r]
// [n z'] [r' n'], so that every FMA is a 512-bit one (a tile alone needs a 256-bit FMA for its n,
// at half the work on the same port). The input part of n is kept apart from the recurrent part:
// X0-X2 hold the input sums (and z, r's recurrent ones), N1 and N2 the recurrent sums of [n z']
// and [r' n'] (their z' and r' halves are added back to X's at the end). 5 accumulators a row.
template <int MR>
inline void lbr_rows_of_tile_pair(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    __m512 X0[MR], X1[MR], X2[MR], N1[MR], N2[MR];
    const float* w0 = a.w + t * a.tile_stride;
    const float* w1 = w0 + a.tile_stride;
    const float* bh0 = a.bh + t * kTileRow;
    const float* bh1 = bh0 + kTileRow;
    for (int i = 0; i < MR; ++i) {
        const float* s0 = a.bx + t * kTileRow;
        const float* s1 = s0 + kTileRow;
        X0[i] = _mm512_add_ps(_mm512_loadu_ps(s0), _mm512_loadu_ps(bh0));
        X1[i] = concat(_mm256_loadu_ps(s0 + 16), _mm256_add_ps(_mm256_loadu_ps(s1), _mm256_load_ps(bh1)));
        X2[i] = _mm512_add_ps(_mm512_loadu_ps(s1 + 8), _mm512_maskz_loadu_ps(0x00ff, bh1 + 8));
        N1[i] = _mm512_maskz_loadu_ps(0x00ff, bh0 + 16);
        N2[i] = concat(_mm256_setzero_ps(), _mm256_load_ps(bh1 + 16));
    }
    tile_pair_products<MR>(w0, w1, a.x + m0 * a.ldx, a.ldx, a.input, X0, X1, X2);
    tile_pair_products<MR>(w0 + a.input * kTileRow, w1 + a.input * kTileRow, a.h + m0 * a.ldh, a.ldh, a.hidden, X0, N1, N2);
    for (int i = 0; i < MR; ++i) {  // the two tiles' gates on 16 lanes (lane for lane lbr_gates' operations)
        const __m512 zr1 = _mm512_add_ps(_mm512_shuffle_f32x4(X1[i], X2[i], 0x4e), _mm512_shuffle_f32x4(N1[i], N2[i], 0x4e));
        const Pre p0{X0[i], _mm512_castps512_ps256(N1[i]), _mm512_castps512_ps256(X1[i])};
        const Pre p1{zr1, _mm512_extractf32x8_ps(N2[i], 1), _mm512_extractf32x8_ps(X2[i], 1)};
        lbr_gates2(a, ep, m0 + i, t, p0, p1);
    }
}

// The recurrent step alone (the input part already projected into xp: predict's batches), MR rows
// of tiles t and t + 1: three accumulators a row, [z r], [n z'] and [r' n'], started from xp + bh
// (n from bh only), so that 8 rows fit the registers and the pair's rows (49 KB at H = 256, more
// than L1) come from L2 once per 8 rows instead of 4; the two tiles' gates on 16 lanes.
template <int MR>
inline void lbr_rows_of_tile_pair_recurrent(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    __m512 X0[MR], N1[MR], N2[MR];
    const float* w0 = a.w + t * a.tile_stride + a.input * kTileRow;
    const float* w1 = w0 + a.tile_stride;
    const float* bh0 = a.bh + t * kTileRow;
    const float* bh1 = bh0 + kTileRow;
    for (int i = 0; i < MR; ++i) {
        const float* s0 = a.xp + (m0 + i) * a.ldxp + t * kTileRow;
        const float* s1 = s0 + kTileRow;
        X0[i] = _mm512_add_ps(_mm512_loadu_ps(s0), _mm512_loadu_ps(bh0));
        N1[i] = concat(_mm256_load_ps(bh0 + 16), _mm256_add_ps(_mm256_loadu_ps(s1), _mm256_load_ps(bh1)));
        N2[i] = concat(_mm256_add_ps(_mm256_loadu_ps(s1 + 8), _mm256_load_ps(bh1 + 8)), _mm256_load_ps(bh1 + 16));
    }
    tile_pair_products<MR>(w0, w1, a.h + m0 * a.ldh, a.ldh, a.hidden, X0, N1, N2);
    for (int i = 0; i < MR; ++i) {
        const float* s0 = a.xp + (m0 + i) * a.ldxp + t * kTileRow;
        const Pre p0{X0[i], _mm512_castps512_ps256(N1[i]), _mm256_loadu_ps(s0 + 16)};
        const Pre p1{_mm512_shuffle_f32x4(N1[i], N2[i], 0x4e), _mm512_extractf32x8_ps(N2[i], 1),
                     _mm256_loadu_ps(s0 + kTileRow + 16)};
        lbr_gates2(a, ep, m0 + i, t, p0, p1);
    }
}

// The precomputed input rows (xp) of the next 8 rows' tiles [t, t + nt): a big batch's xp comes
// from memory, each block of rows reading a few lines of each of its rows, too scattered for the
// hardware prefetchers; fetched while the current block's products run, they are in cache in time.
inline void prefetch_xp_rows(const GruStepArgs& a, std::size_t m0, std::size_t t, std::size_t nt) {
    const std::size_t tiles = (a.hidden + kTile - 1) / kTile;
    if (t >= tiles) return;
    if (t + nt > tiles) nt = tiles - t;
    const std::size_t m1 = m0 + 8 < a.rows ? m0 + 8 : a.rows;
    for (std::size_t m = m0; m < m1; ++m) {
        const char* p = reinterpret_cast<const char*>(a.xp + m * a.ldxp + t * kTileRow);
        for (std::size_t b = 0; b < nt * kTileRow * sizeof(float); b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
    }
}

// Tiles outermost, so that a tile's packed rows stay in L1 or L2 while every block of rows uses
// them. Two tiles at a time (lbr_rows_of_tile_pair), four rows at a time, while the pair's rows
// (input + hidden of them, 192 bytes each) are at most 96 KB; past that the pair, read from L2 by
// every 4 rows, costs more than the 256-bit FMAs it saves (measured: I=H=512 16 rows 31 -> 35 us
// per row) and one tile goes 8 rows at a time. The recurrent step alone (xp given) takes pairs 8
// rows at a time at every size: twice the rows per read of the pair's weights.
void lbr_step_fused_rows(const GruStepArgs& a, const Epilogue& ep) {
    const std::size_t tiles = (a.hidden + kTile - 1) / kTile, m8 = a.rows / 8 * 8, m4 = m8 + (a.rows - m8) / 4 * 4;
    const std::size_t r4 = a.rows / 4 * 4;
    const bool pairs = !a.x || a.input + a.hidden <= 512;
    std::size_t t = 0;
    for (; pairs && t + 2 <= tiles; t += 2) {
        if (!a.x) {  // (every row the same operations, whichever group of rows it falls in)
            for (std::size_t m = 0; m < m8; m += 8) {
                prefetch_xp_rows(a, m + 8 < a.rows ? m + 8 : 0, m + 8 < a.rows ? t : t + 2, 2);
                lbr_rows_of_tile_pair_recurrent<8>(a, ep, m, t);
            }
            for (std::size_t m = m8; m < m4; m += 4) lbr_rows_of_tile_pair_recurrent<4>(a, ep, m, t);
            for (std::size_t m = m4; m < a.rows; ++m) lbr_rows_of_tile_pair_recurrent<1>(a, ep, m, t);
            continue;
        }
        for (std::size_t m = 0; m < r4; m += 4) lbr_rows_of_tile_pair<4>(a, ep, m, t);
        for (std::size_t m = r4; m < a.rows; ++m) lbr_rows_of_tile_pair<1>(a, ep, m, t);
    }
    for (; t < tiles; ++t) {
        for (std::size_t m = 0; m < m8; m += 8) {
            if (!a.x) prefetch_xp_rows(a, m + 8 < a.rows ? m + 8 : 0, m + 8 < a.rows ? t : t + 1, 1);
            lbr_rows_of_tile<8>(a, ep, m, t);
        }
        for (std::size_t m = m8; m < m4; m += 4) lbr_rows_of_tile<4>(a, ep, m, t);
        for (std::size_t m = m4; m < a.rows; ++m) lbr_rows_of_tile<1>(a, ep, m, t);
    }
}

// The Cho form (reset gate before the recurrent product) for batches: n needs r * h of every unit,
// so two passes over the tiles, each tile's packed rows read once per block of MR rows. Pass 1:
// z | r of a tile on 16 lanes from xp (or bx + x W) + bh + h R_zr, one FMA chain a row; z, r * h
// and the input part of n go to the scratch (per row: z, r * h, n's input part, Hp floats each,
// unit-indexed as the AVX2 kernel lays them out). Pass 2: n of tiles t and t + 1 on 16 lanes from
// bh_n + (r * h) R_n, then h = n + z (h - n). Every row is the same chain of operations in any
// block of rows, so a row's result does not depend on how a batch is split.
template <int MR>
inline void cho_zr_rows_of_tile(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    __m512 zr[MR];
    __m256 nx[MR];
    rows_input_part<MR>(a, m0, t, zr, nx);
    const float* r = a.w + t * a.tile_stride + a.input * kTileRow;
    for (std::size_t k = 0; k < a.hidden; ++k) {
        const __m512 p0 = _mm512_loadu_ps(r + k * kTileRow);
        for (int i = 0; i < MR; ++i) zr[i] = _mm512_fmadd_ps(_mm512_set1_ps(a.h[(m0 + i) * a.ldh + k]), p0, zr[i]);
    }
    const std::size_t u0 = t * kTile;
    const __mmask8 lanes = u0 + kTile <= a.hidden ? 0xff : lanes_mask(a, t);
    for (int i = 0; i < MR; ++i) {
        const ChoScratch s(a, m0 + i);
        const __m512 g = ep.f(zr[i]);  // z | r
        const __m256 h = _mm256_maskz_loadu_ps(lanes, a.h + (m0 + i) * a.ldh + u0);  // 0 past the layer
        _mm256_storeu_ps(s.z + u0, _mm512_castps512_ps256(g));
        _mm256_storeu_ps(s.rh + u0, _mm256_mul_ps(_mm512_extractf32x8_ps(g, 1), h));
        _mm256_storeu_ps(s.nx + u0, nx[i]);
    }
}

template <int MR>
inline void cho_n_rows_of_tile_pair(const GruStepArgs& a, const Epilogue& ep, std::size_t m0, std::size_t t) {
    const bool pair = (t + 1) * kTile < a.hidden;
    const float* w0 = a.w + t * a.tile_stride + a.input * kTileRow + 16;  // n's 8 floats of each row
    const float* w1 = pair ? w0 + a.tile_stride : w0;
    const __m256 b1 = pair ? _mm256_load_ps(a.bh + (t + 1) * kTileRow + 16) : _mm256_setzero_ps();
    const __m512 bn = concat(_mm256_load_ps(a.bh + t * kTileRow + 16), b1);
    __m512 n[MR];
    for (int i = 0; i < MR; ++i) n[i] = bn;
    const float* rh[MR];
    for (int i = 0; i < MR; ++i) rh[i] = ChoScratch(a, m0 + i).rh;
    for (std::size_t k = 0; k < a.hidden; ++k) {
        // (a lone last tile multiplies its own rows twice into the upper lanes, which are not stored)
        const __m512 p = concat(_mm256_load_ps(w0 + k * kTileRow), _mm256_load_ps(w1 + k * kTileRow));
        for (int i = 0; i < MR; ++i) n[i] = _mm512_fmadd_ps(_mm512_set1_ps(rh[i][k]), p, n[i]);
    }
    const std::size_t u0 = t * kTile, units = a.hidden - u0 < 16 ? a.hidden - u0 : 16;
    const __mmask16 lanes = static_cast<__mmask16>((1u << units) - 1);
    for (int i = 0; i < MR; ++i) {
        const ChoScratch s(a, m0 + i);
        const __m512 c = ep.g(_mm512_add_ps(n[i], _mm512_loadu_ps(s.nx + u0)));
        const __m512 z = _mm512_loadu_ps(s.z + u0);
        const __m512 h = _mm512_maskz_loadu_ps(lanes, a.h + (m0 + i) * a.ldh + u0);
        const __m512 out = _mm512_fmadd_ps(z, _mm512_sub_ps(h, c), c);
        float* o = a.h_out + (m0 + i) * a.ldo + u0;
        if (units == 16) _mm512_storeu_ps(o, out);
        else _mm512_mask_storeu_ps(o, lanes, out);
    }
}

[[gnu::noinline]] void cho_rows(const GruStepArgs& a) {
    const Epilogue ep(a);
    const std::size_t tiles = tiles_for(a.hidden);
    for (std::size_t t = 0; t < tiles; ++t)
        for_row_blocks(
            a.rows, [&](std::size_t m) { cho_zr_rows_of_tile<8>(a, ep, m, t); },
            [&](std::size_t m) { cho_zr_rows_of_tile<4>(a, ep, m, t); },
            [&](std::size_t m) { cho_zr_rows_of_tile<1>(a, ep, m, t); });
    for (std::size_t t = 0; t < tiles; t += 2)
        for_row_blocks(
            a.rows, [&](std::size_t m) { cho_n_rows_of_tile_pair<8>(a, ep, m, t); },
            [&](std::size_t m) { cho_n_rows_of_tile_pair<4>(a, ep, m, t); },
            [&](std::size_t m) { cho_n_rows_of_tile_pair<1>(a, ep, m, t); });
}

// Rows of a small layer, in functions of their own: their short prologue is part of every step.
template <bool Fast>
[[gnu::noinline]] void lbr_one_tile_rows(const GruStepArgs& a) {
    const FixedEpilogue<Fast> ep;
    for (std::size_t m = 0; m < a.rows; ++m) lbr_row_one_tile(a, ep, m);
}

template <int NT, unsigned XOdd, bool Fast>
[[gnu::noinline]] void lbr_gate_major_rows(const GruStepArgs& a) {
    const FixedEpilogue<Fast> ep;
    for (std::size_t m = 0; m < a.rows; ++m) lbr_row_gate_major<NT, XOdd>(a, ep, m);
}

// The input rows' alignment (pair_products' Odd): tiles start on a line (none), 32 bytes into one
// (all), or every other one (when input + hidden is odd); any other pattern (a misaligned
// buffer) runs as none, correct and slower.
template <int NT, bool Fast>
void lbr_gate_major_rows(const GruStepArgs& a) {
    constexpr unsigned all = (1u << NT) - 1, alt_1 = 0xau & all, alt_0 = 0x5u & all;
    const unsigned odd = odd_tiles<NT>(a.w, a.tile_stride);
    if (odd == all) return lbr_gate_major_rows<NT, all, Fast>(a);
    if (odd == alt_1) return lbr_gate_major_rows<NT, alt_1, Fast>(a);
    if (odd == alt_0) return lbr_gate_major_rows<NT, alt_0, Fast>(a);
    return lbr_gate_major_rows<NT, 0, Fast>(a);
}

template <int NT>
void lbr_gate_major_rows(const GruStepArgs& a) {
    return a.fast ? lbr_gate_major_rows<NT, true>(a) : lbr_gate_major_rows<NT, false>(a);
}

[[gnu::noinline]] void lbr_rows(const GruStepArgs& a) {
    const Epilogue ep(a);
    if (a.rows >= 4) return lbr_step_fused_rows(a, ep);
    const std::size_t tiles = (a.hidden + kTile - 1) / kTile;
    // (1 to 3 rows, each row's results as alone, so predict may split them; 3 as 2 + 1: 3 rows
    // together measured ~25% faster than that at I = H = 256 but took another 93 KB of code)
    if (a.rows >= 2) lbr_rows_few<2>(a, ep, 0, tiles);
    if (a.rows % 2) lbr_rows_few<1>(a, ep, a.rows - 1, tiles);
}

}  // namespace

void gru_step_reset_after_f32_avx512(const GruStepArgs& a) {
    // Small layers (a clip runs the general path; so does a layer without its gate-major copy).
    const std::size_t tiles = tiles_for(a.hidden);
    if (a.rows < 4 && !(a.clip > 0.0f) && (tiles == 1 || (a.w_gate_major && uses_gate_major(a.hidden)))) {
        switch (tiles) {
            case 1: a.fast ? lbr_one_tile_rows<true>(a) : lbr_one_tile_rows<false>(a); break;
            case 2: lbr_gate_major_rows<2>(a); break;
            case 3: lbr_gate_major_rows<3>(a); break;
            default: lbr_gate_major_rows<4>(a); break;
        }
    } else {
        lbr_rows(a);
    }
    // GCC leaves out vzeroupper on some of the paths above; the caller's SSE code (the library's
    // own generic code included) would then run with the upper halves dirty.
    _mm256_zeroupper();
}

// The Cho form: batches of 4+ rows here (cho_rows), fewer rows the AVX2 kernel's per-row passes.
void gru_step_reset_before_f32_avx2(const GruStepArgs& a);
void gru_step_reset_before_f32_avx512(const GruStepArgs& a) {
    if (a.rows >= kStepGemmRows && a.scratch) cho_rows(a);
    else gru_step_reset_before_f32_avx2(a);
    _mm256_zeroupper();
}

}  // namespace gru_infer

#include "kernels/simd/avx512_target_end.h"
#endif  // x86-64
