// Reduced-precision weights (int8, bf16, fp16): their packed layout and the kernels that run on it.
//
// A QMatrix holds the rows of a weight matrix in blocks of S x 16 rows (S = 3 for a GRU tile: its
// z, r and n rows of 16 units; S = 1 for Dense). Within a block, for each group of G inputs
// (G = 4 for int8, 2 for bf16, 1 for fp16), sub-block s holds 16 lanes of G consecutive weights:
//     block b, group q, sub s, lane l, element e  at  ((b * groups + q) * S + s) * 16 * G + l * G + e
// so one 64-byte (int8, bf16) or 32-byte (fp16) load gives one vpdpbusd / vdpbf16ps / widened FMA
// operand for 16 rows. Inputs past K and rows past the matrix are zero.
//
// Arithmetic (every ISA, every kernel does exactly this; the scalar references are the spec):
//   int8: per-row weight scale ws = max|w| / 127, w_q = round(w / ws) in [-127, 127]. An input row
//         v is quantized v_q = round(clamp(v / sv, -127, 127)) with sv its own absmax / 127
//         (dynamic) or a fixed scale (the state: 1/127; a calibrated input scale). The product
//         is summed exactly in int32 and out = fma(float(sum), ws * sv, init).
//   bf16: weights and inputs rounded to bf16 (round to nearest even, denormals flushed to zero,
//         as vcvtne2ps2bf16 does); per output, pairs (k even, k odd) accumulated into an fp32
//         accumulator that starts at ftz(init): acc = ftz(fma(v[2q+1], w[2q+1], acc)), then
//         acc = ftz(fma(v[2q], w[2q], acc)) (vdpbf16ps: the odd element first, one rounding per
//         product, a denormal accumulator read as zero; a product of two bf16 is exact in fp32
//         when normal, but can be inexact below 2^-126, where the fma matters).
//   fp16: weights stored fp16, widened to fp32; out = init + sum_k v[k] w[k] by fma in k order.
//   AMX (the "amx" tables, simd/amx_tiles.h; products of 16+ rows): int8 by TDPBUSD, the same u8
//         offset and exact int32 sums as vpdpbusd, so bit for bit the above. bf16 by TDPBF16PS,
//         in its order (the SDM's): per output and K chunk of 16 pairs (the kernels' chunks, from
//         k = 0), even and odd products accumulated by FMA into two lanes from zero, then
//         acc = acc + (even + odd), every step RNE with denormals flushed (inputs and results).
//         Not bit-exact: both sum the same K + 1 terms (init and K exact products), each term
//         rounded at most K + 2 times, so with u = 2^-24, K = kpad and gamma(n) = n u / (1 - n u),
//             |amx - scalar| <= 2 gamma(K + 2) (|init| + sum_k |x_k w_k|) + (3K + 2) 2^-126
//         (the last term: a flushed denormal per rounding). test_amx_kernels checks it, and the
//         emulated kernels bit for bit against a scalar sum in the SDM's order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "gru_infer/aligned_buffer.h"
#include "gru_infer/weight_format.h"

