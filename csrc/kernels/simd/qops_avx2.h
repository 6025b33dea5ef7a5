// AVX2 + FMA (+ F16C) operations of the reduced-precision kernels (QuantStep's Ops,
// gru_step/quant_step.h), for CPUs without AVX-512: int8 by vpmaddubsw on |x| and w * sign(x)
// (both in [-127, 127], so a pair sums to at most 32258: never saturates) then vpmaddwd, exact
// int32 sums of the same 8-bit weights; bf16 and fp16 widened to fp32 (bf16 keeping vdpbf16ps's
// order and flushing: by the FMAs themselves when MXCSR has FTZ and DAZ, as predict and Stream
// set it, else by explicit masks). fp16 rows are prepared by the scalar code. Same results as ScalarQOps<F> bit
// for bit. Include after a target pragma with avx2, fma, f16c.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../gru_step/quant_step.h"
#include "../quant_kernels.h"
#include "qops_scalar.h"
#include "avx2_math.h"
#include "runtime/denormals.h"

namespace gru_infer {

template <WeightFormat F>
struct Avx2QOps {
    static float prepare(const float* v, std::size_t n, std::size_t kpad, float s, void* dst) {
        if constexpr (F == WeightFormat::Int8) return quantize_int8(v, n, kpad, s, static_cast<std::int8_t*>(dst));
        if constexpr (F == WeightFormat::BF16) return round_bf16(v, n, kpad, static_cast<std::uint16_t*>(dst));
        return ScalarQOps<F>::prepare(v, n, kpad, s, dst);
    }

