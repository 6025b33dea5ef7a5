// gemm_nt of one ISA against the scalar reference, over random shapes with vector tails.
#include <cmath>
#include <cstdio>

#include "kernel_test_util.h"

using namespace gru_infer;

namespace {

void check_gemm(const Kernels& k, std::mt19937& rng, std::size_t M, std::size_t N, std::size_t K, bool bias) {
    const std::size_t lda = K + (M % 3), ldb = K + (N % 2), ldc = N + 1;  // strides wider than rows too
    auto A = test::random_vec(rng, M * lda), B = test::random_vec(rng, N * ldb), b = test::random_vec(rng, N);
    std::vector<float> ref(M * ldc, 7.0f), got(M * ldc, 7.0f);
    scalar_kernels().gemm_nt(M, N, K, A.data(), lda, B.data(), ldb, bias ? b.data() : nullptr, ref.data(), ldc);
    k.gemm_nt(M, N, K, A.data(), lda, B.data(), ldb, bias ? b.data() : nullptr, got.data(), ldc);
    // Different summation order: error grows like sqrt(K) * eps * |terms|.
    const float tol = 1e-6f * (4.0f + static_cast<float>(K));
    const float err = test::max_abs_diff(ref.data(), got.data(), ref.size());
    if (!(err <= tol))
        std::fprintf(stderr, "%s gemm_nt M=%zu N=%zu K=%zu: max err %g > %g\n", k.name, M, N, K, err, tol);
    CHECK(err <= tol);
    for (std::size_t m = 0; m < M; ++m) CHECK(got[m * ldc + N] == 7.0f);  // padding untouched
}

}  // namespace

int main(int argc, char** argv) {
    return test::run_kernel_test(argc, argv, "test_gemm_nt", [](const Kernels& k, std::mt19937& rng) {
        const std::size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 255, 257};
        for (std::size_t M : {1, 2, 3, 5, 9})
            for (std::size_t N : sizes)
                for (std::size_t K : sizes) check_gemm(k, rng, M, N, K, (M + N + K) % 2 == 0);
        std::uniform_int_distribution<std::size_t> d(1, 300);
        for (int i = 0; i < 200; ++i) check_gemm(k, rng, d(rng) % 20 + 1, d(rng), d(rng), i % 2);
    });
}
