// gemm_packed (the input projection over packed tiles) of one ISA against the scalar reference.
#include <cmath>
#include <cstdio>

#include "kernel_test_util.h"

using namespace gru_infer;

namespace {

// special: some inputs are +-inf, so every output an inf reaches is +-inf or NaN (0 * inf) exactly
// where the reference has it; the kernels' padding (an odd last row paired with zeros, tile lanes
// past H) must not add a 0 * inf of its own.
void check_gemm_packed(const Kernels& k, std::mt19937& rng, std::size_t M, std::size_t I, std::size_t H,
                       bool special = false) {
    test::RandomGru g(rng, I, H);
    const std::size_t ld = g.p.tiles * kTileRow + 5;
    auto A = test::random_vec(rng, M * (I + 2));
    if (special)
        for (std::size_t m = 0; m < M; m += 2) A[m * (I + 2) + (m * 5) % I] = m % 4 ? -INFINITY : INFINITY;
    std::vector<float> ref(M * ld, 3.0f), got(M * ld, 3.0f);
    scalar_kernels().gemm_packed(M, I, A.data(), I + 2, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), ref.data(), ld);
    k.gemm_packed(M, I, A.data(), I + 2, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), got.data(), ld);
    float err = 0.0f;
    std::size_t mismatched = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        if (std::isfinite(ref[i]) && std::isfinite(got[i])) err = std::fmax(err, std::fabs(ref[i] - got[i]));
        else mismatched += !(std::isnan(ref[i]) ? std::isnan(got[i]) : ref[i] == got[i]);
    }
    if (!(err <= 1e-6f * (4.0f + I)) || mismatched)
        std::fprintf(stderr, "%s gemm_packed M=%zu I=%zu H=%zu%s err %g, %zu non-finite mismatches\n", k.name, M, I,
                     H, special ? " (inf inputs)" : "", err, mismatched);
    CHECK(err <= 1e-6f * (4.0f + I));
    CHECK(mismatched == 0);
}

}  // namespace

int main(int argc, char** argv) {
    return test::run_kernel_test(argc, argv, "test_gemm_packed", [](const Kernels& k, std::mt19937& rng) {
        const std::size_t odd[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 255, 257};
        for (std::size_t M : {1, 2, 3, 4, 5, 8, 9, 12, 15, 17})  // 8-row micro-kernels and their tails too
            for (std::size_t I : odd) {
                check_gemm_packed(k, rng, M, I, odd[(M * 7 + I) % 15]);
                check_gemm_packed(k, rng, M, I, odd[(M * 3 + I) % 15], true);
            }
        check_gemm_packed(k, rng, 261, 2100, 20);  // several K blocks (1024 each) and M blocks (256)
    });
}
