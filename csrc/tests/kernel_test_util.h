// Shared by the per-operation kernel tests (test_gemm_nt, test_gemm_packed, test_gru_step,
// test_vact): the ISA to test from the command line, and a random packed GRU.
//     test_<op> [--isa scalar|avx2|neon|...]   (no --isa: every ISA this CPU runs)
// Every optimised kernel is checked against the scalar reference (scalar_kernels()), which is
// checked against double-precision libm or exact sums where that applies.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"
#include "runtime/denormals.h"
#include "test_util.h"

namespace test {

// ARMv7's NEON flushes denormals to zero (inputs and results) whatever FPSCR says; its scalar
// VFP code, the reference, flushes only under FPSCR.FZ. So on armv7 a kernel test runs under
// FlushDenormals, every ISA and the reference alike: the reference then computes what NEON does,
// and bit-exact comparisons stay bit-exact (that is also how the library runs its kernels:
// predict and streams hold a FlushDenormals). Elsewhere this is empty: x86 and aarch64 keep
// comparing in the caller's mode.
struct FlushLikeArmv7Neon {
#if defined(__arm__) && !defined(__aarch64__)
    gru_infer::FlushDenormals flush;
#endif
};

// Exit code for "not run": ctest reports it as Skipped (SKIP_RETURN_CODE in CMakeLists.txt).
constexpr int kSkipped = 77;

inline std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& s : names) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// Runs check(kernels, rng) for the ISA named by --isa (made active with set_isa), or for every ISA
// this CPU runs. An ISA this build has no kernels for is an error (exit 2); one it has but this
// CPU cannot run prints that the test was not run and exits with kSkipped.
template <typename Check>
int run_kernel_test(int argc, char** argv, const char* program, Check check) {
    std::vector<std::string> isas = gru_infer::available_isas();
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) {
            const std::string isa = argv[++i];
            if (!gru_infer::compiled_kernels(isa)) {
                std::fprintf(stderr, "%s: this build has no '%s' kernels (it has: %s)\n", program, isa.c_str(),
                             join(gru_infer::compiled_isas()).c_str());
                return 2;
            }
            bool runs = false;
            for (const auto& s : isas) runs = runs || s == isa;
            if (!runs) {
                std::printf("%s: NOT RUN: this CPU cannot run the '%s' kernels (it runs: %s)\n", program, isa.c_str(),
                            join(isas).c_str());
                return kSkipped;
            }
            isas = {isa};
        } else {
            std::fprintf(stderr, "usage: %s [--isa NAME]\n", program);
            return 2;
        }
    }
    std::mt19937 rng(1234);
    const FlushLikeArmv7Neon flush;
    for (const auto& isa : isas) {
        gru_infer::set_isa(isa);
        std::printf("%s: ISA %s\n", program, isa.c_str());
        check(gru_infer::active_kernels(), rng);
    }
    // Forcing an ISA the machine lacks is an error, not a crash.
    CHECK_THROWS(gru_infer::set_isa("no-such-isa"), gru_infer::InvalidArgument);
    return finish(program);
}

// A packed GRU of random weights, as the layer would build it.
struct RandomGru {
    std::size_t I, H;
    gru_infer::GruWeights w;
    gru_infer::PackedGru p;
    gru_infer::AlignedBuffer gate_major;  // pack_gate_major_recurrent(p): empty outside 9-32 units
    const float* gate_major_or_null() const { return gate_major.size() ? gate_major.data() : nullptr; }
    RandomGru(std::mt19937& rng, std::size_t I_, std::size_t H_) : I(I_), H(H_) {
        using gru_infer::AlignedBuffer;
        auto W = random_vec(rng, 3 * H * I), R = random_vec(rng, 3 * H * H), bW = random_vec(rng, 3 * H),
             bR = random_vec(rng, 3 * H);
        w.W = AlignedBuffer(W.data(), W.size());
        w.R = AlignedBuffer(R.data(), R.size());
        w.bW = AlignedBuffer(bW.data(), bW.size());
        w.bR = AlignedBuffer(bR.data(), bR.size());
        p = gru_infer::pack_gru(w, I, H);
        gate_major = gru_infer::pack_gate_major_recurrent(p);
    }
};

}  // namespace test
