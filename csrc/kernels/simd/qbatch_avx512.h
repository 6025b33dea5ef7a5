// AVX-512 reduced-precision batches (issue 24): the products of kQBatchRows+ rows (the input
// projection of a sequence batch, qgemm over B * T rows, and the steps of B rows) blocked as a
// GEMM: runs of NT blocks outermost, their weights (NT x 48 packed rows) loaded once from L2 and
// then kept in L1 while every group of MR rows goes through them (MR x NT x 3 accumulators in
// registers: 24). bf16 by vdpbf16ps (twice the MACs of an fp32 FMA, at the same rate on Zen 4),
// int8 by vpdpbusd. The lbr step fuses its gates: a tile's z, r and n sums go from registers
// through the gates straight into h_out (no pre-activation scratch). Rows are quantized / rounded
// once per step (QuantStep::prepare_rows). The arithmetic per output is quant_kernels.h's, in its
// order (blocking over rows and blocks changes no sum), so the results equal the scalar
// reference's bit for bit; fewer than kQBatchRows rows run Avx512QOps as before.
// Include after a target pragma with avx512f/bw/dq/vl, fma, f16c and the format's extension.
#pragma once
#include "qops_avx512.h"
#include "qpanel.h"

namespace gru_infer {

// fp16 batches as an fp32 GEMM on weights widened once per run of blocks (qpanel.h): vcvtph2ps
// per row group was slower than fp32 itself.
struct Avx512PanelVec {
    using T = __m512;
    static constexpr int kW = 16, kMaxVec = 3, kMR = 8;  // 8 rows x 3 accumulators, 3 weights, 1 input: 28 zmm
    static T zero() { return _mm512_setzero_ps(); }
    static T load(const float* p) { return _mm512_load_ps(p); }
    static T loadu(const float* p) { return _mm512_loadu_ps(p); }
    static void storeu(float* p, T v) { _mm512_storeu_ps(p, v); }
    static T bcast(const float* p) { return _mm512_set1_ps(*p); }
    static T fma(T a, T b, T c) {  // on registers (see avx512q::dpbusd)
        asm("vfmadd231ps %2, %1, %0" : "+v"(c) : "v"(a), "v"(b));
        return c;
    }
    // (fp16 only: AVX-512 bf16 batches run vdpbf16ps, not the panel.)
    template <WeightFormat F>
    static void widen16(const char* src, float* d0, float*) {
        static_assert(F == WeightFormat::F16, "the AVX-512 panel is for fp16");
        _mm512_store_ps(d0, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(src))));
    }
};

