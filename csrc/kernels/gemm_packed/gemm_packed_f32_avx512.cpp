// AVX-512 C = A P + bias over gate-interleaved packed tiles (the input projection of whole
// sequences, the recurrent product of batches). A tile's packed row has 24 floats: 16 for one zmm
// and 8 that would take a ymm, and a ymm FMA costs a 512-bit FMA's port while doing half its
// work (on cores with two 512-bit FMA units, only ports 0 and 5 run vector code once 512-bit code
// is in flight). So each block of a tile's rows is first repacked in pairs of rows k, k + 1 as
// [k: 0-15] [k+1: 0-15] [k: 16, k+1: 16, k: 17, k+1: 17, ... 23], and the last 8 columns of a row
// of A times the pair is one zmm FMA by (A[k], A[k+1]) broadcast as a pair; the odd and even
// lanes are added at the end. Micro-kernel: 8 rows of A x one tile, 16 accumulators, 3 FMAs per
// row per pair of k (48 multiply-adds). Lanes 0-15 sum in the order k = 0, 1, 2, ... as before;
// lanes 16-23 as two sums (even k, odd k) added last.
#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/simd/avx512_target_begin.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/gemm_packed/blocking.h"
#include "kernels/simd/avx512_tile_pair.h"

namespace gru_infer {
namespace {

// K in blocks of kKc, whose repacked tile (kKc x kTileRow floats, 24 KB) lives on the stack.
constexpr std::size_t kKc = 256;

// Tile rows [0, kc) of P (kTileRow apart) as pairs, see the top of the file; an odd last row is
// paired with zeros.
inline void repack_pairs(const float* P, std::size_t kc, float* Q) {
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    for (std::size_t k = 0; k < kc; k += 2, Q += 2 * kTileRow) {
        const float* r0 = P + k * kTileRow;
        const __m512 a = _mm512_loadu_ps(r0), ahi = _mm512_castps256_ps512(_mm256_load_ps(r0 + 16));
        __m512 b = _mm512_setzero_ps(), bhi = _mm512_setzero_ps();
        if (k + 1 < kc) {
            b = _mm512_loadu_ps(r0 + kTileRow);
            bhi = _mm512_castps256_ps512(_mm256_load_ps(r0 + kTileRow + 16));
        }
        _mm512_store_ps(Q, a);
        _mm512_store_ps(Q + 16, b);
        _mm512_store_ps(Q + 32, _mm512_permutex2var_ps(ahi, lo_idx, bhi));
    }
}

template <int MR>
inline void micro(std::size_t kc, const float* A, std::size_t lda, const float* Q, const float* init,
                  std::size_t ld_init, float* C, std::size_t ldc) {
    __m512 lo[MR], hi[MR];
    for (int i = 0; i < MR; ++i) {
        lo[i] = init ? _mm512_loadu_ps(init + i * ld_init) : _mm512_setzero_ps();
        hi[i] = _mm512_setzero_ps();
    }
    const std::size_t pairs = kc / 2;
    for (std::size_t q = 0; q < pairs; ++q) {
        const float* Qq = Q + q * 2 * kTileRow;
        const __m512 q0 = _mm512_load_ps(Qq), q1 = _mm512_load_ps(Qq + 16), q2 = _mm512_load_ps(Qq + 32);
        for (int i = 0; i < MR; ++i) {
            const float* a = A + i * lda + 2 * q;
            double a01;
            std::memcpy(&a01, a, sizeof a01);
            lo[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), q0, lo[i]);
            lo[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), q1, lo[i]);
            hi[i] = _mm512_fmadd_ps(_mm512_castpd_ps(_mm512_set1_pd(a01)), q2, hi[i]);
        }
    }
    if (kc % 2) {  // the last row, paired with zeros (its odd lanes of q2 are 0)
        const float* Qq = Q + pairs * 2 * kTileRow;
        const __m512 q0 = _mm512_load_ps(Qq), q2 = _mm512_load_ps(Qq + 32);
        for (int i = 0; i < MR; ++i) {
            const __m512 a = _mm512_set1_ps(A[i * lda + 2 * pairs]);
            lo[i] = _mm512_fmadd_ps(a, q0, lo[i]);
            // a in the even lanes only: the odd lanes stand for a row that does not exist, and
            // 0 * inf there would turn an infinite input into NaN.
            hi[i] = _mm512_fmadd_ps(_mm512_maskz_mov_ps(0x5555, a), q2, hi[i]);
        }
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    for (int i = 0; i < MR; ++i) {
        const __m512 sum = _mm512_add_ps(hi[i], _mm512_permute_ps(hi[i], 0xb1));  // even k + odd k
        __m256 h = _mm512_castps512_ps256(_mm512_permutexvar_ps(even, sum));
        if (init) h = _mm256_add_ps(_mm256_loadu_ps(init + i * ld_init + 16), h);
        _mm512_storeu_ps(C + i * ldc, lo[i]);
        _mm256_storeu_ps(C + i * ldc + 16, h);
    }
}

template <int MR>
inline void rows_of_tile(std::size_t m0, std::size_t m1, std::size_t kc, bool first, const float* A, std::size_t lda,
                         const float* Q, const float* b, float* C, std::size_t ldc) {
    for (std::size_t m = m0; m + MR <= m1; m += MR) {
        float* Cm = C + m * ldc;
        micro<MR>(kc, A + m * lda, lda, Q, first ? b : Cm, first ? 0 : ldc, Cm, ldc);
    }
}

// Rows [m0, m1) of C times one tile (P_t, bias b, C_t = C + t * kTileRow) in K blocks of kKc, each
// repacked in pairs on the stack.
void rows_times_tile(std::size_t m0, std::size_t m1, std::size_t K, const float* A, std::size_t lda, const float* Pt,
                     const float* b, float* Ct, std::size_t ldc) {
    alignas(64) float Q[kKc * kTileRow];
    const std::size_t m8 = m0 + (m1 - m0) / 8 * 8, m4 = m8 + (m1 - m8) / 4 * 4;
    for (std::size_t k0 = 0; k0 < K; k0 += kKc) {
        const std::size_t kc = K - k0 < kKc ? K - k0 : kKc;
        repack_pairs(Pt + k0 * kTileRow, kc, Q);
        rows_of_tile<8>(m0, m8, kc, k0 == 0, A + k0, lda, Q, b, Ct, ldc);
        rows_of_tile<4>(m8, m4, kc, k0 == 0, A + k0, lda, Q, b, Ct, ldc);
        rows_of_tile<1>(m4, m1, kc, k0 == 0, A + k0, lda, Q, b, Ct, ldc);
    }
}

// Long rows (K > kKc): MR rows of A times tiles t and t + 1 over the whole of K
// (tile_pair_products: three 512-bit FMAs a row and k, every lane summed in k order), started from
// the bias, stored once. Without K blocks, C is written once instead of once per block.
template <int MR>
inline void pair_rows(std::size_t K, const float* A, std::size_t lda, const float* P0, const float* P1,
                      const float* bias, float* C, std::size_t ldc) {
    __m512 X0[MR], X1[MR], X2[MR];
    for (int i = 0; i < MR; ++i) {
        X0[i] = _mm512_loadu_ps(bias);
        X1[i] = _mm512_loadu_ps(bias + 16);
        X2[i] = _mm512_loadu_ps(bias + 32);
    }
    tile_pair_products<MR>(P0, P1, A, lda, K, X0, X1, X2);
    for (int i = 0; i < MR; ++i) {
        _mm512_storeu_ps(C + i * ldc, X0[i]);
        _mm512_storeu_ps(C + i * ldc + 16, X1[i]);
        _mm512_storeu_ps(C + i * ldc + 32, X2[i]);
    }
}

// Rows of A in blocks whose K floats fit L2 (kLongRowsFloats), each block through every pair of
// tiles; a pair's rows (K x 48 floats) stay in L2 while the block's rows go through them 8 at a time.
constexpr std::size_t kLongRowsFloats = 64 * 1024;

void gemm_long_rows(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                    std::size_t tile_stride, std::size_t tiles, const float* bias, float* C, std::size_t ldc) {
    static const float zeros[2 * kTileRow] = {};
    const std::size_t mc = std::max<std::size_t>(8, kLongRowsFloats / K / 8 * 8);
    for (std::size_t m0 = 0; m0 < M; m0 += mc) {
        const std::size_t m1 = std::min(M, m0 + mc), m8 = m0 + (m1 - m0) / 8 * 8;
        for (std::size_t t = 0; t < tiles; t += 2) {
            const float* P0 = P + t * tile_stride;
            const float* b = bias ? bias + t * kTileRow : zeros;
            if (t + 1 == tiles) {  // an odd last tile alone
                rows_times_tile(m0, m1, K, A, lda, P0, b, C + t * kTileRow, ldc);
                continue;
            }
            std::size_t m = m0;
            for (; m < m8; m += 8) pair_rows<8>(K, A + m * lda, lda, P0, P0 + tile_stride, b, C + m * ldc + t * kTileRow, ldc);
            for (; m < m1; ++m) pair_rows<1>(K, A + m * lda, lda, P0, P0 + tile_stride, b, C + m * ldc + t * kTileRow, ldc);
        }
    }
}

}  // namespace

void gemm_packed_f32_avx512(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                            std::size_t tile_stride, std::size_t tiles, const float* bias, float* C,
                            std::size_t ldc) {
    static const float zeros[kTileRow] = {};
    if (K == 0) {
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t t = 0; t < tiles; ++t)
                micro<1>(0, A, lda, P, bias ? bias + t * kTileRow : zeros, 0, C + m * ldc + t * kTileRow, ldc);
        return;
    }
    if (K > kKc) return gemm_long_rows(M, K, A, lda, P, tile_stride, tiles, bias, C, ldc);
    for (std::size_t m0 = 0; m0 < M; m0 += kGemmMc) {
        const std::size_t m1 = M - m0 < kGemmMc ? M : m0 + kGemmMc;
        for (std::size_t t = 0; t < tiles; ++t)
            rows_times_tile(m0, m1, K, A, lda, P + t * tile_stride, bias ? bias + t * kTileRow : zeros, C + t * kTileRow,
                            ldc);
    }
}

}  // namespace gru_infer

#include "kernels/simd/avx512_target_end.h"
#endif  // x86-64
