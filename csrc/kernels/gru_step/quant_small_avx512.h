// The reduced-precision lbr step of small layers (1 to 3 rows, at most kQSmallTiles tiles: H <= 128)
// on AVX-512: per row, the input and state prepared once (Ops::prepare, as QuantStep), then up to
// four tiles at a time with their products, the dequantization and the gates in registers, no
// scratch round-trip of the pre-activations and none of QuantStep's chunk and pass loops. The
// same operations as QuantStep::lbr over Avx512QOps (block(), input_part, lbr_gates), value for
// value, so the same results bit for bit (test_quant_kernels.cpp). Include after the format's
// target pragma.
#pragma once
#include <type_traits>

#include "../simd/avx2_math.h"
#include "../simd/qops_avx512.h"
#include "quant_small.h"

namespace gru_infer {

template <WeightFormat F>
struct Avx512QSmall {
    using Ops = Avx512QOps<F>;
    using Acc = std::conditional_t<F == WeightFormat::Int8, __m512i, __m512>;
    using Wt = QSmallWeights<F>;

    static_assert(F != WeightFormat::F16, "fp16 layers of this size run the fp32 kernels on AVX-512");

    // acc[j][s] += sub s of block t0 + j times the prepared row v, over all groups (Avx512QOps::products).
    template <int TG, int S0, int NS>
    [[gnu::always_inline]] static void products(const QMatrix& m, std::size_t t0, const char* v, Acc (&acc)[TG][3]) {
        constexpr std::size_t kStep = 64;  // bytes of one (group, sub)
        const std::size_t bb = m.block_bytes(), groups = m.groups();
        const char* base = static_cast<const char*>(m.bytes()) + t0 * bb;
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * 3 * kStep;
            if constexpr (F == WeightFormat::Int8) {
                const __m512i xb = _mm512_set1_epi32(avx512q::load32(v + q * 4));
                for (int j = 0; j < TG; ++j)
                    for (int s = S0; s < S0 + NS; ++s)
                        acc[j][s] = avx512q::dpbusd(acc[j][s], xb, _mm512_load_si512(wq + j * bb + s * kStep));
            } else {
                const __m512i xi = _mm512_set1_epi32(avx512q::load32(v + q * 4));
                __m512bh xb;
                std::memcpy(&xb, &xi, 64);
                for (int j = 0; j < TG; ++j)
                    for (int s = S0; s < S0 + NS; ++s) {
                        const __m512i wi = _mm512_load_si512(wq + j * bb + s * kStep);
                        __m512bh w;
                        std::memcpy(&w, &wi, 64);
                        acc[j][s] = _mm512_dpbf16_ps(acc[j][s], xb, w);
                    }
            }
        }
    }

