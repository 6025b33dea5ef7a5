// The kernel table (private: not installed). Every hot loop goes through one of these function
// pointers, chosen once at start-up from the CPU's features (CPUID on x86; NEON is always there on
// aarch64; on armv7, AT_HWCAP's NEON and VFPv4), or forced with GRU_INFER_ISA=scalar|avx2|avx512|amx|neon.
// Tables are listed in dispatch.cpp.
// Each entry has a scalar reference (kernels/<op>/<op>_f32_scalar.cpp) that the optimised versions
// are tested against (csrc/tests/test_<op>.cpp).
#pragma once
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "gru_infer/isa.h"
#include "gru_infer/packed_gru.h"  // kTile, kTileRow, tiles_for: the packed layout

namespace gru_infer {

// One recurrent update of `rows` independent sequences (a batch). Gate activations are sigmoid
// (z, r) and tanh (n); the layer takes a generic path for any other activation.
struct GruStepArgs {
    std::size_t rows = 0, input = 0, hidden = 0;
    const float* x = nullptr;   // (rows, input), ldx: fuse the input product in (streaming), or
    std::size_t ldx = 0;
    const float* xp = nullptr;  // (rows, tiles * kTileRow), ldxp: precomputed x P + bx (sequences)
    std::size_t ldxp = 0;
    const float* h = nullptr;   // (rows, hidden), ldh: previous state
    std::size_t ldh = 0;
    float* h_out = nullptr;     // (rows, hidden), ldo: new state; must not alias h
    std::size_t ldo = 0;
    const float* w = nullptr;   // packed weights: per tile, `input` rows then `hidden` rows
    std::size_t tile_stride = 0;
    const float* bx = nullptr;  // packed input biases, kTileRow per tile
    const float* bh = nullptr;  // packed recurrent biases, kTileRow per tile
    const float* w_gate_major = nullptr;  // pack_gate_major_recurrent of w (small layers), or null
    float clip = 0.0f;          // > 0: clamp every pre-activation to [-clip, clip]
    bool fast = false;          // rational activations (max error 1e-4) instead of exact ones
    // Walk the tiles last to first. Alternating it from one step to the next starts each step on
    // the weights the previous one touched last, which are still in the nearest cache.
    bool walk_backward = false;
    // rows * tiles * 2 * kTileRow floats (gru_step_scratch_floats), or null. The Cho form needs
    // it; the lbr form uses it to run batches of rows as a GEMM.
    float* scratch = nullptr;
};

// gru_step_reset_after (AVX2) runs a step of at least this many rows, given scratch, as one GEMM,
// which rounds differently from its per-row path. So that a row's result never depends on how a
// batch is split, callers keep every part of a batch of >= kStepGemmRows rows at >= kStepGemmRows
// rows (Model::predict's thread chunks; GruLayer::run_direction pads the rows it gathers).
constexpr std::size_t kStepGemmRows = 4;

inline std::size_t gru_step_scratch_floats(std::size_t rows, std::size_t hidden) {
    return rows * tiles_for(hidden) * 2 * kTileRow;
}

// The Cho form's use of the scratch, per row m: z, r * h and the input part of n, tiles * kTile
// floats each, unit-indexed (the lanes past the layer hold z and r * h = 0 of zero weights).
struct ChoScratch {
    float *z, *rh, *nx;
    static std::size_t row_floats(const GruStepArgs& a) { return 3 * tiles_for(a.hidden) * kTile; }
    ChoScratch(const GruStepArgs& a, std::size_t m) {
        z = a.scratch + m * row_floats(a);
        rh = z + row_floats(a) / 3;
        nx = rh + row_floats(a) / 3;
    }
};

// Rows in blocks of 8, then 4, then one at a time: f8(m0), f4(m0), f1(m0) (kernels that give each
// row the same operations in any block, so that a batch's split never changes a row's result).
template <class F8, class F4, class F1>
inline void for_row_blocks(std::size_t rows, F8 f8, F4 f4, F1 f1) {
    const std::size_t m8 = rows / 8 * 8, m4 = m8 + (rows - m8) / 4 * 4;
    for (std::size_t m = 0; m < m8; m += 8) f8(m);
    for (std::size_t m = m8; m < m4; m += 4) f4(m);
    for (std::size_t m = m4; m < rows; ++m) f1(m);
}

struct Kernels {
    const char* name;
    // C[m, n] = sum_k A[m, k] * B[n, k] + (bias ? bias[n] : 0), for m < M, n < N.
    // A is M x K with row stride lda; B is N x K with row stride ldb (weights, PyTorch layout).
    void (*gemm_nt)(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                    const float* B, std::size_t ldb, const float* bias, float* C, std::size_t ldc);
    // C[m, t*kTileRow + c] = bias[t*kTileRow + c] + sum_k A[m, k] * P_t[k, c] for `tiles` packed
    // tiles P_t = P + t * tile_stride (kTileRow floats per k). C has row stride ldc.
    void (*gemm_packed)(std::size_t M, std::size_t K, const float* A, std::size_t lda, const float* P,
                        std::size_t tile_stride, std::size_t tiles, const float* bias, float* C,
                        std::size_t ldc);
    // GRU update, reset gate applied after the recurrent product (PyTorch, Keras reset_after,
    // ONNX linear_before_reset = 1; "lbr" in the kernels).
    void (*gru_step_reset_after)(const GruStepArgs& a);
    // GRU update, reset gate applied before it (Cho et al., ONNX default; "cho" in the kernels):
    // two dependent passes.
    void (*gru_step_reset_before)(const GruStepArgs& a);
    // y = sigmoid(x), y = tanh(x) over n values (in place allowed); max abs error 2e-7; NaN -> NaN.
    void (*sigmoid)(std::size_t n, const float* x, float* y);
    void (*tanh)(std::size_t n, const float* x, float* y);
};

// The scalar reference table (always compiled, always runnable).
const Kernels& scalar_kernels();
// The table of an ISA compiled into this build, or null (whether the CPU runs it: available_isas).
const Kernels* compiled_kernels(const std::string& isa);
// Tables compiled into this build, by name ("scalar" first), whether or not this CPU runs them.
std::vector<std::string> compiled_isas();

// Whether a table's fp32 kernels are AVX-512's: "avx512", and "amx" (the same fp32 kernels, AMX
// only in its int8 / bf16 tables). For code that keys on the AVX-512 fp32 step (gate-major copies).
inline bool uses_avx512_f32(const char* isa_name) {
    return std::strcmp(isa_name, "avx512") == 0 || std::strcmp(isa_name, "amx") == 0;
}

// The table in use. Chosen on first call from GRU_INFER_ISA or the CPU; set_isa switches it.
const Kernels& active_kernels();

}  // namespace gru_infer
