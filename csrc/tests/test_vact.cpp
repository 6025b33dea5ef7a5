// The vector activations (sigmoid, tanh) of one ISA against double-precision libm; with the scalar
// ISA also the reduced-precision kernels' gates (pow2_math.h as the scalar reference emulates it,
// which every ISA's int8/bf16/fp16 kernels match bit for bit: test_quant_kernels).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // as in the scalar kernels that use vec_math_emulated.h
#elif defined(__clang__)
#pragma clang fp contract(off)
#endif
#include <cmath>
#include <cstdio>
#include <string>

#include "kernel_test_util.h"
#include "kernels/simd/vec_math_emulated.h"

using namespace gru_infer;

namespace {

// Exact activations (y = f(x) over n values) against double-precision libm over a dense grid, the
// extremes and NaN.
template <class Sigmoid, class Tanh>
void check_activations(const char* name, Sigmoid sigmoid, Tanh tanh) {
    std::vector<float> x;
    for (float v = -20.0f; v <= 20.0f; v += 1.0f / 1024) x.push_back(v);
    for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, 0.625f, -0.625f, 88.0f, -88.0f, 100.0f, -100.0f, 1e30f,
                    -1e30f, 3.4e38f, -3.4e38f, INFINITY, -INFINITY})
        x.push_back(v);
    std::vector<float> s(x.size()), t(x.size());
    sigmoid(x.size(), x.data(), s.data());
    tanh(x.size(), x.data(), t.data());
    double es = 0, et = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        es = std::fmax(es, std::fabs(s[i] - 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])))));
        et = std::fmax(et, std::fabs(t[i] - std::tanh(static_cast<double>(x[i]))));
    }
    std::printf("%s: max abs error sigmoid %.3g, tanh %.3g over %zu points\n", name, es, et, x.size());
    CHECK(es <= 2e-7);
    CHECK(et <= 2e-7);
    float nan_in[3] = {NAN, 1.0f, -NAN}, out[3];
    sigmoid(3, nan_in, out);
    CHECK(std::isnan(out[0]) && std::isnan(out[2]) && !std::isnan(out[1]));
    tanh(3, nan_in, out);
    CHECK(std::isnan(out[0]) && std::isnan(out[2]) && !std::isnan(out[1]));
}

// w tanh(x) + c with tanh folded into the update (Pow2Math::fma_tanh_of_u), as the AVX-512 step of
// small layers runs it, against double libm: w = 1 - z and c = z h of a GRU (|w| + |c| <= 1).
template <class M>
void check_fma_tanh() {
    double worst = 0;
    for (float w : {1.0f, 0.75f, 0.3f, 0.01f, 0.0f})
        for (float c : {0.0f, 1.0f - w, -(1.0f - w), 0.5f * (1.0f - w)})
            for (float x = -20.0f; x <= 20.0f; x += 1.0f / 512) {
                const double want = w * std::tanh(static_cast<double>(x)) + c;
                worst = std::fmax(worst, std::fabs(M::fma_tanh_of_u(x * M::kTanhScale, w, c) - want));
            }
    std::printf("pow2_math.h fma_tanh_of_u: max abs error %.3g\n", worst);
    CHECK(worst <= 2e-7);
    CHECK(std::isnan(M::fma_tanh_of_u(NAN, 0.5f, 0.25f)));
    CHECK(M::fma_tanh_of_u(INFINITY, 0.5f, 0.25f) == 0.75f && M::fma_tanh_of_u(-INFINITY, 0.5f, 0.25f) == -0.25f);
}

}  // namespace

int main(int argc, char** argv) {
    return test::run_kernel_test(argc, argv, "test_vact", [](const Kernels& k, std::mt19937& rng) {
        (void)rng;
        check_activations(k.name, k.sigmoid, k.tanh);
        if (std::string(k.name) == "scalar") {
            check_activations(
                "reduced-precision gates (emulated pow2_math.h)",
                [](std::size_t n, const float* x, float* y) { for (std::size_t i = 0; i < n; ++i) y[i] = emu::sigmoid(x[i]); },
                [](std::size_t n, const float* x, float* y) { for (std::size_t i = 0; i < n; ++i) y[i] = emu::tanh(x[i]); });
            // From pre-scaled arguments, as the AVX-512 step of small layers calls them (the same
            // template; the argument's own rounding is part of the error).
            using M = Pow2Math<Pow2LanesEmulated<emu::ScalarLanes>>;
            check_activations(
                "pow2_math.h from scaled arguments (sigmoid_of_t, tanh_of_u)",
                [](std::size_t n, const float* x, float* y) {
                    for (std::size_t i = 0; i < n; ++i) y[i] = M::sigmoid_of_t(x[i] * M::kSigmoidScale);
                },
                [](std::size_t n, const float* x, float* y) {
                    for (std::size_t i = 0; i < n; ++i) y[i] = M::tanh_of_u(x[i] * M::kTanhScale);
                });
            check_fma_tanh<M>();
        }
    });
}