    // v[k..k+8), zeros past n (whole vectors stored past n stay inside the destination: every
    // prepared row's room is rounded up to 64 bytes, QStepScratch and q_gemm_row_bytes).
    static __m256 load_upto(const float* v, std::size_t k, std::size_t n) {
        if (k + 8 <= n) return _mm256_loadu_ps(v + k);
        const __m256i left = _mm256_set1_epi32(static_cast<int>(n > k ? n - k : 0));
        return _mm256_maskload_ps(v + k, _mm256_cmpgt_epi32(left, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    }

    // quantize_row_int8 (qops_scalar.h) on 8 lanes: the same scale, and per element the same
    // min(max(v * inv, -127), 127) rounded to nearest even, so the same bytes (zeros past n).
    static float quantize_int8(const float* v, std::size_t n, std::size_t kpad, float s, std::int8_t* q) {
        float am = 0.0f;
        if (!(s > 0.0f)) {  // dynamic, or the state: the row's absmax (a max: any order gives it)
            const __m256 mag = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
            __m256 amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
            for (std::size_t k = 0; k < n; k += 8) {
                const __m256 a = _mm256_and_ps(load_upto(v, k, n), mag);
                bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, _mm256_set1_ps(3.402823466e38f), _CMP_NLE_UQ));
                amax = _mm256_max_ps(amax, a);
            }
            if (_mm256_movemask_ps(bad)) {
                std::memset(q, 0, kpad);
                return NAN;
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            am = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        }
        float inv;
        s = int8_row_scale(s, am, inv);
        const __m256 vi = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (std::size_t k = 0; k < n; k += 32) {  // 32 values -> 32 bytes: packs work within 128-bit lanes
            __m256i r[4];
            for (int c = 0; c < 4; ++c)
                r[c] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(load_upto(v, k + 8 * c, n), vi), lo), hi));
            const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k), _mm256_permutevar8x32_epi32(b, order));
        }
        for (std::size_t k = (n + 31) / 32 * 32; k < kpad; ++k) q[k] = 0;
        return s;
    }

    // to_bf16 (quant_pack.cpp) on 8 lanes, in the low half of each: NaN quiet, denormal -> zero
    // of its sign, else round to nearest even.
    static __m256i bf16_bits(__m256 x) {
        const __m256i b = _mm256_castps_si256(x), hi = _mm256_srli_epi32(b, 16);
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
        const __m256i den = _mm256_cmpeq_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7f800000)), _mm256_setzero_si256());
        const __m256i rne = _mm256_srli_epi32(
            _mm256_add_epi32(b, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(hi, _mm256_set1_epi32(1)))), 16);
        const __m256i r = _mm256_blendv_epi8(rne, _mm256_and_si256(hi, _mm256_set1_epi32(0x8000)), den);
        return _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
    }
    static float round_bf16(const float* v, std::size_t n, std::size_t kpad, std::uint16_t* b) {
        for (std::size_t k = 0; k < n; k += 16) {
            const __m256i p = _mm256_packus_epi32(bf16_bits(load_upto(v, k, n)), bf16_bits(load_upto(v, k + 8, n)));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(b + k), _mm256_permute4x64_epi64(p, 0xd8));
        }
        for (std::size_t k = (n + 15) / 16 * 16; k < kpad; ++k) b[k] = 0;
        return 1.0f;
    }

    static __m256 ftz(__m256 r) {  // denormal -> zero of its sign (NaN kept)
        const __m256 mag = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        const __m256 tiny = _mm256_cmp_ps(_mm256_and_ps(r, mag), _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
        return _mm256_andnot_ps(_mm256_and_ps(tiny, mag), r);
    }

    // The products of one block call, acc[((i * NT + j) * NS + s) * 2 + half] += row i of v times
    // sub s of block j over all groups (int32 sums for int8, fp32 for bf16 and fp16). A function of
    // its own with the accumulators only in and out at its ends, for the reason given at
    // Avx512QOps::products (GCC 12 -O3 otherwise copies them between registers every group).
    // HwFtz (bf16): MXCSR has FTZ and DAZ set, so every FMA already flushes as ftz() would.
    template <int MR, int NT, int NS, bool HwFtz, class Acc>
    __attribute__((noinline)) static void products(const char* base, std::size_t bb, std::size_t S, std::size_t groups,
                                                   const char* v, std::size_t vs, Acc* io) {
        constexpr std::size_t step = F == WeightFormat::F16 ? 32 : 64;
        Acc acc[MR][NT][NS][2];
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s)
                    for (int hh = 0; hh < 2; ++hh) acc[i][j][s][hh] = io[((i * NT + j) * NS + s) * 2 + hh];
        for (std::size_t q = 0; q < groups; ++q) {
            const char* wq = base + q * S * step;
            if constexpr (F == WeightFormat::Int8) {
                const __m256i ones = _mm256_set1_epi16(1);
                __m256i xb[MR], ax[MR];
                for (int i = 0; i < MR; ++i) {
                    xb[i] = _mm256_set1_epi32(avx2_load32(v + i * vs + q * 4));
                    ax[i] = _mm256_sign_epi8(xb[i], xb[i]);
                }
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int hh = 0; hh < 2; ++hh) {
                            const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + j * bb + s * step + 32 * hh));
                            for (int i = 0; i < MR; ++i) {
                                const __m256i p = _mm256_maddubs_epi16(ax[i], _mm256_sign_epi8(w, xb[i]));
                                acc[i][j][s][hh] = _mm256_add_epi32(acc[i][j][s][hh], _mm256_madd_epi16(p, ones));
                            }
                        }
            } else if constexpr (F == WeightFormat::BF16) {
                __m256 x0[MR], x1[MR];
                for (int i = 0; i < MR; ++i) {  // the pair (x[2q], x[2q+1]) widened as the weights are
                    const __m256i xp = _mm256_set1_epi32(avx2_load32(v + i * vs + q * 4));
                    x0[i] = _mm256_castsi256_ps(_mm256_slli_epi32(xp, 16));
                    x1[i] = _mm256_castsi256_ps(_mm256_and_si256(xp, _mm256_set1_epi32(int(0xffff0000u))));
                }
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int hh = 0; hh < 2; ++hh) {
                            const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + j * bb + s * step + 32 * hh));
                            const __m256 w0 = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
                            const __m256 w1 = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(int(0xffff0000u))));
                            for (int i = 0; i < MR; ++i) {  // vdpbf16ps's order: the odd element first
                                if constexpr (HwFtz) {
                                    acc[i][j][s][hh] = _mm256_fmadd_ps(x0[i], w0, _mm256_fmadd_ps(x1[i], w1, acc[i][j][s][hh]));
                                } else {
                                    __m256 r = ftz(_mm256_fmadd_ps(x1[i], w1, acc[i][j][s][hh]));
                                    acc[i][j][s][hh] = ftz(_mm256_fmadd_ps(x0[i], w0, r));
                                }
                            }
                        }
            } else {
                __m256 xb[MR];
                for (int i = 0; i < MR; ++i) xb[i] = _mm256_set1_ps(reinterpret_cast<const float*>(v + i * vs)[q]);
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int hh = 0; hh < 2; ++hh) {
                            const __m256 w =
                                _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(wq + j * bb + s * step + 16 * hh)));
                            for (int i = 0; i < MR; ++i) acc[i][j][s][hh] = _mm256_fmadd_ps(xb[i], w, acc[i][j][s][hh]);
                        }
            }
        }
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NT; ++j)
                for (int s = 0; s < NS; ++s)
                    for (int hh = 0; hh < 2; ++hh) io[((i * NT + j) * NS + s) * 2 + hh] = acc[i][j][s][hh];
    }

    // MR rows x NT blocks x NS subs, each 16 lanes = two ymm halves.
    template <int MR, int NT, int NS, bool HwFtz>
    static void block(const QMatrix& m, std::size_t b0, std::size_t s0, const char* v, std::size_t vs, const float* sv,
                      std::size_t ldsv, const float* init, std::size_t ld_init, float* out, std::size_t ld_out) {
        constexpr std::size_t step = F == WeightFormat::F16 ? 32 : 64;
        constexpr int N = MR * NT * NS * 2;
        const std::size_t bb = m.block_bytes(), S = m.subs;
        const char* base = static_cast<const char*>(m.bytes()) + b0 * bb + s0 * step;
        auto pidx = [&](int j, int s) { return ((b0 + j) * S + s0 + s) * kQLanes; };
        auto at = [](int i, int j, int s, int hh) { return ((i * NT + j) * NS + s) * 2 + hh; };
        if constexpr (F == WeightFormat::Int8) {
            __m256i acc[N];
            for (int k = 0; k < N; ++k) acc[k] = _mm256_setzero_si256();
            products<MR, NT, NS, false>(base, bb, S, m.groups(), v, vs, acc);
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int hh = 0; hh < 2; ++hh) {
                            const std::size_t p = pidx(j, s) + 8 * hh;
                            const __m256 f = _mm256_cvtepi32_ps(acc[at(i, j, s, hh)]);
                            const __m256 sc = _mm256_mul_ps(_mm256_loadu_ps(m.scales() + p), _mm256_set1_ps(sv[i * ldsv]));
                            const __m256 st = init ? _mm256_loadu_ps(init + i * ld_init + p) : _mm256_setzero_ps();
                            _mm256_storeu_ps(out + i * ld_out + p, _mm256_fmadd_ps(f, sc, st));
                        }
        } else {
            __m256 acc[N];
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int hh = 0; hh < 2; ++hh) {
                            __m256& a = acc[at(i, j, s, hh)];
                            a = init ? _mm256_loadu_ps(init + i * ld_init + pidx(j, s) + 8 * hh) : _mm256_setzero_ps();
                            if (F == WeightFormat::BF16) a = ftz(a);  // as vdpbf16ps reads it
                        }
            products<MR, NT, NS, HwFtz && F == WeightFormat::BF16>(base, bb, S, m.groups(), v, vs, acc);
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NT; ++j)
                    for (int s = 0; s < NS; ++s)
                        for (int hh = 0; hh < 2; ++hh)
                            _mm256_storeu_ps(out + i * ld_out + pidx(j, s) + 8 * hh, acc[at(i, j, s, hh)]);
        }
    }

    static std::int32_t avx2_load32(const char* p) {
        std::int32_t x;
        std::memcpy(&x, p, 4);
        return x;
    }

    // The blocks of r for MR rows.
    template <int MR, int NS, bool HwFtz>
    static void rows_of(const QMatrix& m, QBlockRange r, std::size_t s0, const char* v, std::size_t vs, const float* sv,
                        std::size_t ldsv, const float* init, std::size_t ld_init, float* out, std::size_t ld_out) {
        constexpr int NT = MR * NS <= 2 ? 2 : 1;  // 16 ymm registers: at most 8 accumulators
        for_block_runs<NT>(r, [&](std::size_t b, bool whole) {
            if (whole) block<MR, NT, NS, HwFtz>(m, b, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
            else block<MR, 1, NS, HwFtz>(m, b, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
        });
    }

    template <bool HwFtz>
    static void row_ns(const QMatrix& m, QBlockRange r, std::size_t s0, std::size_t ns, const char* v, std::size_t vs,
                       const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init, float* out,
                       std::size_t ld_out) {
        if (ns == 1) rows_of<1, 1, HwFtz>(m, r, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
        else if (ns == 2) rows_of<1, 2, HwFtz>(m, r, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
        else rows_of<1, 3, HwFtz>(m, r, s0, v, vs, sv, ldsv, init, ld_init, out, ld_out);
    }

    // Blocks outermost in passes of <= ~512 KB of weights, as Avx512QOps::dot (rows outermost read
    // a matrix larger than L2 from L3 once per row).
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        const char* vc = static_cast<const char*>(v);
        const std::size_t per_pass =
            rows <= 1 ? blocks.b1 - blocks.b0 : std::max<std::size_t>(2, (512u << 10) / m.block_bytes() / 2 * 2);
        const bool hw_ftz = F == WeightFormat::BF16 && FlushDenormals::active();
        for_block_passes(blocks, per_pass, [&](QBlockRange pass) {
            for (std::size_t r = 0; r < rows; ++r) {
                const char* vr = vc + r * v_stride;
                const float* ir = init ? init + r * ld_init : nullptr;
                float* orow = out + r * ld_out;
                const float* s = sv + r * ldsv;
                if (hw_ftz) row_ns<true>(m, pass, s0, ns, vr, v_stride, s, ldsv, ir, ld_init, orow, ld_out);
                else row_ns<false>(m, pass, s0, ns, vr, v_stride, s, ldsv, ir, ld_init, orow, ld_out);
            }
        });
    }

    // Gates on 16 units as two halves of 8 (pow2_math.h's exact sigmoid and tanh, the fast ones of
    // the AVX2 fp32 kernels).
    static __m256 pre(__m256 v, const QAct& a) {
        return a.clip > 0.0f ? avx2::clamp(v, _mm256_set1_ps(-a.clip), _mm256_set1_ps(a.clip)) : v;
    }
    static __m256 f(__m256 v, const QAct& a) { return a.fast ? avx2::fast_sigmoid(pre(v, a)) : avx2::Pow2::sigmoid(pre(v, a)); }
    static __m256 g(__m256 v, const QAct& a) { return a.fast ? avx2::fast_tanh(pre(v, a)) : avx2::Pow2::tanh(pre(v, a)); }
    static std::size_t half_lanes(std::size_t lanes, int hh) {
        return hh == 0 ? (lanes < 8 ? lanes : 8) : (lanes > 8 ? lanes - 8 : 0);
    }
    static __m256 load_h(const float* h, std::size_t n) {
        return n >= 8 ? _mm256_loadu_ps(h) : _mm256_maskload_ps(h, avx2::tail_mask(n));
    }
    static void store_h(float* o, __m256 v, std::size_t n) {
        if (n >= 8) _mm256_storeu_ps(o, v);
        else _mm256_maskstore_ps(o, avx2::tail_mask(n), v);
    }

    static void lbr_gates(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        for (int hh = 0; hh < 2; ++hh) {
            const std::size_t n = half_lanes(lanes, hh), o = 8 * hh;
            if (!n) break;
            const __m256 z = f(_mm256_loadu_ps(b + o), a), r = f(_mm256_loadu_ps(b + kQLanes + o), a);
            const __m256 c = g(_mm256_fmadd_ps(r, _mm256_loadu_ps(b + 2 * kQLanes + o), _mm256_loadu_ps(nx + o)), a);
            store_h(out + o, _mm256_fmadd_ps(z, _mm256_sub_ps(load_h(h + o, n), c), c), n);
        }
    }
    static void cho_zr(float* b, const float* h, float* rh, std::size_t lanes, const QAct& a) {
        for (int hh = 0; hh < 2; ++hh) {
            const std::size_t n = half_lanes(lanes, hh), o = 8 * hh;
            _mm256_storeu_ps(b + o, f(_mm256_loadu_ps(b + o), a));
            const __m256 r = f(_mm256_loadu_ps(b + kQLanes + o), a);
            _mm256_storeu_ps(rh + o, n ? _mm256_and_ps(_mm256_mul_ps(r, load_h(h + o, n)),
                                                       _mm256_castsi256_ps(avx2::tail_mask(n)))
                                       : _mm256_setzero_ps());
        }
    }
    static void cho_out(const float* b, const float* nx, const float* h, float* out, std::size_t lanes, const QAct& a) {
        for (int hh = 0; hh < 2; ++hh) {
            const std::size_t n = half_lanes(lanes, hh), o = 8 * hh;
            if (!n) break;
            const __m256 c = g(_mm256_add_ps(_mm256_loadu_ps(nx + o), _mm256_loadu_ps(b + 2 * kQLanes + o)), a);
            store_h(out + o, _mm256_fmadd_ps(_mm256_loadu_ps(b + o), _mm256_sub_ps(load_h(h + o, n), c), c), n);
        }
    }
};

}  // namespace gru_infer
