// The reduced-precision lbr step of small layers on AVX2, as quant_small_avx512.h: per row, the
// input and state prepared once (Ops::prepare), then up to two tiles at a time (16 lanes = two ymm
// halves; one half for a layer of at most 8 units) with their products, dequantization and gates
// in registers. The same operations as QuantStep::lbr over Avx2QOps (block(), input_part,
// lbr_gates), so the same results bit for bit. Include after the AVX2 target pragma.
#pragma once
#include <type_traits>

#include "../simd/qops_avx2.h"
#include "quant_small.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"  // vector types as template arguments (Acc)
#endif

namespace gru_infer {

template <WeightFormat F>
struct Avx2QSmall {
    using Ops = Avx2QOps<F>;
    using Acc = std::conditional_t<F == WeightFormat::Int8, __m256i, __m256>;
    using Wt = QSmallWeights<F>;

    // acc[j][s][hh] += sub s of block t0 + j (half hh) times the prepared row v (Avx2QOps::products).
    // int8 sums of tiles J0..J0+TJ (of TG) over all groups.
    template <int TG, int NH, int S0, int NS, int J0, int TJ>
    [[gnu::always_inline]] static void int8_products(const char* base, std::size_t bb, std::size_t groups, const char* v,
                                                     __m256i (&acc)[TG][3][2]) {
        constexpr std::size_t kStep = Wt::step();
        const __m256i ones = _mm256_set1_epi16(1);
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * 3 * kStep;
            const __m256i xb = _mm256_set1_epi32(Ops::avx2_load32(v + q * 4)), ax = _mm256_sign_epi8(xb, xb);
            for (int j = J0; j < J0 + TJ; ++j)
                for (int s = S0; s < S0 + NS; ++s)
                    for (int hh = 0; hh < NH; ++hh) {
                        const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + j * bb + s * kStep + 32 * hh));
                        const __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xb));
                        acc[j][s][hh] = _mm256_add_epi32(acc[j][s][hh], _mm256_madd_epi16(p, ones));
                    }
        }
    }

    template <int TG, int NH, bool HwFtz, int S0, int NS>
    [[gnu::always_inline]] static void products(const QMatrix& m, std::size_t t0, const char* v, Acc (&acc)[TG][3][2]) {
        const std::size_t bb = m.block_bytes(), groups = m.groups();
        const char* base = static_cast<const char*>(m.bytes()) + t0 * bb;
        if constexpr (F == WeightFormat::Int8) {
            // 8 or 12 sums with their operands did not fit in 16 ymm registers (GCC kept 3 or 11 of
            // them in memory, a load and a store per product): then one pass over the groups per tile.
            static_assert(TG <= 2, "one or two tiles at a time");
            if constexpr (TG * NS * NH <= 6) {
                int8_products<TG, NH, S0, NS, 0, TG>(base, bb, groups, v, acc);
            } else {
                int8_products<TG, NH, S0, NS, 0, 1>(base, bb, groups, v, acc);
                int8_products<TG, NH, S0, NS, 1, 1>(base, bb, groups, v, acc);
            }
        } else {
            fp_products<TG, NH, HwFtz, S0, NS>(base, bb, groups, v, acc);
        }
    }

    // bf16 and fp16 sums of all TG tiles over all groups.
    template <int TG, int NH, bool HwFtz, int S0, int NS>
    [[gnu::always_inline]] static void fp_products(const char* base, std::size_t bb, std::size_t groups, const char* v,
                                                   __m256 (&acc)[TG][3][2]) {
        constexpr std::size_t kStep = Wt::step();
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * 3 * kStep;
            if constexpr (F == WeightFormat::BF16) {
                const __m256i odd = _mm256_set1_epi32(int(0xffff0000u));
                const __m256i xp = _mm256_set1_epi32(Ops::avx2_load32(v + q * 4));
                const __m256 x0 = _mm256_castsi256_ps(_mm256_slli_epi32(xp, 16)), x1 = _mm256_castsi256_ps(_mm256_and_si256(xp, odd));
                for (int j = 0; j < TG; ++j)
                    for (int s = S0; s < S0 + NS; ++s)
                        for (int hh = 0; hh < NH; ++hh) {
                            const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + j * bb + s * kStep + 32 * hh));
                            const __m256 w0 = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
                            const __m256 w1 = _mm256_castsi256_ps(_mm256_and_si256(w, odd));
                            if constexpr (HwFtz) {
                                acc[j][s][hh] = _mm256_fmadd_ps(x0, w0, _mm256_fmadd_ps(x1, w1, acc[j][s][hh]));
                            } else {
                                const __m256 r = Ops::ftz(_mm256_fmadd_ps(x1, w1, acc[j][s][hh]));
                                acc[j][s][hh] = Ops::ftz(_mm256_fmadd_ps(x0, w0, r));
                            }
                        }
            } else {
                const __m256 xb = _mm256_set1_ps(reinterpret_cast<const float*>(v)[q]);
                for (int j = 0; j < TG; ++j)
                    for (int s = S0; s < S0 + NS; ++s)
                        for (int hh = 0; hh < NH; ++hh) {
                            const char* p = wq + j * bb + s * kStep;
                            const __m256 w = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p + 16 * hh)));
                            acc[j][s][hh] = _mm256_fmadd_ps(xb, w, acc[j][s][hh]);
                        }
            }
        }
    }

    // init + the products of m and v (scale sv), as Avx2QOps::block; subs S0..S0+NS only.
    template <int TG, int NH, bool HwFtz, int S0 = 0, int NS = 3>
    [[gnu::always_inline]] static void dot(const QMatrix& m, std::size_t t0, const char* v, float sv,
                                           const __m256 (&init)[TG][3][2], __m256 (&out)[TG][3][2]) {
        Acc acc[TG][3][2];
        for (int j = 0; j < TG; ++j)
            for (int s = S0; s < S0 + NS; ++s)
                for (int hh = 0; hh < NH; ++hh) {
                    if constexpr (F == WeightFormat::Int8) acc[j][s][hh] = _mm256_setzero_si256();
                    else if constexpr (F == WeightFormat::BF16) acc[j][s][hh] = Ops::ftz(init[j][s][hh]);  // as vdpbf16ps reads it
                    else acc[j][s][hh] = init[j][s][hh];
                }
        products<TG, NH, HwFtz, S0, NS>(m, t0, v, acc);
        for (int j = 0; j < TG; ++j)
            for (int s = S0; s < S0 + NS; ++s)
                for (int hh = 0; hh < NH; ++hh) {
                    if constexpr (F == WeightFormat::Int8) {
                        const std::size_t p = ((t0 + j) * 3 + s) * kQLanes + 8 * hh;
                        const __m256 sc = _mm256_mul_ps(_mm256_loadu_ps(m.scales() + p), _mm256_set1_ps(sv));
                        out[j][s][hh] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[j][s][hh]), sc, init[j][s][hh]);
                    } else {
                        out[j][s][hh] = acc[j][s][hh];
                    }
                }
    }

    static std::size_t at(std::size_t t, int s, int hh) { return t * kQTileRow + s * kQLanes + 8 * hh; }

    // A of tiles t0..t0+TG of row m (NH halves of each) and B's start, A stored: as Avx512QSmall::inputs.
    template <int TG, int NH, bool HwFtz>
    [[gnu::always_inline]] static void inputs(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m,
                                              std::size_t t0, __m256 (&A)[TG][3][2], __m256 (&B)[TG][3][2]) {
        const QuantGru& w = *a.w;
        if (a.x) {
            __m256 bx[TG][3][2];
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s)
                    for (int hh = 0; hh < NH; ++hh) bx[j][s][hh] = _mm256_loadu_ps(w.bx.data() + at(t0 + j, s, hh));
            dot<TG, NH, HwFtz>(w.W, t0, row.xq, row.sx, bx, A);
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s)
                    for (int hh = 0; hh < 2; ++hh)  // (the lanes past a layer of 8 units: zero products of zero weights)
                        _mm256_store_ps(row.pre + L.a / sizeof(float) + at(t0 + j, s, hh), hh < NH ? A[j][s][hh] : _mm256_setzero_ps());
        } else {
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s)
                    for (int hh = 0; hh < NH; ++hh) A[j][s][hh] = _mm256_loadu_ps(a.xp + m * a.ldxp + at(t0 + j, s, hh));
        }
        for (int j = 0; j < TG; ++j)
            for (int hh = 0; hh < NH; ++hh) {
                B[j][0][hh] = _mm256_add_ps(A[j][0][hh], _mm256_loadu_ps(w.bh.data() + at(t0 + j, 0, hh)));
                B[j][1][hh] = _mm256_add_ps(A[j][1][hh], _mm256_loadu_ps(w.bh.data() + at(t0 + j, 1, hh)));
                B[j][2][hh] = _mm256_loadu_ps(w.bh.data() + at(t0 + j, 2, hh));
            }
    }
    static float* pre_b(const QStepScratch& L, const QSmallRow& row, std::size_t t, int s, int hh) {
        return row.pre + L.b / sizeof(float) + at(t, s, hh);
    }

    // Tiles t0..t0+TG of row m (NH halves of each): as Avx512QSmall::tiles.
    template <int TG, int NH, bool HwFtz>
    static void tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m, std::size_t t0,
                      const QAct& act) {
        const QuantGru& w = *a.w;
        __m256 A[TG][3][2], B[TG][3][2];
        inputs<TG, NH, HwFtz>(a, L, row, m, t0, A, B);
        dot<TG, NH, HwFtz>(w.R, t0, row.hq, row.sh, B, B);
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s)
                for (int hh = 0; hh < 2; ++hh) _mm256_store_ps(pre_b(L, row, t0 + j, s, hh), hh < NH ? B[j][s][hh] : _mm256_setzero_ps());
        const float* h = a.h + m * a.ldh;
        float* out = a.h_out + m * a.ldo;
        for (int j = 0; j < TG; ++j) {
            const std::size_t u0 = (t0 + j) * kQLanes, lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
            for (int hh = 0; hh < NH; ++hh) {
                const std::size_t n = Ops::half_lanes(lanes, hh), o = u0 + 8 * hh;
                if (!n) break;
                const __m256 z = Ops::f(B[j][0][hh], act), r = Ops::f(B[j][1][hh], act);
                const __m256 c = Ops::g(_mm256_fmadd_ps(r, B[j][2][hh], A[j][2][hh]), act);
                Ops::store_h(out + o, _mm256_fmadd_ps(z, _mm256_sub_ps(Ops::load_h(h + o, n), c), c), n);
            }
        }
    }

    // The reset_before form's first half (as Avx512QSmall::cho_zr_tiles, Avx2QOps::cho_zr).
    template <int TG, int NH, bool HwFtz>
    static void cho_zr_tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m,
                             std::size_t t0, const QAct& act) {
        const QuantGru& w = *a.w;
        __m256 A[TG][3][2], B[TG][3][2];
        inputs<TG, NH, HwFtz>(a, L, row, m, t0, A, B);
        dot<TG, NH, HwFtz, 0, 2>(w.R, t0, row.hq, row.sh, B, B);
        const float* h = a.h + m * a.ldh;
        float* rh = row.pre + L.rh / sizeof(float);
        for (int j = 0; j < TG; ++j) {
            const std::size_t t = t0 + j, u0 = t * kQLanes, lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
            for (int hh = 0; hh < 2; ++hh) {  // past NH: a layer of 8 units' zero pre-activations (z: f(0))
                const __m256 zp = hh < NH ? B[j][0][hh] : _mm256_setzero_ps(), rp = hh < NH ? B[j][1][hh] : _mm256_setzero_ps();
                _mm256_store_ps(pre_b(L, row, t, 0, hh), Ops::f(zp, act));
                _mm256_store_ps(pre_b(L, row, t, 1, hh), rp);
                _mm256_store_ps(pre_b(L, row, t, 2, hh), hh < NH ? B[j][2][hh] : _mm256_setzero_ps());
                const std::size_t n = Ops::half_lanes(lanes, hh);
                _mm256_store_ps(rh + u0 + 8 * hh, n ? _mm256_and_ps(_mm256_mul_ps(Ops::f(rp, act), Ops::load_h(h + u0 + 8 * hh, n)),
                                                                     _mm256_castsi256_ps(avx2::tail_mask(n)))
                                                    : _mm256_setzero_ps());
            }
        }
    }

    // Second half (as Avx512QSmall::cho_n_tiles, Avx2QOps::cho_out).
    template <int TG, int NH, bool HwFtz>
    static void cho_n_tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m,
                            std::size_t t0, const char* rhq, float srh, const QAct& act) {
        const QuantGru& w = *a.w;
        __m256 B[TG][3][2];
        for (int j = 0; j < TG; ++j)
            for (int hh = 0; hh < NH; ++hh) B[j][2][hh] = _mm256_load_ps(pre_b(L, row, t0 + j, 2, hh));
        dot<TG, NH, HwFtz, 2, 1>(w.R, t0, rhq, srh, B, B);
        const float* h = a.h + m * a.ldh;
        float* out = a.h_out + m * a.ldo;
        for (int j = 0; j < TG; ++j) {
            const std::size_t t = t0 + j, u0 = t * kQLanes, lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
            const float* nx = (a.x ? row.pre + L.a / sizeof(float) : a.xp + m * a.ldxp) + t * kQTileRow + 2 * kQLanes;
            for (int hh = 0; hh < NH; ++hh) {
                _mm256_store_ps(pre_b(L, row, t, 2, hh), B[j][2][hh]);
                const std::size_t n = Ops::half_lanes(lanes, hh), o = u0 + 8 * hh;
                if (!n) continue;
                const __m256 c = Ops::g(_mm256_add_ps(_mm256_loadu_ps(nx + 8 * hh), B[j][2][hh]), act);
                Ops::store_h(out + o, _mm256_fmadd_ps(_mm256_load_ps(pre_b(L, row, t, 0, hh)), _mm256_sub_ps(Ops::load_h(h + o, n), c), c), n);
            }
        }
    }

    // run(TG, NH, t0) over a row's tiles, two at a time (one half for a layer of at most 8 units).
    template <class Run>
    [[gnu::always_inline]] static void groups_of_two(std::size_t hidden, std::size_t tiles, Run&& run) {
        using One = std::integral_constant<int, 1>;
        using Two = std::integral_constant<int, 2>;
        if (hidden <= 8) return run(One{}, One{}, 0);
        for (std::size_t t0 = 0; t0 < tiles; t0 += 2) {
            if (tiles - t0 == 1) run(One{}, Two{}, t0);
            else run(Two{}, Two{}, t0);
        }
    }

    template <bool HwFtz>
    static void lbr_rows(const QGruStepArgs& a) {
        q_small_rows<Ops, F>(a, [&](const QStepScratch& L, char*, const QSmallRow& row, std::size_t m, const QAct& act) {
            groups_of_two(a.w->hidden, a.w->tiles, [&](auto tg, auto nh, std::size_t t0) {
                tiles<decltype(tg)::value, decltype(nh)::value, HwFtz>(a, L, row, m, t0, act);
            });
        });
    }

    template <bool HwFtz>
    static void cho_rows(const QGruStepArgs& a) {
        q_small_rows<Ops, F>(a, [&](const QStepScratch& L, char* S, const QSmallRow& row, std::size_t m, const QAct& act) {
            const QuantGru& w = *a.w;
            groups_of_two(w.hidden, w.tiles, [&](auto tg, auto nh, std::size_t t0) {
                cho_zr_tiles<decltype(tg)::value, decltype(nh)::value, HwFtz>(a, L, row, m, t0, act);
            });
            const QSmallRow rh = QSmallRow::prepare_rh<Ops, F>(w, L, S, m);
            groups_of_two(w.hidden, w.tiles, [&](auto tg, auto nh, std::size_t t0) {
                cho_n_tiles<decltype(tg)::value, decltype(nh)::value, HwFtz>(a, L, row, m, t0, rh.hq, rh.sh, act);
            });
        });
    }

    // The steps, or false (nothing done) when the layer or batch is not small. bf16: with FTZ and
    // DAZ set (as predict and Stream run the kernels) the FMAs flush by themselves.
    static bool lbr(const QGruStepArgs& a) {
        if (!Wt::small_ready(a)) return false;
        if (F == WeightFormat::BF16 && FlushDenormals::active()) lbr_rows<true>(a);
        else lbr_rows<false>(a);
        return true;
    }
    static bool cho(const QGruStepArgs& a) {
        if (!Wt::small_ready(a)) return false;
        if (F == WeightFormat::BF16 && FlushDenormals::active()) cho_rows<true>(a);
        else cho_rows<false>(a);
        return true;
    }
};

}  // namespace gru_infer
