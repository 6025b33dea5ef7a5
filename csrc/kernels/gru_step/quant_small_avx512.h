// The reduced-precision lbr step of small layers (1 to 3 rows, at most kQSmallTiles tiles: H <= 128)
// on AVX-512: per row, the input and state prepared once (Ops::prepare, as QuantStep), then up to
// four tiles at a time with their products, the dequantization and the gates in registers, no
// scratch round-trip of the pre-activations and none of QuantStep's chunk and pass loops. The
// same operations as QuantStep::lbr over Avx512QOps (block(), input_part, lbr_gates), value for
// value, so the same results bit for bit (test_quant_kernels.cpp). Include after the format's
// target pragma.
#pragma once
#include <type_traits>

#include "../simd/qops_avx512.h"
#include "quant_small.h"

namespace gru_infer {

template <WeightFormat F>
struct Avx512QSmall {
    using Ops = Avx512QOps<F>;
    using Acc = std::conditional_t<F == WeightFormat::Int8, __m512i, __m512>;
    using Wt = QSmallWeights<F>;

    // acc[j][s] += sub s of block t0 + j times the prepared row v, over all groups (Avx512QOps::products;
    // Wide: fp16 from its widened copy, the same values, so the same FMAs).
    template <int TG, bool Wide>
    [[gnu::always_inline]] static void products(const QuantGru& g, const QMatrix& m, std::size_t t0, const char* v, Acc (&acc)[TG][3]) {
        constexpr std::size_t kStep = Wt::template step<Wide>();
        const std::size_t bb = Wt::template block_bytes<Wide>(m), groups = m.groups();
        const char* base = Wt::template bytes<Wide>(g, m) + t0 * bb;
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * 3 * kStep;
            if constexpr (F == WeightFormat::Int8) {
                const __m512i xb = _mm512_set1_epi32(avx512q::load32(v + q * 4));
                for (int j = 0; j < TG; ++j)
                    for (int s = 0; s < 3; ++s)
                        acc[j][s] = avx512q::dpbusd(acc[j][s], xb, _mm512_load_si512(wq + j * bb + s * kStep));
            } else if constexpr (F == WeightFormat::BF16) {
                const __m512i xi = _mm512_set1_epi32(avx512q::load32(v + q * 4));
                __m512bh xb;
                std::memcpy(&xb, &xi, 64);
                for (int j = 0; j < TG; ++j)
                    for (int s = 0; s < 3; ++s) {
                        const __m512i wi = _mm512_load_si512(wq + j * bb + s * kStep);
                        __m512bh w;
                        std::memcpy(&w, &wi, 64);
                        acc[j][s] = _mm512_dpbf16_ps(acc[j][s], xb, w);
                    }
            } else {
                const __m512 xb = _mm512_set1_ps(reinterpret_cast<const float*>(v)[q]);
                for (int j = 0; j < TG; ++j)
                    for (int s = 0; s < 3; ++s) {
                        const char* p = wq + j * bb + s * kStep;
                        const __m512 w = Wide ? _mm512_load_ps(reinterpret_cast<const float*>(p))
                                              : _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
                        acc[j][s] = _mm512_fmadd_ps(xb, w, acc[j][s]);
                    }
            }
        }
    }

    // init + the products of m (rows of blocks t0..t0+TG) and v (scale sv), as Avx512QOps::block.
    template <int TG, bool Wide = false>
    [[gnu::always_inline]] static void dot(const QuantGru& w, const QMatrix& m, std::size_t t0, const char* v, float sv,
                                           const __m512 (&init)[TG][3], __m512 (&out)[TG][3]) {
        if constexpr (F == WeightFormat::F16 && !Wide)
            if (Wt::wide(w, m)) return dot<TG, true>(w, m, t0, v, sv, init, out);
        Acc acc[TG][3];
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s) {
                if constexpr (F == WeightFormat::Int8) acc[j][s] = _mm512_setzero_si512();
                else acc[j][s] = init[j][s];
            }
        products<TG, Wide>(w, m, t0, v, acc);
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s) {
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

    // Tiles t0..t0+TG of row m: the input product (or the projected input), the recurrent one
    // from z and r's input part plus bh and n's bh (QuantStep::input_part), the gates (lbr_gates).
    template <int TG>
    static void tiles(const QGruStepArgs& a, const QStepScratch& L, const QSmallRow& row, std::size_t m, std::size_t t0,
                      const QAct& act) {
        const QuantGru& w = *a.w;
        __m512 A[TG][3], B[TG][3];
        if (a.x) {
            __m512 bx[TG][3];
            for (int j = 0; j < TG; ++j)
                for (int s = 0; s < 3; ++s) bx[j][s] = _mm512_loadu_ps(w.bx.data() + (t0 + j) * kQTileRow + s * kQLanes);
            dot<TG>(w, w.W, t0, row.xq, row.sx, bx, A);
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
        dot<TG>(w, w.R, t0, row.hq, row.sh, B, B);
        // A and B where QuantStep leaves them (a few stores: the tests compare them, the gates hide
        // a pre-activation's last bits).
        float* pa = row.pre + t0 * kQTileRow;
        for (int j = 0; j < TG; ++j)
            for (int s = 0; s < 3; ++s) {
                if (a.x) _mm512_store_ps(pa + L.a / sizeof(float) + j * kQTileRow + s * kQLanes, A[j][s]);
                _mm512_store_ps(pa + L.b / sizeof(float) + j * kQTileRow + s * kQLanes, B[j][s]);
            }
        const float* h = a.h + m * a.ldh;
        float* out = a.h_out + m * a.ldo;
        for (int j = 0; j < TG; ++j) {
            const std::size_t u0 = (t0 + j) * kQLanes, lanes = w.hidden - u0;
            const __m512 z = Ops::f(B[j][0], act), r = Ops::f(B[j][1], act);
            const __m512 n = Ops::g(_mm512_fmadd_ps(r, B[j][2], A[j][2]), act);
            avx512q::store_upto16(out + u0, _mm512_fmadd_ps(z, _mm512_sub_ps(avx512q::load_upto16(h + u0, lanes), n), n), lanes);
        }
    }

    // The step, or false (nothing done) when the layer or batch is not small.
    static bool lbr(const QGruStepArgs& a) {
        const QuantGru& w = *a.w;
        if (!Wt::small_ready(a)) return false;
        const QStepScratch L(w);
        char* S = static_cast<char*>(a.scratch);
        const QAct act{a.clip, a.fast};
        for (std::size_t m = 0; m < a.rows; ++m) {
            const QSmallRow row = QSmallRow::prepare<Ops, F>(a, L, S, m);
            for (std::size_t t0 = 0; t0 < w.tiles; t0 += 4) {
                switch (w.tiles - t0) {
                    case 1: tiles<1>(a, L, row, m, t0, act); break;
                    case 2: tiles<2>(a, L, row, m, t0, act); break;
                    case 3: tiles<3>(a, L, row, m, t0, act); break;
                    default: tiles<4>(a, L, row, m, t0, act); break;
                }
            }
        }
        return true;
    }
};

}  // namespace gru_infer
