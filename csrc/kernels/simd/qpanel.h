// Reduced-precision batches as an fp32 GEMM (issue 24): bf16 and fp16 weights widened to fp32
// once per run of blocks and chunk of inputs (a "panel" in L1, read by every row of the batch),
// then register-blocked FMAs with the input broadcast from fp32, as the fp32 kernels do. The
// widening (one conversion per weight) is shared by all rows instead of repeated per row group.
//
// The arithmetic is quant_kernels.h's: fp16, fma in k order from init (the panel holds the k in
// order); bf16, per pair the odd element first then the even one, each a fused multiply-add (the
// panel and the widened inputs hold each pair swapped), which equals ftz(fma(...)) per step only
// when MXCSR has FTZ and DAZ set (denormal inputs and accumulators read as zero, denormal results
// flushed): the callers use it for bf16 only then. Every output is the same chain of FMAs as in
// the scalar reference, so the results are the same bit for bit; K is cut in chunks (the
// accumulators go through out between them, exactly).
//
// V, the ISA's vector operations: T, kW floats per vector (16 / kW vectors per 16 lanes), zero,
// load (aligned), loadu, storeu, bcast (one float to every lane), fma(a, b, c) = a * b + c, and
// widen16(F, src, dst0, dst1): the 16 lanes of one (group, sub) of the packed matrix as floats
// (fp16: dst0 only; bf16: the odd elements to dst0, the even ones to dst1).
// Include after the ISA's target pragma.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../quant_kernels.h"

namespace gru_infer {

inline std::int32_t qpanel_load32(const char* p) {
    std::int32_t x;
    std::memcpy(&x, p, 4);
    return x;
}

template <class V, WeightFormat F>
struct QPanel {
    static_assert(F == WeightFormat::BF16 || F == WeightFormat::F16, "panels are for bf16 and fp16");
    using T = typename V::T;
    static constexpr int kW = V::kW;
    static constexpr int kPer16 = 16 / kW;                    // vectors per 16 lanes
    static constexpr int kMaxVec = V::kMaxVec;                // vectors per micro-kernel call
    static constexpr int kMR = V::kMR;                        // rows per micro-kernel call
    static_assert(kMaxVec % kPer16 == 0, "a pass takes whole groups of 16 lanes");
    // A chunk of the panel, on the stack: K in one chunk up to 256 at 48 columns (each extra chunk
    // re-reads and re-writes the outputs, as gemm_packed's K blocks, blocking.h).
    static constexpr std::size_t kPanelFloats = 12u << 10;

    // acc[i * C + c] += the products of row i (X + i * ldx) and vector c of the panel (P, ps floats
    // per input) over kk inputs: the accumulators only in and out at the ends, for the reason
    // given at Avx512QOps::products (else GCC 12 -O3 stores them every input).
    // The input k of a row (bytes at x) broadcast: fp16, an fp32; bf16, element k of the pairs
    // widened in the order of the panel (odd element first).
    static T input(const char* x, std::size_t k) {
        if constexpr (F == WeightFormat::F16) return V::bcast(reinterpret_cast<const float*>(x) + k);
        else return k % 2 == 0 ? V::bf16_odd(x + k / 2 * 4) : V::bf16_even(x + k / 2 * 4);
    }

    template <int MR, int C>
    static void products(std::size_t kk, const char* X, std::size_t ldx, const float* P, std::size_t ps, T* io) {
        T acc[MR][C];
        for (int i = 0; i < MR; ++i)
            for (int c = 0; c < C; ++c) acc[i][c] = io[i * C + c];
        constexpr std::size_t G = F == WeightFormat::F16 ? 1 : 2;  // kk is a multiple of it
        for (std::size_t k0 = 0; k0 < kk; k0 += G)
            for (std::size_t k = k0; k < k0 + G; ++k) {
                T w[C];
                for (int c = 0; c < C; ++c) w[c] = V::load(P + k * ps + c * kW);
                for (int i = 0; i < MR; ++i) {
                    const T x = input(X + i * ldx, k);
                    for (int c = 0; c < C; ++c) acc[i][c] = V::fma(x, w[c], acc[i][c]);
                }
            }
        for (int i = 0; i < MR; ++i)
            for (int c = 0; c < C; ++c) io[i * C + c] = acc[i][c];
    }

    // MR rows x C vectors: from src (init / the previous chunk; null: zero), to dst.
    template <int MR, int C>
    static void micro(std::size_t kk, const char* X, std::size_t ldx, const float* P, std::size_t ps,
                      const std::size_t* col, const float* src, std::size_t ld_src, float* dst, std::size_t ld_dst) {
        T acc[MR * C];
        for (int i = 0; i < MR; ++i)
            for (int c = 0; c < C; ++c) acc[i * C + c] = src ? V::loadu(src + i * ld_src + col[c]) : V::zero();
        products<MR, C>(kk, X, ldx, P, ps, acc);
        for (int i = 0; i < MR; ++i)
            for (int c = 0; c < C; ++c) V::storeu(dst + i * ld_dst + col[c], acc[i * C + c]);
    }

