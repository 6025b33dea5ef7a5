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

    // acc[j][s][hh] += sub s of block t0 + j (half hh) times the prepared row v (Avx2QOps::products;
    // Wide: fp16 from its widened copy, the same values, so the same FMAs).
    template <int TG, int NH, bool HwFtz, bool Wide>
    [[gnu::always_inline]] static void products(const QuantGru& g, const QMatrix& m, std::size_t t0, const char* v, Acc (&acc)[TG][3][2]) {
        constexpr std::size_t kStep = Wt::template step<Wide>();
        const std::size_t bb = Wt::template block_bytes<Wide>(m), groups = m.groups();
        const char* base = Wt::template bytes<Wide>(g, m) + t0 * bb;
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * 3 * kStep;
            if constexpr (F == WeightFormat::Int8) {
                const __m256i ones = _mm256_set1_epi16(1);
                const __m256i xb = _mm256_set1_epi32(Ops::avx2_load32(v + q * 4)), ax = _mm256_sign_epi8(xb, xb);
                for (int j = 0; j < TG; ++j)
                    for (int s = 0; s < 3; ++s)
                        for (int hh = 0; hh < NH; ++hh) {
                            const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + j * bb + s * kStep + 32 * hh));
                            const __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xb));
                            acc[j][s][hh] = _mm256_add_epi32(acc[j][s][hh], _mm256_madd_epi16(p, ones));
                        }
            } else if constexpr (F == WeightFormat::BF16) {
                const __m256i odd = _mm256_set1_epi32(int(0xffff0000u));
                const __m256i xp = _mm256_set1_epi32(Ops::avx2_load32(v + q * 4));
                const __m256 x0 = _mm256_castsi256_ps(_mm256_slli_epi32(xp, 16)), x1 = _mm256_castsi256_ps(_mm256_and_si256(xp, odd));
                for (int j = 0; j < TG; ++j)
                    for (int s = 0; s < 3; ++s)
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
                    for (int s = 0; s < 3; ++s)
                        for (int hh = 0; hh < NH; ++hh) {
                            const char* p = wq + j * bb + s * kStep;
                            const __m256 w = Wide ? _mm256_load_ps(reinterpret_cast<const float*>(p + 32 * hh))
                                                  : _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p + 16 * hh)));
                            acc[j][s][hh] = _mm256_fmadd_ps(xb, w, acc[j][s][hh]);
                        }
            }
        }
    }

    // init + the products of m and v (scale sv), as Avx2QOps::block.
    template <int TG, int NH, bool HwFtz, bool Wide = false>
    [[gnu::always_inline]] static void dot(const QuantGru& w, const QMatrix& m, std::size_t t0, const char* v, float sv,
                                           const __m256 (&init)[TG][3][2], __m256 (&out)[TG][3][2]) {
        if constexpr (F == WeightFormat::F16 && !Wide)
            if (Wt::wide(w, m)) return dot<TG, NH, HwFtz, true>(w, m, t0, v, sv, init, out);
        Acc acc[TG][3][2];
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s)
                for (int hh = 0; hh < NH; ++hh) {
                    if constexpr (F == WeightFormat::Int8) acc[j][s][hh] = _mm256_setzero_si256();
                    else if constexpr (F == WeightFormat::BF16) acc[j][s][hh] = Ops::ftz(init[j][s][hh]);  // as vdpbf16ps reads it
                    else acc[j][s][hh] = init[j][s][hh];
                }
        products<TG, NH, HwFtz, Wide>(w, m, t0, v, acc);
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s)
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

    // Tiles t0..t0+TG of row m (NH halves of each): as Avx512QSmall::tiles.
    template <int TG, int NH, bool HwFtz>
    static void tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m, std::size_t t0,
                      const QAct& act) {
        const QuantGru& w = *a.w;
        __m256 A[TG][3][2], B[TG][3][2];
        auto at = [&](int j, int s, int hh) { return (t0 + j) * kQTileRow + s * kQLanes + 8 * hh; };
        if (a.x) {
            __m256 bx[TG][3][2];
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s)
                    for (int hh = 0; hh < NH; ++hh) bx[j][s][hh] = _mm256_loadu_ps(w.bx.data() + at(j, s, hh));
            dot<TG, NH, HwFtz>(w, w.W, t0, row.xq, row.sx, bx, A);
        } else {
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s)
                    for (int hh = 0; hh < NH; ++hh) A[j][s][hh] = _mm256_loadu_ps(a.xp + m * a.ldxp + at(j, s, hh));
        }
        for (int j = 0; j < TG; ++j)
            for (int hh = 0; hh < NH; ++hh) {
                B[j][0][hh] = _mm256_add_ps(A[j][0][hh], _mm256_loadu_ps(w.bh.data() + at(j, 0, hh)));
                B[j][1][hh] = _mm256_add_ps(A[j][1][hh], _mm256_loadu_ps(w.bh.data() + at(j, 1, hh)));
                B[j][2][hh] = _mm256_loadu_ps(w.bh.data() + at(j, 2, hh));
            }
        dot<TG, NH, HwFtz>(w, w.R, t0, row.hq, row.sh, B, B);
        // A and B where QuantStep leaves them (the tests compare them; the gates hide last bits).
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s)
                for (int hh = 0; hh < NH; ++hh) {
                    if (a.x) _mm256_store_ps(row.pre + L.a / sizeof(float) + at(j, s, hh), A[j][s][hh]);
                    _mm256_store_ps(row.pre + L.b / sizeof(float) + at(j, s, hh), B[j][s][hh]);
                }
        if (NH == 1)  // the lanes past a layer of 8 units: zero products of zero weights
            for (int s = 0; s < 3; ++s) {
                if (a.x) _mm256_store_ps(row.pre + L.a / sizeof(float) + at(0, s, 1), _mm256_setzero_ps());
                _mm256_store_ps(row.pre + L.b / sizeof(float) + at(0, s, 1), _mm256_setzero_ps());
            }
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

    template <int NH, bool HwFtz>
    static void row(const QGruStepArgs& a, const QStepScratch& L, char* S, std::size_t m, const QAct& act) {
        const QuantGru& w = *a.w;
        const QSmallRow row = QSmallRow::prepare<Ops, F>(a, L, S, m);
        if (NH == 1) return tiles<1, 1, HwFtz>(a, L, row, m, 0, act);
        for (std::size_t t0 = 0; t0 < w.tiles; t0 += 2) {
            if (w.tiles - t0 == 1) tiles<1, 2, HwFtz>(a, L, row, m, t0, act);
            else tiles<2, 2, HwFtz>(a, L, row, m, t0, act);
        }
    }

    template <bool HwFtz>
    static void rows(const QGruStepArgs& a) {
        const QStepScratch L(*a.w);
        char* S = static_cast<char*>(a.scratch);
        const QAct act{a.clip, a.fast};
        for (std::size_t m = 0; m < a.rows; ++m) {
            if (a.w->hidden <= 8) row<1, HwFtz>(a, L, S, m, act);
            else row<2, HwFtz>(a, L, S, m, act);
        }
    }

    // The step, or false (nothing done) when the layer or batch is not small.
    static bool lbr(const QGruStepArgs& a) {
        if (!Wt::small_ready(a)) return false;
        // bf16: with FTZ and DAZ set (as predict and Stream run the kernels) the FMAs flush by themselves.
        if (F == WeightFormat::BF16 && FlushDenormals::active()) rows<true>(a);
        else rows<false>(a);
        return true;
    }
};

}  // namespace gru_infer
