// AVX-512 operations of the reduced-precision kernels (QuantStep's Ops, gru_step/quant_step.h):
// int8 by vpdpbusd (inputs offset by 128 to u8, corrected exactly by 128 x the row's weight sum),
// bf16 by vdpbf16ps, fp16 by vcvtph2ps + FMA. Up to 24 independent accumulators: MR input rows x
// NT blocks x NS gates. Results equal ScalarQOps<F> bit for bit (qops_scalar.h).
// Include after a target pragma with avx512f/bw/dq/vl, fma, f16c and the format's extension.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cstdint>
#include <cstring>

#include "../gru_step/quant_step.h"
#include "../quant_kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
// As avx512_target_begin.h: GCC 12's AVX-512 intrinsics warn about their own undefined operands,
// and vector types as template arguments (avx512_math.h) drop their alignment attribute.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
#include "avx512_math.h"
#include "runtime/denormals.h"

namespace gru_infer {
namespace avx512q {

inline __mmask16 lane_mask(std::size_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// p[0..n) of a row (zeros past n, n >= 1), by plain loads where whole and store_upto16 by plain
// stores: a small layer's step reads the state row the last one just wrote, and a load does not
// forward from a masked store (it waits for the store to leave the core), nor a masked load well.
inline __m512 load_upto16(const float* p, std::size_t n) {
    if (n >= 16) return _mm512_loadu_ps(p);
    if (n < 8) return _mm512_maskz_loadu_ps(lane_mask(n), p);
    const __m512 lo = _mm512_zextps256_ps512(_mm256_loadu_ps(p));
    return n == 8 ? lo : _mm512_insertf32x8(lo, _mm256_maskz_loadu_ps(__mmask8((1u << (n - 8)) - 1), p + 8), 1);
}
inline void store_upto16(float* p, __m512 v, std::size_t n) {
    if (n >= 16) return _mm512_storeu_ps(p, v);
    if (n < 8) return _mm512_mask_storeu_ps(p, lane_mask(n), v);
    _mm256_storeu_ps(p, _mm512_castps512_ps256(v));
    if (n > 8) _mm256_mask_storeu_ps(p + 8, __mmask8((1u << (n - 8)) - 1), _mm512_extractf32x8_ps(v, 1));
}

// acc + vpdpbusd(x, w), as inline asm on registers: with the intrinsic, GCC 12 -O3 kept the
// accumulators of block() in memory (a store per product per group, four rows at once no faster
// than four single rows) or copied each to a fresh register and back every group.
inline __m512i dpbusd(__m512i acc, __m512i x, __m512i w) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}

inline std::int32_t load32(const char* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

}  // namespace avx512q

template <WeightFormat F>
struct Avx512QOps {
    static float prepare(const float* v, std::size_t n, std::size_t kpad, float s, void* dst) {
        using namespace avx512q;
        if constexpr (F == WeightFormat::Int8) {
            auto* q = static_cast<std::uint8_t*>(dst);
            float am = 0.0f;
            if (!(s > 0.0f)) {  // dynamic, or the state: the row's absmax
                __m512 amax = _mm512_setzero_ps();
                __mmask16 bad = 0;
                for (std::size_t k = 0; k < n; k += 16) {
                    const __m512 a = _mm512_abs_ps(load_upto16(v + k, n - k));
                    bad |= _mm512_cmp_ps_mask(a, _mm512_set1_ps(3.402823466e38f), _CMP_NLE_UQ);
                    amax = _mm512_max_ps(amax, a);
                }
                if (bad) {
                    std::memset(q, 128, kpad);
                    return NAN;
                }
                am = _mm512_reduce_max_ps(amax);
            }
            float inv;
            s = int8_row_scale(s, am, inv);
            const __m512 vi = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
            for (std::size_t k = 0; k < n; k += 16) {
                const __m512 y = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(load_upto16(v + k, n - k), vi), lo), hi);
                const __m512i u = _mm512_add_epi32(_mm512_cvtps_epi32(y), _mm512_set1_epi32(128));
                // Whole 16 bytes (128 past n), not a masked store: a masked store does not forward to
                // the step's 4-byte loads (a small layer's state row waited for it every step). Every
                // prepared row's room is rounded up to 64 bytes (QStepScratch, q_gemm_row_bytes).
                _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtepi32_epi8(u));
            }
            for (std::size_t k = (n + 15) / 16 * 16; k < kpad; ++k) q[k] = 128;
            return s;
        }
        if constexpr (F == WeightFormat::BF16) {
            auto* b = static_cast<std::uint16_t*>(dst);
            for (std::size_t k = 0; k < n; k += 16) {
                const __m256bh c = _mm512_cvtneps_pbh(load_upto16(v + k, n - k));
                __m256i ci;
                std::memcpy(&ci, &c, 32);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(b + k), ci);  // whole, as int8's above
            }
            for (std::size_t k = (n + 15) / 16 * 16; k < kpad; ++k) b[k] = 0;
            return 1.0f;
        } else {
            auto* f = static_cast<float*>(dst);
            std::memcpy(f, v, n * sizeof(float));
            for (std::size_t k = n; k < kpad; ++k) f[k] = 0.0f;
            return 1.0f;
        }
    }

    // The products of one block call: acc[(i * NT + j) * NS + s] += row i of v times sub s of block
    // j, over all groups (int32 sums for int8, fp32 for bf16 and fp16). A function of its own, with
    // the accumulators only in and out at its ends: inlined into block(), GCC 12 -O3 kept them in
    // memory (a store per product per group: four rows at once no faster than four single rows) or
    // copied each to a fresh register and back every group.
    // Widen (bf16): fp32 FMAs of the widened pairs in place of vdpbf16ps. With FTZ and DAZ set (as
    // predict and Stream run the kernels) fma(x_odd, w_odd, acc) then fma(x_even, w_even, acc) is
    // what vdpbf16ps computes (quant_kernels.h); for several rows two FMAs at 2 per cycle, the two
    // widening operations shared by the rows, beat one vdpbf16ps at 0.45 per cycle (one row: not).
    template <int MR, int NT, int NS, bool Widen = false, class Acc>
    __attribute__((noinline)) static void products(const char* base, std::size_t bb, std::size_t S, std::size_t groups,
                                                   const char* v, std::size_t vs, Acc* io) {
        constexpr std::size_t G = F == WeightFormat::Int8 ? 4 : F == WeightFormat::BF16 ? 2 : 1;
        constexpr std::size_t step = F == WeightFormat::F16 ? 32 : 64;  // bytes of one (group, sub)
        Acc acc[MR][NT][NS];
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s) acc[i][j][s] = io[(i * NT + j) * NS + s];
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * S * step;
            if constexpr (F == WeightFormat::Int8) {
                __m512i xb[MR];
                for (int i = 0; i < MR; ++i) xb[i] = _mm512_set1_epi32(avx512q::load32(v + i * vs + q * G));
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) {
                        const __m512i w = _mm512_load_si512(wq + j * bb + s * step);
                        for (int i = 0; i < MR; ++i) acc[i][j][s] = avx512q::dpbusd(acc[i][j][s], xb[i], w);
                    }
            } else if constexpr (F == WeightFormat::BF16 && Widen) {
                const __m512i odd_mask = _mm512_set1_epi32(int(0xffff0000u));
                __m512 x0[MR], x1[MR];
                for (int i = 0; i < MR; ++i) {
                    const __m512i x = _mm512_set1_epi32(avx512q::load32(v + i * vs + q * 4));
                    x0[i] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
                    x1[i] = _mm512_castsi512_ps(_mm512_and_si512(x, odd_mask));
                }
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) {
                        const __m512i w = _mm512_load_si512(wq + j * bb + s * step);
                        const __m512 w0 = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
                        const __m512 w1 = _mm512_castsi512_ps(_mm512_and_si512(w, odd_mask));
                        for (int i = 0; i < MR; ++i)
                            acc[i][j][s] = _mm512_fmadd_ps(x0[i], w0, _mm512_fmadd_ps(x1[i], w1, acc[i][j][s]));
                    }
            } else if constexpr (F == WeightFormat::BF16) {
                __m512bh xb[MR];
                for (int i = 0; i < MR; ++i) {
                    const __m512i x = _mm512_set1_epi32(avx512q::load32(v + i * vs + q * 4));
                    std::memcpy(&xb[i], &x, 64);
                }
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) {
                        const __m512i wi = _mm512_load_si512(wq + j * bb + s * step);
                        __m512bh w;
                        std::memcpy(&w, &wi, 64);
                        for (int i = 0; i < MR; ++i) acc[i][j][s] = _mm512_dpbf16_ps(acc[i][j][s], xb[i], w);
                    }
            } else {
                __m512 xb[MR];
                for (int i = 0; i < MR; ++i) xb[i] = _mm512_set1_ps(reinterpret_cast<const float*>(v + i * vs)[q]);
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) {
                        const __m512 w =
                            _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(wq + j * bb + s * step)));
                        for (int i = 0; i < MR; ++i) acc[i][j][s] = _mm512_fmadd_ps(xb[i], w, acc[i][j][s]);
                    }
            }
        }
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s) io[(i * NT + j) * NS + s] = acc[i][j][s];
    }

    // MR rows from r0, NT blocks from b0, NS subs from s0 (Widen: see products).
    template <int MR, int NT, int NS, bool Widen>
    static void block(const QMatrix& m, std::size_t b0, std::size_t s0, const char* v, std::size_t vs, const float* sv,
                      std::size_t ldsv, const float* init, std::size_t ld_init, float* out, std::size_t ld_out) {
        constexpr std::size_t step = F == WeightFormat::F16 ? 32 : 64;
        constexpr int N = MR * NT * NS;
        const std::size_t bb = m.block_bytes(), S = m.subs;
        const char* base = static_cast<const char*>(m.bytes()) + b0 * bb + s0 * step;
        auto pidx = [&](int j, int s) { return ((b0 + j) * S + s0 + s) * kQLanes; };
        if constexpr (F == WeightFormat::Int8) {
            __m512i acc[N];
            for (int k = 0; k < N; ++k) acc[k] = _mm512_setzero_si512();
            products<MR, NT, NS>(base, bb, S, m.groups(), v, vs, acc);
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s) {
                        const std::size_t p = pidx(j, s);
                        const __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(m.rowsums() + p), 7);
                        const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[(i * NT + j) * NS + s], corr));
                        const __m512 sc = _mm512_mul_ps(_mm512_loadu_ps(m.scales() + p), _mm512_set1_ps(sv[i * ldsv]));
                        const __m512 st = init ? _mm512_loadu_ps(init + i * ld_init + p) : _mm512_setzero_ps();
                        _mm512_storeu_ps(out + i * ld_out + p, _mm512_fmadd_ps(f, sc, st));
                    }
        } else {
            __m512 acc[N];
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        acc[(i * NT + j) * NS + s] = init ? _mm512_loadu_ps(init + i * ld_init + pidx(j, s)) : _mm512_setzero_ps();
            products<MR, NT, NS, Widen && MR >= 2>(base, bb, S, m.groups(), v, vs, acc);
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        _mm512_storeu_ps(out + i * ld_out + pidx(j, s), acc[(i * NT + j) * NS + s]);
        }
    }

    // The blocks of r for MR rows, NT blocks per call.
    template <int MR, int NS, bool Widen>
    static void rows_of(const QMatrix& m, QBlockRange r, std::size_t s0, const char* v, std::size_t vs, const float* sv,
                        std::size_t ldsv, const float* init, std::size_t ld_init, float* out, std::size_t ld_out) {
        constexpr int NT = MR == 1 ? (NS == 1 ? 8 : 4) : MR == 2 ? (NS == 1 ? 8 : 4) : (NS == 1 ? 4 : 2);
        for_block_runs<NT>(r, [&](std::size_t b, bool whole) {
            if (whole) block<MR, NT, NS, Widen>(m, b, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
            else block<MR, 1, NS, Widen>(m, b, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
        });
    }

    template <int MR, bool Widen>
    static void rows_ns(const QMatrix& m, QBlockRange r, std::size_t s0, std::size_t ns, const char* v, std::size_t vs,
                        const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init, float* out,
                        std::size_t ld_out) {
        if (ns == 3) rows_of<MR, 3, Widen>(m, r, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
        else if (ns == 2) rows_of<MR, 2, Widen>(m, r, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
        else
            for (std::size_t s = s0; s < s0 + ns; ++s)
                rows_of<MR, 1, Widen>(m, r, s, v, vs, sv, ldsv, init, ld_init, out, ld_out);
    }

    // Blocks outermost in passes of at most ~512 KB of weights, every row through a pass before
    // the next: with rows outermost, a matrix larger than L2 came from L3 once per 4 rows (the
    // input GEMM of a long sequence at I=H=1024 was bound by that).
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        const char* vc = static_cast<const char*>(v);
        const std::size_t per_pass =
            rows <= 1 ? blocks.b1 - blocks.b0 : std::max<std::size_t>(8, (512u << 10) / m.block_bytes() / 8 * 8);
        const bool widen = F == WeightFormat::BF16 && rows >= 2 && FlushDenormals::active();
        for_block_passes(blocks, per_pass, [&](QBlockRange pass) {
            auto run = [&](auto mr, std::size_t r) {
                constexpr int MR = decltype(mr)::value;
                const char* vr = vc + r * v_stride;
                const float* ir = init ? init + r * ld_init : nullptr;
                if constexpr (F == WeightFormat::BF16)
                    if (widen)
                        return rows_ns<MR, true>(m, pass, s0, ns, vr, v_stride, sv + r * ldsv, ldsv, ir, ld_init,
                                                 out + r * ld_out, ld_out);
                rows_ns<MR, false>(m, pass, s0, ns, vr, v_stride, sv + r * ldsv, ldsv, ir, ld_init, out + r * ld_out, ld_out);
            };
            std::size_t r = 0;
            for (; r + 4 <= rows; r += 4) run(std::integral_constant<int, 4>{}, r);
            for (; r + 2 <= rows; r += 2) run(std::integral_constant<int, 2>{}, r);
            for (; r < rows; ++r) run(std::integral_constant<int, 1>{}, r);
        });
    }

    static __m512 pre(__m512 v, const QAct& a) {
        return a.clip > 0.0f ? avx512::clamp(v, _mm512_set1_ps(-a.clip), _mm512_set1_ps(a.clip)) : v;
    }
    static __m512 f(__m512 v, const QAct& a) {
        return a.fast ? avx512::fast_sigmoid(pre(v, a)) : avx512::sigmoid(pre(v, a));
    }
    static __m512 g(__m512 v, const QAct& a) {
        return a.fast ? avx512::fast_tanh(pre(v, a)) : avx512::tanh(pre(v, a));
    }

    // The lbr gates on registers: the new state from pre-activations z, r, n (B), nx and h.
    static __m512 lbr_out(__m512 bz, __m512 br, __m512 bn, __m512 nx, __m512 h, const QAct& a) {
        const __m512 z = f(bz, a), r = f(br, a);
        const __m512 n = g(_mm512_fmadd_ps(r, bn, nx), a);
        return _mm512_fmadd_ps(z, _mm512_sub_ps(h, n), n);
    }
    static void lbr_gates(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        const __mmask16 k = avx512q::lane_mask(lanes);
        _mm512_mask_storeu_ps(out, k, lbr_out(_mm512_loadu_ps(b), _mm512_loadu_ps(b + kQLanes), _mm512_loadu_ps(b + 2 * kQLanes),
                                              _mm512_loadu_ps(nx), _mm512_maskz_loadu_ps(k, h), a));
    }
    static void cho_zr(float* b, const float* h, float* rh, std::size_t lanes, const QAct& a) {
        const __mmask16 k = avx512q::lane_mask(lanes);
        _mm512_storeu_ps(b, f(_mm512_loadu_ps(b), a));
        _mm512_storeu_ps(rh, _mm512_maskz_mul_ps(k, f(_mm512_loadu_ps(b + kQLanes), a), _mm512_maskz_loadu_ps(k, h)));
    }
    static void cho_out(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        const __mmask16 k = avx512q::lane_mask(lanes);
        const __m512 n = g(_mm512_add_ps(_mm512_loadu_ps(nx), _mm512_loadu_ps(b + 2 * kQLanes)), a);
        _mm512_mask_storeu_ps(out, k, _mm512_fmadd_ps(_mm512_loadu_ps(b), _mm512_sub_ps(_mm512_maskz_loadu_ps(k, h), n), n));
    }
};

}  // namespace gru_infer
