// The kernel table: every hot loop goes through one of these function pointers, chosen once at
// start-up from the CPU's features (CPUID on x86), or forced with GRU_INFER_ISA=scalar|avx2.
// Each entry has a scalar reference in kernels/scalar/ that the optimised versions are tested against.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace gru_infer {

struct Kernels {
    const char* name;
    // C[m, n] = sum_k A[m, k] * B[n, k] + (bias ? bias[n] : 0), for m < M, n < N.
    // A is M x K with row stride lda; B is N x K with row stride ldb (weights, PyTorch layout).
    void (*gemm_nt)(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                    const float* B, std::size_t ldb, const float* bias, float* C, std::size_t ldc);
};

const Kernels& scalar_kernels();
#if defined(__x86_64__) || defined(_M_X64)
const Kernels& avx2_kernels();
#endif

// The table in use. Chosen on first call from GRU_INFER_ISA or the CPU.
const Kernels& active_kernels();
// Kernel tables this CPU can run, by name ("scalar" first).
std::vector<std::string> available_isas();
// Switch the table in use (for tests and benchmarks). Throws InvalidArgument for an unknown or
// unsupported name. Not thread-safe against running models.
void set_isa(const std::string& name);

}  // namespace gru_infer