    template <int MR>
    static void micro_c(int C, std::size_t kk, const char* X, std::size_t ldx, const float* P, std::size_t ps,
                        const std::size_t* col, const float* src, std::size_t ld_src, float* dst, std::size_t ld_dst) {
        switch (C) {
            case 1: return micro<MR, 1>(kk, X, ldx, P, ps, col, src, ld_src, dst, ld_dst);
            case 2: return micro<MR, 2>(kk, X, ldx, P, ps, col, src, ld_src, dst, ld_dst);
            case 3: return micro<MR, 3>(kk, X, ldx, P, ps, col, src, ld_src, dst, ld_dst);
            default: break;
        }
    }

    // The avx*QOps::dot contract (sv unused: no scales) for rows of prepared inputs v (fp16: fp32
    // rows; bf16: bf16 rows, each pair widened as it is read, odd element first).
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns,
                    const void* v, std::size_t v_stride, const float* init, std::size_t ld_init, float* out,
                    std::size_t ld_out) {
        const std::size_t K = m.kpad, S = m.subs, bb = m.block_bytes();
        const char* X = static_cast<const char*>(v);
        constexpr std::size_t xe = F == WeightFormat::F16 ? 4 : 2;  // bytes of a prepared input
        // Runs of NT blocks: NT x ns x 16 floats per input, kMaxVec vectors per pass of the
        // micro-kernel over the run's columns.
        const std::size_t nt = std::max<std::size_t>(1, std::size_t(kMaxVec) * kW / (ns * 16));
        const std::size_t max_cols = nt * ns * 16;
        const std::size_t kc = kPanelFloats / max_cols / 2 * 2;
        alignas(64) float panel[kPanelFloats];  // on the stack: a stream's steps allocate nothing
        constexpr std::size_t step = F == WeightFormat::F16 ? 32 : 64;  // bytes of one (group, sub)
        constexpr std::size_t G = F == WeightFormat::F16 ? 1 : 2;
        std::size_t col[64];
        for_block_passes(blocks, nt, [&](QBlockRange run) {
            const std::size_t n = run.b1 - run.b0, cols = n * ns * 16, nv = cols / kW;
            for (std::size_t vi = 0; vi < nv; ++vi) {
                const std::size_t t = vi / kPer16, h = vi % kPer16, s = t % ns, j = t / ns;
                col[vi] = ((run.b0 + j) * S + s0 + s) * kQLanes + h * kW;
            }
            for (std::size_t k0 = 0; k0 < K; k0 += kc) {
                const std::size_t kk = std::min(kc, K - k0);
                // The panel chunk-major: the kMaxVec vectors of each micro-kernel pass contiguous
                // over the inputs (a pass reads its own kk x cw floats, not every cols-th).
                float* P = panel;
                auto chunk = [&](std::size_t vi, std::size_t& cw) {
                    const std::size_t c = vi / kMaxVec;
                    cw = std::min<std::size_t>(kMaxVec, nv - c * kMaxVec) * kW;
                    return P + c * kMaxVec * kW * kk;
                };
                for (std::size_t j = 0; j < n; ++j)
                    for (std::size_t s = 0; s < ns; ++s) {
                        const std::size_t vi = (j * ns + s) * kPer16;
                        std::size_t cw;
                        float* d = chunk(vi, cw) + vi % kMaxVec * kW;
                        const char* w = static_cast<const char*>(m.bytes()) + (run.b0 + j) * bb + (s0 + s) * step;
                        for (std::size_t k = 0; k < kk; k += G)  // widen: input k0 + k of the 16 lanes
                            V::template widen16<F>(w + (k0 + k) / G * S * step, d + k * cw, d + (k + 1) * cw);
                    }
                const float* src = k0 == 0 ? init : out;
                const std::size_t ld_src = k0 == 0 ? ld_init : ld_out;
                // Each pass's panel chunk through every row before the next (it stays in L1).
                for (std::size_t c0 = 0; c0 < nv; c0 += kMaxVec) {
                    std::size_t cw;
                    const float* Pc = chunk(c0, cw);
                    auto pass = [&](auto mr, std::size_t r) {
                        micro_c<decltype(mr)::value>(int(cw / kW), kk, X + r * v_stride + k0 * xe, v_stride, Pc, cw, col + c0,
                                                     src ? src + r * ld_src : nullptr, ld_src, out + r * ld_out, ld_out);
                    };
                    std::size_t r = 0;
                    for (; r + kMR <= rows; r += kMR) pass(std::integral_constant<int, kMR>{}, r);
                    if constexpr (kMR > 4)
                        for (; r + 4 <= rows; r += 4) pass(std::integral_constant<int, 4>{}, r);
                    for (; r + 2 <= rows; r += 2) pass(std::integral_constant<int, 2>{}, r);
                    for (; r < rows; ++r) pass(std::integral_constant<int, 1>{}, r);
                }
            }
        });
    }
};

}  // namespace gru_infer
