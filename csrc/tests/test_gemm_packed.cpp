// gemm_packed (the input projection over packed tiles) of one ISA against the scalar reference.
#include <cmath>
#include <cstdio>

#include "kernel_test_util.h"

using namespace gru_infer;

namespace {

void check_gemm_packed(const Kernels& k, std::mt19937& rng, std::size_t M, std::size_t I, std::size_t H) {
    test::RandomGru g(rng, I, H);
    const std::size_t ld = g.p.tiles * kTileRow + 5;
    auto A = test::random_vec(rng, M * (I + 2));
    std::vector<float> ref(M * ld, 3.0f), got(M * ld, 3.0f);
    scalar_kernels().gemm_packed(M, I, A.data(), I + 2, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), ref.data(), ld);
    k.gemm_packed(M, I, A.data(), I + 2, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), got.data(), ld);
    const float err = test::max_abs_diff(ref.data(), got.data(), ref.size());
    if (!(err <= 1e-6f * (4.0f + I))) std::fprintf(stderr, "%s gemm_packed M=%zu I=%zu H=%zu err %g\n", k.name, M, I, H, err);
    CHECK(err <= 1e-6f * (4.0f + I));
}

}  // namespace

int main(int argc, char** argv) {
    return test::run_kernel_test(argc, argv, "test_gemm_packed", [](const Kernels& k, std::mt19937& rng) {
        const std::size_t odd[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 255, 257};
        for (std::size_t M : {1, 2, 3, 4, 5, 9})
            for (std::size_t I : odd) check_gemm_packed(k, rng, M, I, odd[(M * 7 + I) % 15]);
        check_gemm_packed(k, rng, 261, 2100, 20);  // several K blocks (1024 each) and M blocks (256)
    });
}