namespace avx512q {

// acc + vdpbf16ps(x, w) on registers (see dpbusd): the odd pair element first, as quant_kernels.h.
inline __m512 dpbf16(__m512 acc, __m512i x, __m512i w) {
    asm("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}

}  // namespace avx512q

template <WeightFormat F>
struct Avx512QBatchOps : Avx512QOps<F> {
    using Base = Avx512QOps<F>;
    using Acc = std::conditional_t<F == WeightFormat::Int8, __m512i, __m512>;
    static constexpr std::size_t kStep = F == WeightFormat::F16 ? 32 : 64;  // bytes of one (group, sub)

    // acc[(i * NT + j) * NS + s] += row i of v times sub s of block j over all groups: bf16 by
    // vdpbf16ps (Avx512QOps::products' intrinsic kept accumulators in memory), else Avx512QOps's.
    template <int MR, int NT, int NS>
    __attribute__((noinline)) static void products(const char* base, std::size_t bb, std::size_t S, std::size_t groups,
                                                   const char* v, std::size_t vs, Acc* io) {
        if constexpr (F != WeightFormat::BF16) {
            Base::template products<MR, NT, NS>(base, bb, S, groups, v, vs, io);
        } else {
            __m512 acc[MR][NT][NS];
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) acc[i][j][s] = io[(i * NT + j) * NS + s];
            for (std::size_t q = 0; q < groups; ++q) {
                const char* wq = base + q * S * kStep;
                __m512i xb[MR];
                for (int i = 0; i < MR; ++i) xb[i] = _mm512_set1_epi32(avx512q::load32(v + i * vs + q * 4));
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) {
                        const __m512i w = _mm512_load_si512(wq + j * bb + s * kStep);
                        for (int i = 0; i < MR; ++i) acc[i][j][s] = avx512q::dpbf16(acc[i][j][s], xb[i], w);
                    }
            }
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) io[(i * NT + j) * NS + s] = acc[i][j][s];
        }
    }

    // MR rows (from v, stride vs) x NT blocks from b0 x NS subs from s0: start(i, j, s) gives the
    // float start of an output vector (init; bf16 and fp16 accumulate from it, int8 adds it last),
    // then done(i, j, s, value) takes each finished output vector.
    template <int MR, int NT, int NS, class Start, class Done>
    static void tile(const QMatrix& m, std::size_t b0, std::size_t s0, const char* v, std::size_t vs, const float* sv,
                     std::size_t ldsv, Start&& start, Done&& done) {
        constexpr int N = MR * NT * NS;
        const std::size_t bb = m.block_bytes(), S = m.subs;
        const char* base = static_cast<const char*>(m.bytes()) + b0 * bb + s0 * kStep;
        auto pidx = [&](int j, int s) { return ((b0 + j) * S + s0 + s) * kQLanes; };
        Acc acc[N];
        if constexpr (F == WeightFormat::Int8) {  // from -128 x the row's weight sum: the u8 offset of x
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s) {
                    const __m512i c = _mm512_sub_epi32(_mm512_setzero_si512(),
                                                       _mm512_slli_epi32(_mm512_loadu_si512(m.rowsums() + pidx(j, s)), 7));
                    for (int i = 0; i < MR; ++i) acc[(i * NT + j) * NS + s] = c;
                }
        } else {
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) acc[(i * NT + j) * NS + s] = start(i, j, s);
        }
        products<MR, NT, NS>(base, bb, S, m.groups(), v, vs, acc);
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s) {
                    if constexpr (F == WeightFormat::Int8) {
                        const __m512 sc = _mm512_mul_ps(_mm512_loadu_ps(m.scales() + pidx(j, s)), _mm512_set1_ps(sv[i * ldsv]));
                        done(i, j, s, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[(i * NT + j) * NS + s]), sc, start(i, j, s)));
                    } else {
                        done(i, j, s, acc[(i * NT + j) * NS + s]);
                    }
                }
    }

    // The blocks of r in runs of NT (then one at a time), every row in groups of 4 (then 2, 1)
    // through each run before the next: f<MR, NT>(first block, first row).
    template <int NT, class F2>
    static void blocks_rows(QBlockRange r, std::size_t rows, F2&& f) {
        for_block_runs<NT>(r, [&](std::size_t b, bool whole) {
            auto over_rows = [&](auto nt) {
                std::size_t i = 0;
                for (; i + 4 <= rows; i += 4) f(std::integral_constant<int, 4>{}, nt, b, i);
                for (; i + 2 <= rows; i += 2) f(std::integral_constant<int, 2>{}, nt, b, i);
                for (; i < rows; ++i) f(std::integral_constant<int, 1>{}, nt, b, i);
            };
            if (whole) over_rows(std::integral_constant<int, NT>{});
            else over_rows(std::integral_constant<int, 1>{});
        });
    }

    template <int NS>
    static void dot_ns(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, const char* v,
                       std::size_t vs, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                       float* out, std::size_t ld_out) {
        constexpr int NT = NS == 3 ? 2 : NS == 2 ? 3 : 6;
        const std::size_t S = m.subs;
        blocks_rows<NT>(blocks, rows, [&](auto mr, auto nt, std::size_t b0, std::size_t r0) {
            constexpr int MR = decltype(mr)::value, T = decltype(nt)::value;
            auto p = [&](int j, int s) { return ((b0 + j) * S + s0 + s) * kQLanes; };
            tile<MR, T, NS>(
                m, b0, s0, v + r0 * vs, vs, sv + r0 * ldsv, ldsv,
                [&](int i, int j, int s) {
                    return init ? _mm512_loadu_ps(init + (r0 + i) * ld_init + p(j, s)) : _mm512_setzero_ps();
                },
                [&](int i, int j, int s, __m512 o) { _mm512_storeu_ps(out + (r0 + i) * ld_out + p(j, s), o); });
        });
    }

    // Avx512QOps::dot's contract; kQBatchRows+ rows blocked as above (the same values).
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        if constexpr (F == WeightFormat::F16) {
            if (rows >= kQBatchRows)
                return QPanel<Avx512PanelVec, F>::dot(m, blocks, rows, s0, ns, v, v_stride, init, ld_init, out, ld_out);
            Base::dot(m, blocks, rows, s0, ns, v, v_stride, sv, ldsv, init, ld_init, out, ld_out);
        } else {
            if (rows < kQBatchRows)
                return Base::dot(m, blocks, rows, s0, ns, v, v_stride, sv, ldsv, init, ld_init, out, ld_out);
            const char* vc = static_cast<const char*>(v);
            if (ns == 3) return dot_ns<3>(m, blocks, rows, s0, vc, v_stride, sv, ldsv, init, ld_init, out, ld_out);
            if (ns == 2) return dot_ns<2>(m, blocks, rows, s0, vc, v_stride, sv, ldsv, init, ld_init, out, ld_out);
            for (std::size_t s = s0; s < s0 + ns; ++s)
                dot_ns<1>(m, blocks, rows, s, vc, v_stride, sv, ldsv, init, ld_init, out, ld_out);
        }
    }

    // The lbr step of kQBatchRows+ rows (QuantStep::lbr's values): the input product first (fused
    // streaming: into scratch A, as qgemm would give it), then per run of blocks and group of rows
    // R h with B's start (z, r: input part + bh; n: bh) and the gates, from registers. The
    // pre-activations are also stored to scratch B, where QuantStep::lbr leaves them (the tests
    // compare them; a few percent of a step's stores). False (nothing done) for fewer rows.
    static bool lbr_rows(const QGruStepArgs& a) {
        if constexpr (F == WeightFormat::F16) return false;
        if (a.rows < kQBatchRows) return false;
        const QuantGru& w = *a.w;
        const QStepScratch L(w);
        char* S = static_cast<char*>(a.scratch);
        const std::size_t ldf = L.row_bytes / sizeof(float);
        std::size_t ldxp;
        const float* xp = QuantStep<Avx512QBatchOps>::lbr_rows_input(a, L, S, ldxp);
        const QAct act{a.clip, a.fast};
        const float* hs = reinterpret_cast<const float*>(S + L.sh);
        const char* hq = S + L.hq;
        float* B = reinterpret_cast<float*>(S + L.b);
        blocks_rows<2>(QBlockRange{0, w.tiles, a.walk_backward}, a.rows, [&](auto mr, auto nt, std::size_t b0, std::size_t r0) {
            constexpr int MR = decltype(mr)::value, NT = decltype(nt)::value;
            __m512 pre[MR][NT][3];
            tile<MR, NT, 3>(
                w.R, b0, 0, hq + r0 * L.row_bytes, L.row_bytes, hs + r0 * ldf, ldf,
                [&](int i, int j, int s) {
                    const std::size_t p = (b0 + j) * kQTileRow + s * kQLanes;
                    const __m512 bh = _mm512_load_ps(w.bh.data() + p);
                    return s == 2 ? bh : _mm512_add_ps(_mm512_loadu_ps(xp + (r0 + i) * ldxp + p), bh);
                },
                [&](int i, int j, int s, __m512 o) {
                    pre[i][j][s] = o;
                    _mm512_storeu_ps(B + (r0 + i) * ldf + (b0 + j) * kQTileRow + s * kQLanes, o);
                });
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j) {
                    const std::size_t t = b0 + j, m = r0 + i, u0 = t * kQLanes;
                    const std::size_t lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
                    const __mmask16 k = avx512q::lane_mask(lanes);
                    const __m512 nx = _mm512_loadu_ps(xp + m * ldxp + t * kQTileRow + 2 * kQLanes);
                    const __m512 h = _mm512_maskz_loadu_ps(k, a.h + m * a.ldh + u0);
                    _mm512_mask_storeu_ps(a.h_out + m * a.ldo + u0, k,
                                          Base::lbr_out(pre[i][j][0], pre[i][j][1], pre[i][j][2], nx, h, act));
                }
        });
        return true;
    }
};

}  // namespace gru_infer