    // init + the products of m (rows of blocks t0..t0+TG) and v (scale sv), as Avx512QOps::block.
    // Subs S0..S0+NS only (the others of out untouched).
    template <int TG, int S0 = 0, int NS = 3>
    [[gnu::always_inline]] static void dot(const QMatrix& m, std::size_t t0, const char* v, float sv,
                                           const __m512 (&init)[TG][3], __m512 (&out)[TG][3]) {
        Acc acc[TG][3];
        for (int j = 0; j < TG; ++j)
            for (int s = S0; s < S0 + NS; ++s) {
                if constexpr (F == WeightFormat::Int8) acc[j][s] = _mm512_setzero_si512();
                else acc[j][s] = init[j][s];
            }
        products<TG, S0, NS>(m, t0, v, acc);
        for (int j = 0; j < TG; ++j)
            for (int s = S0; s < S0 + NS; ++s) {
                if constexpr (F == WeightFormat::Int8) {
                    const std::size_t p = ((t0 + j) * 3 + s) * kQLanes;
                    const __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(m.rowsums() + p), 7);
                    const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[j][s], corr));
                    const __m512 sc = _mm512_mul_ps(_mm512_loadu_ps(m.scales() + p), _mm512_set1_ps(sv));
                    out[j][s] = _mm512_fmadd_ps(f, sc, init[j][s]);
                } else {
                    out[j][s] = acc[j][s];
                }
            }
    }

    // A of tiles t0..t0+TG of row m: the input product, or the projected input; and B's start:
    // z and r from A plus bh, n from bh (QuantStep::input_part). A is stored where QuantStep
    // leaves it (a few stores: the tests compare the pre-activations, the gates hide last bits).
    template <int TG>
    [[gnu::always_inline]] static void inputs(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m,
                                              std::size_t t0, __m512 (&A)[TG][3], __m512 (&B)[TG][3]) {
        const QuantGru& w = *a.w;
        if (a.x) {
            __m512 bx[TG][3];
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s) bx[j][s] = _mm512_loadu_ps(w.bx.data() + (t0 + j) * kQTileRow + s * kQLanes);
            dot<TG>(w.W, t0, row.xq, row.sx, bx, A);
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s) _mm512_store_ps(row.pre + L.a / sizeof(float) + (t0 + j) * kQTileRow + s * kQLanes, A[j][s]);
        } else {
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s) A[j][s] = _mm512_loadu_ps(a.xp + m * a.ldxp + (t0 + j) * kQTileRow + s * kQLanes);
        }
        for (int j = 0; j < TG; ++j) {
            const float* bh = w.bh.data() + (t0 + j) * kQTileRow;
            B[j][0] = _mm512_add_ps(A[j][0], _mm512_loadu_ps(bh));
            B[j][1] = _mm512_add_ps(A[j][1], _mm512_loadu_ps(bh + kQLanes));
            B[j][2] = _mm512_loadu_ps(bh + 2 * kQLanes);
        }
    }
    static float* pre_b(const QStepScratch& L, const QSmallRow& row, std::size_t t, int s) {
        return row.pre + L.b / sizeof(float) + t * kQTileRow + s * kQLanes;
    }

    // Ops::f and Ops::g on 8 lanes (a layer of at most 8 units): the same operations lane for lane
    // (avx2's fast forms are avx512's on ymm), half the work and a shorter division on the step's chain.
    static __m256 clip8(__m256 v, const QAct& a) {
        return a.clip > 0.0f ? _mm256_min_ps(_mm256_set1_ps(a.clip), _mm256_max_ps(_mm256_set1_ps(-a.clip), v)) : v;
    }
    static __m256 f8(__m256 v, const QAct& a) { return a.fast ? avx2::fast_sigmoid(clip8(v, a)) : avx512::sigmoid(clip8(v, a)); }
    static __m256 g8(__m256 v, const QAct& a) { return a.fast ? avx2::fast_tanh(clip8(v, a)) : avx512::tanh(clip8(v, a)); }
    static __m256 lo8(__m512 v) { return _mm512_castps512_ps256(v); }
    static __m256 load8(const float* p, std::size_t n) {
        return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskz_loadu_ps(__mmask8((1u << n) - 1), p);
    }
    static void store8(float* p, __m256 v, std::size_t n) {
        if (n >= 8) _mm256_storeu_ps(p, v);
        else _mm256_mask_storeu_ps(p, __mmask8((1u << n) - 1), v);
    }

    // Tiles t0..t0+TG of row m: inputs, the recurrent product, the gates (lbr_gates); Half: one
    // tile of at most 8 units, gates on 8 lanes.
    template <int TG, bool Half = false>
    static void tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m, std::size_t t0,
                      const QAct& act) {
        const QuantGru& w = *a.w;
        __m512 A[TG][3], B[TG][3];
        inputs<TG>(a, L, row, m, t0, A, B);
        dot<TG>(w.R, t0, row.hq, row.sh, B, B);
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s) _mm512_store_ps(pre_b(L, row, t0 + j, s), B[j][s]);
        const float* h = a.h + m * a.ldh;
        float* out = a.h_out + m * a.ldo;
        if constexpr (Half) {
            const __m256 z = f8(lo8(B[0][0]), act), r = f8(lo8(B[0][1]), act);
            const __m256 n = g8(_mm256_fmadd_ps(r, lo8(B[0][2]), lo8(A[0][2])), act);
            store8(out, _mm256_fmadd_ps(z, _mm256_sub_ps(load8(h, w.hidden), n), n), w.hidden);
            return;
        }
        for (int j = 0; j < TG; ++j) {
            const std::size_t u0 = (t0 + j) * kQLanes, lanes = w.hidden - u0;
            const __m512 z = Ops::f(B[j][0], act), r = Ops::f(B[j][1], act);
            const __m512 n = Ops::g(_mm512_fmadd_ps(r, B[j][2], A[j][2]), act);
            avx512q::store_upto16(out + u0, _mm512_fmadd_ps(z, _mm512_sub_ps(avx512q::load_upto16(h + u0, lanes), n), n), lanes);
        }
    }

    // The reset_before form (QuantStep::cho), first half for tiles t0..t0+TG of row m: inputs,
    // z and r's recurrent products, z activated into B (as cho_zr), r h into rh; B's n from bh.
    template <int TG>
    static void cho_zr_tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m,
                             std::size_t t0, const QAct& act) {
        const QuantGru& w = *a.w;
        __m512 A[TG][3], B[TG][3];
        inputs<TG>(a, L, row, m, t0, A, B);
        dot<TG, 0, 2>(w.R, t0, row.hq, row.sh, B, B);
        const float* h = a.h + m * a.ldh;
        float* rh = row.pre + L.rh / sizeof(float);
        for (int j = 0; j < TG; ++j) {
            const std::size_t t = t0 + j, u0 = t * kQLanes;
            _mm512_store_ps(pre_b(L, row, t, 0), Ops::f(B[j][0], act));
            _mm512_store_ps(pre_b(L, row, t, 1), B[j][1]);
            _mm512_store_ps(pre_b(L, row, t, 2), B[j][2]);
            const __mmask16 k = avx512q::lane_mask(w.hidden - u0);
            _mm512_store_ps(rh + u0, _mm512_maskz_mul_ps(k, Ops::f(B[j][1], act), avx512q::load_upto16(h + u0, w.hidden - u0)));
        }
    }

    // Second half (cho's Rn (r h) + bh and cho_out) for tiles t0..t0+TG; rhq and srh: r h prepared.
    template <int TG>
    static void cho_n_tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m,
                            std::size_t t0, const char* rhq, float srh, const QAct& act) {
        const QuantGru& w = *a.w;
        __m512 B[TG][3];
        for (int j = 0; j < TG; ++j) B[j][2] = _mm512_load_ps(pre_b(L, row, t0 + j, 2));
        dot<TG, 2, 1>(w.R, t0, rhq, srh, B, B);
        const float* h = a.h + m * a.ldh;
        float* out = a.h_out + m * a.ldo;
        for (int j = 0; j < TG; ++j) {
            const std::size_t t = t0 + j, u0 = t * kQLanes, lanes = w.hidden - u0;
            _mm512_store_ps(pre_b(L, row, t, 2), B[j][2]);
            const float* nx = (a.x ? row.pre + L.a / sizeof(float) : a.xp + m * a.ldxp) + t * kQTileRow + 2 * kQLanes;
            const __m512 n = Ops::g(_mm512_add_ps(_mm512_loadu_ps(nx), B[j][2]), act);
            const __m512 z = _mm512_load_ps(pre_b(L, row, t, 0));
            avx512q::store_upto16(out + u0, _mm512_fmadd_ps(z, _mm512_sub_ps(avx512q::load_upto16(h + u0, lanes), n), n), lanes);
        }
    }

    // run(TG, t0) over a row's tiles, up to four at a time.
    template <class Tiles>
    [[gnu::always_inline]] static void groups_of_four(std::size_t tiles, Tiles&& run) {
        for (std::size_t t0 = 0; t0 < tiles; t0 += 4) {
            switch (tiles - t0) {
                case 1: run(std::integral_constant<int, 1>{}, t0); break;
                case 2: run(std::integral_constant<int, 2>{}, t0); break;
                case 3: run(std::integral_constant<int, 3>{}, t0); break;
                default: run(std::integral_constant<int, 4>{}, t0); break;
            }
        }
    }

    // The steps, or false (nothing done) when the layer or batch is not small.
    static bool cho(const QGruStepArgs& a) {
        if (!Wt::small_ready(a)) return false;
        q_small_rows<Ops, F>(a, [&](const QStepScratch& L, char* S, const QSmallRow& row, std::size_t m, const QAct& act) {
            const QuantGru& w = *a.w;
            groups_of_four(w.tiles, [&](auto tg, std::size_t t0) { cho_zr_tiles<decltype(tg)::value>(a, L, row, m, t0, act); });
            const QSmallRow rh = QSmallRow::prepare_rh<Ops, F>(w, L, S, m);
            groups_of_four(w.tiles, [&](auto tg, std::size_t t0) { cho_n_tiles<decltype(tg)::value>(a, L, row, m, t0, rh.hq, rh.sh, act); });
        });
        return true;
    }
    static bool lbr(const QGruStepArgs& a) {
        if (!Wt::small_ready(a)) return false;
        q_small_rows<Ops, F>(a, [&](const QStepScratch& L, char*, const QSmallRow& row, std::size_t m, const QAct& act) {
            if (a.w->hidden <= 8) tiles<1, true>(a, L, row, m, 0, act);
            else groups_of_four(a.w->tiles, [&](auto tg, std::size_t t0) { tiles<decltype(tg)::value>(a, L, row, m, t0, act); });
        });
        return true;
    }
};

}  // namespace gru_infer
