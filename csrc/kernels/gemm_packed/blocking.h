// The cache blocking of gemm_packed, shared by every ISA: K in blocks of kGemmKc and M in blocks
// of kGemmMc; every tile passes over a block of A, and a tile's block (kc x kTileRow floats) serves
// the block's rows of A four at a time. K blocks are long (1024): each extra K block re-reads and
// re-writes all of C, which cost more than the tile block outgrowing L1 (measured, Zen 3: K=1024
// 74 -> 90 GFLOP/s with 1024 instead of 256; K <= 256 unchanged).
// An ISA supplies the micro-kernel: micro<MR>(kc, A, lda, P, init, ld_init, C, ldc) computes MR
// rows of C = init + A P over one tile, for MR = 4 and 1. Include after avx2_target_begin.h (or
// the ISA's own target preamble).
#pragma once
#include <cstddef>

#include "kernels/kernels.h"

namespace gru_infer {

constexpr std::size_t kGemmKc = 1024, kGemmMc = 256;

template <typename Micro4, typename Micro1>
inline void gemm_packed_blocked(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                                std::size_t tile_stride, std::size_t tiles, const float* bias, float* C,
                                std::size_t ldc, Micro4 micro4, Micro1 micro1) {
    static const float zeros[kTileRow] = {};
    if (K == 0) {  // nothing to accumulate: C = bias
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t t = 0; t < tiles; ++t)
                micro1(0, A, lda, P, bias ? bias + t * kTileRow : zeros, 0, C + m * ldc + t * kTileRow, ldc);
        return;
    }
    for (std::size_t k0 = 0; k0 < K; k0 += kGemmKc) {
        const std::size_t kc = K - k0 < kGemmKc ? K - k0 : kGemmKc;
        for (std::size_t m0 = 0; m0 < M; m0 += kGemmMc) {
            const std::size_t m1 = M - m0 < kGemmMc ? M : m0 + kGemmMc;
            for (std::size_t t = 0; t < tiles; ++t) {
                const float* Pt = P + t * tile_stride + k0 * kTileRow;
                // The first K block starts from the bias (broadcast over rows), later ones from C.
                const float* b = bias ? bias + t * kTileRow : zeros;
                std::size_t m = m0;
                for (; m + 4 <= m1; m += 4) {
                    float* Cm = C + m * ldc + t * kTileRow;
                    micro4(kc, A + m * lda + k0, lda, Pt, k0 == 0 ? b : Cm, k0 == 0 ? 0 : ldc, Cm, ldc);
                }
                for (; m < m1; ++m) {
                    float* Cm = C + m * ldc + t * kTileRow;
                    micro1(kc, A + m * lda + k0, lda, Pt, k0 == 0 ? b : Cm, k0 == 0 ? 0 : ldc, Cm, ldc);
                }
            }
        }
    }
}

}  // namespace gru_infer
