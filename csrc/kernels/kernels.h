// The kernel table: every hot loop goes through one of these function pointers, chosen once at
// start-up from the CPU's features (CPUID on x86; NEON is always there on aarch64), or forced with
// GRU_INFER_ISA=scalar|avx2|neon.
// Each entry has a scalar reference in kernels/scalar/ that the optimised versions are tested
// against (csrc/tests/test_kernels.cpp).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace gru_infer {

// Packed GRU weights are cut into tiles of kTile units; a packed row of a tile holds the z, r and n
// weights of its units for one input (kTileRow floats). Same layout on every ISA (packed_gru.h).
constexpr std::size_t kTile = 8;
constexpr std::size_t kTileRow = 3 * kTile;

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
    float clip = 0.0f;          // > 0: clamp every pre-activation to [-clip, clip]
    bool fast = false;          // rational activations (max error 1e-4) instead of exact ones
    // Walk the tiles last to first. Alternating it from one step to the next starts each step on
    // the weights the previous one touched last, which are still in the nearest cache.
    bool reverse_tiles = false;
    // rows * tiles * 2 * kTileRow floats (gru_step_scratch_floats), or null. The Cho form needs
    // it; the lbr form uses it to run batches of rows as a GEMM.
    float* scratch = nullptr;
};

inline std::size_t gru_step_scratch_floats(std::size_t rows, std::size_t hidden) {
    return rows * ((hidden + kTile - 1) / kTile) * 2 * kTileRow;
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
    // GRU update, reset gate applied after the recurrent product (PyTorch, lbr = 1).
    void (*gru_lbr_step)(const GruStepArgs& a);
    // GRU update, reset gate applied before it (Cho et al., ONNX default): two dependent passes.
    void (*gru_cho_step)(const GruStepArgs& a);
    // y = sigmoid(x), y = tanh(x) over n values (in place allowed); max abs error 2e-7; NaN -> NaN.
    void (*sigmoid)(std::size_t n, const float* x, float* y);
    void (*tanh)(std::size_t n, const float* x, float* y);
};

const Kernels& scalar_kernels();
#if defined(__x86_64__) || defined(_M_X64)
const Kernels& avx2_kernels();
#endif
#if defined(__aarch64__)
const Kernels& neon_kernels();
#endif

// The table in use. Chosen on first call from GRU_INFER_ISA or the CPU.
const Kernels& active_kernels();
// Kernel tables this CPU can run, by name ("scalar" first).
std::vector<std::string> available_isas();
// Switch the table in use (for tests and benchmarks). Throws InvalidArgument for an unknown or
// unsupported name. Not thread-safe against running models.
void set_isa(const std::string& name);

}  // namespace gru_infer
