// AVX2 reduced-precision batches (issue 24): products of kQBatchRows+ rows (the input projection
// of a sequence batch, the steps of B rows). bf16 (when MXCSR flushes denormals) and fp16 as an
// fp32 GEMM on weights widened once per run of blocks (qpanel.h); int8 runs Avx2QOps' products
// unchanged (row blocking measured no faster: benchmarks/results.md). Fewer rows run Avx2QOps as
// before; the values are the same bit for bit either way. Include after a target pragma with avx2, fma, f16c.
#pragma once
#include "qops_avx2.h"
#include "qpanel.h"

namespace gru_infer {

struct Avx2PanelVec {
    using T = __m256;
    static constexpr int kW = 8, kMaxVec = 2, kMR = 6;  // 6 rows x 2 accumulators, 2 weights, 1 input: 15 ymm
    static T zero() { return _mm256_setzero_ps(); }
    static T load(const float* p) { return _mm256_load_ps(p); }
    static T loadu(const float* p) { return _mm256_loadu_ps(p); }
    static void storeu(float* p, T v) { _mm256_storeu_ps(p, v); }
    static T bcast(const float* p) { return _mm256_broadcast_ss(p); }
    static T fma(T a, T b, T c) {  // on registers: GCC 12 -O3 kept intrinsics' accumulators in memory (qops_avx512.h)
        asm("vfmadd231ps %2, %1, %0" : "+x"(c) : "x"(a), "x"(b));
        return c;
    }
    // A bf16 pair (x[2q] low, x[2q+1] high) at p: its odd element, its even one, as fp32. Both by
    // a shift, the odd one of the word at p + 2: no mask register (6 x 2 accumulators, 2 weights,
    // an input and a mask overflowed AVX2's 16 and spilled). The 2 bytes past a row's last pair
    // are inside the scratch (every prepared row is followed by more of it) and shifted out.
    static T bf16_odd(const char* p) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_set1_epi32(qpanel_load32(p + 2)), 16)); }
    static T bf16_even(const char* p) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_set1_epi32(qpanel_load32(p)), 16)); }
    template <WeightFormat F>
    static void widen16(const char* src, float* d0, float* d1) {
        if constexpr (F == WeightFormat::F16) {
            for (int h = 0; h < 2; ++h)
                _mm256_store_ps(d0 + 8 * h, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(src + 16 * h))));
        } else {
            for (int h = 0; h < 2; ++h) {
                const __m256i p = _mm256_load_si256(reinterpret_cast<const __m256i*>(src + 32 * h));
                _mm256_store_ps(d0 + 8 * h, _mm256_castsi256_ps(_mm256_and_si256(p, _mm256_set1_epi32(int(0xffff0000u)))));
                _mm256_store_ps(d1 + 8 * h, _mm256_castsi256_ps(_mm256_slli_epi32(p, 16)));
            }
        }
    }
};

template <WeightFormat F>
struct Avx2QBatchOps : Avx2QOps<F> {
    using Base = Avx2QOps<F>;

    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        if constexpr (F != WeightFormat::Int8) {
            if (rows >= kQBatchRows && (F == WeightFormat::F16 || FlushDenormals::active()))
                return QPanel<Avx2PanelVec, F>::dot(m, blocks, rows, s0, ns, v, v_stride, init, ld_init, out, ld_out);
        }
        Base::dot(m, blocks, rows, s0, ns, v, v_stride, sv, ldsv, init, ld_init, out, ld_out);
    }
};

}  // namespace gru_infer