namespace gru_infer {

struct GruWeights;

// Whether the reduced-precision kernels are built in: CMake's GRU_INFER_REDUCED_PRECISION=OFF
// leaves them out (no int8/bf16/fp16 kernel file, no packing) and defines
// GRU_INFER_NO_REDUCED_PRECISION; quant_none.cpp then stands in for them, refusing with this message.
#if defined(GRU_INFER_NO_REDUCED_PRECISION)
constexpr bool kHasReducedPrecision = false;
#else
constexpr bool kHasReducedPrecision = true;
#endif
constexpr const char* kNoReducedPrecision =
    "this build of gru_infer has no reduced precision (int8, bf16, fp16): it was built with "
    "GRU_INFER_REDUCED_PRECISION=OFF";

constexpr std::size_t kQLanes = 16;
constexpr std::size_t kQTileRow = 3 * kQLanes;  // a GRU tile: z, r, n of 16 units

inline std::size_t q_group(WeightFormat f) { return f == WeightFormat::Int8 ? 4 : f == WeightFormat::BF16 ? 2 : 1; }
inline std::size_t q_elem_bytes(WeightFormat f) { return f == WeightFormat::Int8 ? 1 : 2; }

// int8: the scale of an input row from its absmax amax (finite) and the requested scale s: s > 0
// fixed; s == 0 dynamic (amax / 127); s < 0 the state's, -s unless the row is larger than 127 * -s
// (an h0 beyond [-1, 1]), then dynamic. Returns the scale and sets inv to the factor that
// quantizes (0 for an all-zero row). Every ISA's quantization uses it (bit for bit the same).
inline float int8_row_scale(float s, float amax, float& inv) {
    if (s > 0.0f) {
        inv = 1.0f / s;
        return s;
    }
    if (s < 0.0f && !(amax > -s * 127.0f)) {
        inv = 1.0f / -s;
        return -s;
    }
    inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    return amax / 127.0f;
}

struct QMatrix {
    WeightFormat format = WeightFormat::Int8;
    std::size_t rows = 0, cols = 0;   // the matrix's own sizes (rows of the plain layout)
    std::size_t subs = 1, blocks = 0; // S, and blocks of S * 16 packed rows
    std::size_t kpad = 0;             // cols rounded up to the group
    AlignedBuffer data;               // blocks * block_bytes() bytes (in floats' storage)
    AlignedBuffer scale;              // int8: per packed row (blocks * S * 16)
    AlignedBuffer rowsum;             // int8: int32 sum of each packed row's weights
    std::size_t groups() const { return kpad / q_group(format); }
    std::size_t block_bytes() const { return kpad * subs * kQLanes * q_elem_bytes(format); }
    std::size_t packed_rows() const { return blocks * subs * kQLanes; }
    const void* bytes() const { return data.data(); }
    const float* scales() const { return scale.data(); }
    const std::int32_t* rowsums() const { return reinterpret_cast<const std::int32_t*>(rowsum.data()); }
};

// Packs (and for int8/bf16/fp16 rounds) a plain row-major matrix. row_of(p) gives the plain row
// of packed row p, or -1 for padding; plain row r has its weights at w + r * cols.
QMatrix pack_qmatrix(WeightFormat f, const float* w, std::size_t rows, std::size_t cols, std::size_t subs,
                     std::size_t blocks, long (*row_of)(std::size_t packed_row, std::size_t rows, std::size_t subs));
// The weights as the kernels see them (dequantized), in the plain layout: rows x cols floats.
void unpack_qmatrix(const QMatrix& m, float* w,
                    long (*row_of)(std::size_t packed_row, std::size_t rows, std::size_t subs));
long gru_row_of(std::size_t packed_row, std::size_t rows, std::size_t subs);    // gate-interleaved tiles
long dense_row_of(std::size_t packed_row, std::size_t rows, std::size_t subs);  // identity

// One GRU direction in reduced precision. Only for sigmoid gates with a tanh candidate.
struct QuantGru {
    WeightFormat format = WeightFormat::Int8;
    std::size_t input = 0, hidden = 0, tiles = 0;  // tiles of 16 units
    QMatrix W, R;              // (3H, I) and (3H, H), S = 3, one block per tile
    AlignedBuffer bx, bh;      // tiles * kQTileRow: input and recurrent biases, packed like rows
    float x_scale = 0.0f;      // int8: calibrated input scale; 0 = dynamic (absmax / 127 per row)
};

// The small-layer steps (gru_step/quant_small*.h) serve batches of 1 to kQSmallRows rows of
// layers of at most kQSmallTiles tiles (H <= 128); larger ones run QuantStep.
constexpr std::size_t kQSmallTiles = 8;
constexpr std::size_t kQSmallRows = 3;

// A Dense layer in reduced precision: out = x W^T + b with W packed S = 1.
struct QuantDense {
    QMatrix W;
    AlignedBuffer bias;     // W.packed_rows() floats, zeros past the outputs
    float x_scale = 0.0f;   // int8: calibrated input scale; 0 = dynamic
};
QuantDense quantize_dense(const float* w, const float* b, std::size_t in, std::size_t out, WeightFormat f,
                          float x_scale = 0.0f);

QuantGru quantize_gru(const GruWeights& w, std::size_t input, std::size_t hidden, WeightFormat f,
                      float x_scale = 0.0f);
GruWeights dequantize_gru(const QuantGru& q);  // the fp32 weights the kernels effectively use

// One step of `rows` sequences through a QuantGru, as GruStepArgs (kernels.h) for fp32.
struct QGruStepArgs {
    std::size_t rows = 0;
    const float* x = nullptr;  // (rows, input), ldx: multiply the input in (streaming), or
    std::size_t ldx = 0;
    const float* xp = nullptr; // (rows, tiles * kQTileRow), ldxp: x W + bx from qgemm (sequences)
    std::size_t ldxp = 0;
    const float* h = nullptr;
    std::size_t ldh = 0;
    float* h_out = nullptr;    // must not alias h
    std::size_t ldo = 0;
    const QuantGru* w = nullptr;
    float clip = 0.0f;
    bool fast = false;
    // Walk the tiles last to first (as GruStepArgs::walk_backward): alternated from step to step,
    // a step starts on the weights the previous one read last. No result depends on it.
    bool walk_backward = false;
    void* scratch = nullptr;   // q_step_scratch_bytes(rows, *w), 64-byte aligned
};

// Blocks [b0, b1) of a QMatrix, visited last to first when backward. Every block's outputs are
// its own, so the order changes no result.
struct QBlockRange {
    std::size_t b0, b1;
    bool backward;
};

// The blocks of r in passes of at most `per_pass`, in r's order: f(QBlockRange) per pass.
template <class F>
inline void for_block_passes(QBlockRange r, std::size_t per_pass, F&& f) {
    const std::size_t n = r.b1 - r.b0;
    for (std::size_t i = 0; i < n; i += per_pass) {
        const std::size_t len = n - i < per_pass ? n - i : per_pass;
        const std::size_t b = r.backward ? r.b1 - i - len : r.b0 + i;
        f(QBlockRange{b, b + len, r.backward});
    }
}

// The blocks of r as runs of N consecutive blocks while they fit, then one at a time, in r's
// order: f(first block, whether the run has N blocks).
template <std::size_t N, class F>
inline void for_block_runs(QBlockRange r, F&& f) {
    if (!r.backward) {
        std::size_t b = r.b0;
        for (; b + N <= r.b1; b += N) f(b, true);
        for (; b < r.b1; ++b) f(b, false);
    } else {
        std::size_t b = r.b1;
        for (; b >= r.b0 + N; b -= N) f(b - N, true);
        for (; b > r.b0; --b) f(b - 1, false);
    }
}

// The step's scratch, per row (every ISA uses these offsets): pre-activations A (the input
// product, tiles * kQTileRow floats) and B (the recurrent one), r * h (Cho), then the quantized
// (int8, bf16) input, state and r * h, and the input's scale.
struct QStepScratch {
    std::size_t a, b, rh, xq, hq, rhq, sx, sh, row_bytes;
    explicit QStepScratch(const QuantGru& w) {
        auto up = [](std::size_t n) { return (n + 63) / 64 * 64; };
        const std::size_t P = w.tiles * kQTileRow * sizeof(float);
        const std::size_t es = w.format == WeightFormat::F16 ? 4 : q_elem_bytes(w.format);  // fp16: x stays fp32
        a = 0; b = up(P); rh = b + up(P); xq = rh + up(w.tiles * kQLanes * sizeof(float));
        hq = xq + up(w.W.kpad * es); rhq = hq + up(w.R.kpad * es); sx = rhq + up(w.R.kpad * es);
        sh = sx + sizeof(float);
        row_bytes = sx + 64;
    }
};
inline std::size_t q_step_scratch_bytes(std::size_t rows, const QuantGru& w) {
    return rows * QStepScratch(w).row_bytes;
}
// Products of at least this many rows run blocked as a GEMM (batch kernels, e.g. qbatch_avx512.h).
constexpr std::size_t kQBatchRows = 4;
// qgemm quantizes A in chunks of kQGemmRows rows: its scratch does not grow with M.
constexpr std::size_t kQGemmRows = 256;
inline std::size_t q_gemm_row_bytes(const QMatrix& m) {
    return (m.kpad * (m.format == WeightFormat::F16 ? 4 : q_elem_bytes(m.format)) + 63) / 64 * 64;
}
inline std::size_t q_gemm_scratch_bytes(std::size_t M, const QMatrix& m) {
    const std::size_t rows = M < kQGemmRows ? M : kQGemmRows;
    return rows * (q_gemm_row_bytes(m) + sizeof(float)) + 64;
}

struct QKernels {
    const char* name;
    // C[i, p] = init[p] + (A_i . row p of m) for every packed row p (blocks * S * 16 of them; C
    // needs that many columns). A_i is quantized per row (int8: a_scale > 0 fixed, else dynamic).
    void (*gemm)(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale,
                 const float* init, float* C, std::size_t ldc, void* scratch);
    void (*gru_step_reset_after)(const QGruStepArgs& a);
    void (*gru_step_reset_before)(const QGruStepArgs& a);
    // Reduced-precision GRU layers of at most this many units run the fp32 kernels instead, on
    // their weights dequantized (GruLayer keeps both): this table runs their steps slower than fp32
    // does (crossovers measured per table, quant_dispatch.cpp). 0 for the scalar references, which
    // are the spec.
    std::size_t fp32_max_hidden;
    // Whether batches (kStepGemmRows+ rows) run the fp32 kernels on the layer's weights widened once
    // and kept (GruLayer::for_rows): this table widens fp16 / bf16 weights per use anyway (no native
    // dot product) and its batch kernels are slower than fp32's for it.
    bool fp32_batches;
};

// q_active(f)'s fp32_max_hidden and fp32_batches.
std::size_t q_fp32_max_hidden(WeightFormat f);
bool q_fp32_batches(WeightFormat f);

// Kernel tables by format and ISA; null when this build has none for the pair.
const QKernels* q_kernels(WeightFormat f, const std::string& isa);
// The table for the ISA in use (active_kernels().name), falling back to the best one that exists.
const QKernels& q_active(WeightFormat f);
bool cpu_has_avx2_f16c();  // AVX2, FMA and F16C with the OS saving YMM state
bool cpu_has_avx512();  // AVX-512 F/BW/DQ/VL with the OS saving ZMM state (XCR0 0xE0)
bool cpu_has_avx512_vnni();
bool cpu_has_avx512_bf16();
// AMX-TILE and AMX-INT8 (AMX-BF16) with the OS saving the tile state (XCR0 bits 17, 18) and, on
// Linux, this process granted it (arch_prctl ARCH_REQ_XCOMP_PERM, asked once); with the AVX-512
// features their epilogues use (VNNI; for bf16 also AVX512_BF16). False everywhere else.
bool cpu_has_amx_int8();
bool cpu_has_amx_bf16();
bool cpu_has_neon_dotprod();  // aarch64 dot-product extension (sdot), from the kernel's HWCAP
// The NEON kernels run here: always on aarch64; on armv7 if the kernel reports NEON and VFPv4
// (AT_HWCAP; neon_config.h); never elsewhere.
bool cpu_has_neon();

// bf16 / fp16 conversions of the arithmetic above (scalar; also used by the packers).
std::uint16_t to_bf16(float v);  // RNE, denormals flushed, NaN kept quiet
float from_bf16(std::uint16_t b);
std::uint16_t to_fp16(float v);  // IEEE binary16, RNE
float from_fp16(std::uint16_t h);
inline float ftz(float v) {  // flush a denormal to a zero of its sign
    std::uint32_t b;
    __builtin_memcpy(&b, &v, 4);
    if ((b & 0x7f800000u) == 0) b &= 0x80000000u;
    __builtin_memcpy(&v, &b, 4);
    return v;
}

}  // namespace gru_infer
