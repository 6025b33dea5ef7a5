// The vector activations (sigmoid, tanh) of one ISA against double-precision libm.
#include <cmath>
#include <cstdio>

#include "kernel_test_util.h"

using namespace gru_infer;

namespace {

// Exact activations against double-precision libm over a dense grid, the extremes and NaN.
void check_activations(const Kernels& k) {
    std::vector<float> x;
    for (float v = -20.0f; v <= 20.0f; v += 1.0f / 1024) x.push_back(v);
    for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, 0.625f, -0.625f, 88.0f, -88.0f, 100.0f, -100.0f, 1e30f,
                    -1e30f, 3.4e38f, -3.4e38f, INFINITY, -INFINITY})
        x.push_back(v);
    std::vector<float> s(x.size()), t(x.size());
    k.sigmoid(x.size(), x.data(), s.data());
    k.tanh(x.size(), x.data(), t.data());
    double es = 0, et = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        es = std::fmax(es, std::fabs(s[i] - 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])))));
        et = std::fmax(et, std::fabs(t[i] - std::tanh(static_cast<double>(x[i]))));
    }
    std::printf("%s: max abs error sigmoid %.3g, tanh %.3g over %zu points\n", k.name, es, et, x.size());
    CHECK(es <= 2e-7);
    CHECK(et <= 2e-7);
    float nan_in[3] = {NAN, 1.0f, -NAN}, out[3];
    k.sigmoid(3, nan_in, out);
    CHECK(std::isnan(out[0]) && std::isnan(out[2]) && !std::isnan(out[1]));
    k.tanh(3, nan_in, out);
    CHECK(std::isnan(out[0]) && std::isnan(out[2]) && !std::isnan(out[1]));
}

}  // namespace

int main(int argc, char** argv) {
    return test::run_kernel_test(argc, argv, "test_vact", [](const Kernels& k, std::mt19937& rng) {
        (void)rng;
        check_activations(k);
    });
}
