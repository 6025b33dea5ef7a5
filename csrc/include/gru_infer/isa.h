// Which kernels run: every hot loop has a scalar reference and SIMD versions (AVX2 + FMA and
// AVX-512 on x86-64, NEON on aarch64 and on armv7 CPUs with NEON and VFPv4), picked once at
// start-up from the CPU (or from
// GRU_INFER_ISA=scalar|avx2|avx512|amx|neon).
#pragma once
#include <string>
#include <vector>

namespace gru_infer {

// ISAs this build has kernels for and this CPU can run, by name ("scalar" first).
std::vector<std::string> available_isas();
// Switch the kernels in use (for tests and benchmarks). Throws InvalidArgument for an unknown or
// unsupported name. Not thread-safe against running models.
void set_isa(const std::string& name);
// The name of the kernels in use ("scalar", "avx2", "avx512", "amx", "neon"; amx: AVX-512 with AMX
// tiles for int8 / bf16 batches, listed only on CPUs with AMX, and only chosen when asked for).
const char* active_isa();

}  // namespace gru_infer
