// The activations in plain scalar C++ (libm only: no allocation, exceptions or kernel dispatch),
// shared by the hosted library (activation.cpp, which runs sigmoid and tanh on the active ISA's
// vector kernels instead) and the micro runtime (csrc/micro).
//
// NaN in gives NaN out for every kind, and +-inf and -0.0 give what torch gives (test:
// tests/test_nan_activations.py): clamps go through clamp_keep_nan, and the tests that pick a branch
// are written so that NaN takes the branch computing from x.
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>

#include "gru_infer/activation.h"
#include "kernels/clamp.h"

namespace gru_infer {

void sigmoid_f32_scalar(std::size_t n, const float* x, float* y);  // kernels/vact/vact_f32_scalar.cpp
void tanh_f32_scalar(std::size_t n, const float* x, float* y);

namespace act_scalar {

// log(1 + exp(x)) without overflow.
inline float softplus(float x) { return x > 0.0f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

template <typename F>
void map(float* v, std::size_t n, F f) {
    for (std::size_t i = 0; i < n; ++i) v[i] = f(v[i]);
}

}  // namespace act_scalar

// Softmax (kLog: log-softmax) of n values in place, max subtracted first, the sum of exps kept in Sum:
// double in the hosted library, float in the micro runtime (a Cortex-M4's FPU has no double; it runs
// softmax only, without the logf log-softmax would link).
template <typename Sum, bool kLog>
void softmax_row(float* v, std::size_t n) {
    float m = v[0];
    for (std::size_t i = 1; i < n; ++i) m = v[i] > m ? v[i] : m;
    Sum sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += std::exp(static_cast<Sum>(v[i] - m));
    if constexpr (kLog) {
        const float ls = static_cast<float>(std::log(sum));
        for (std::size_t i = 0; i < n; ++i) v[i] = v[i] - m - ls;
    } else {
        const float inv = static_cast<float>(1 / sum);
        for (std::size_t i = 0; i < n; ++i) v[i] = std::exp(v[i] - m) * inv;
    }
}

// In place over n values for an element-wise kind; false (nothing done) for softmax / log_softmax.
// GRU_INFER_MICRO (the micro library) leaves out gelu: erf is a kilobyte of libm it does without.
inline bool apply_activation_scalar(const ActSpec& act, float* v, std::size_t n) {
    using act_scalar::map;
    using act_scalar::softplus;
    constexpr float kInf = std::numeric_limits<float>::infinity();
    const float a = act.alpha, b = act.beta;
    switch (act.kind) {
        case ActKind::Identity: break;
        case ActKind::Sigmoid: sigmoid_f32_scalar(n, v, v); break;
        case ActKind::Tanh: tanh_f32_scalar(n, v, v); break;
        case ActKind::Relu: map(v, n, [=](float x) { return clamp_keep_nan(x, 0.0f, kInf); }); break;
        case ActKind::HardSigmoid:
            map(v, n, [=](float x) { return clamp_keep_nan(a * x + b, 0.0f, 1.0f); }); break;
        case ActKind::LeakyRelu: map(v, n, [=](float x) { return x >= 0.0f ? x : a * x; }); break;
        case ActKind::Elu: map(v, n, [=](float x) { return x >= 0.0f ? x : a * std::expm1(x); }); break;
        // +-inf -> NaN (inf / inf), as torch, onnxruntime and Keras compute it.
        case ActKind::Softsign: map(v, n, [](float x) { return x / (1.0f + std::fabs(x)); }); break;
        case ActKind::Softplus: map(v, n, [](float x) { return softplus(x); }); break;
        case ActKind::Affine: map(v, n, [=](float x) { return a * x + b; }); break;
        case ActKind::ScaledTanh: map(v, n, [=](float x) { return a * std::tanh(b * x); }); break;
        // NaN -> NaN as torch's threshold and Keras' x * (x > theta); onnxruntime gives 0.
        case ActKind::ThresholdedRelu: map(v, n, [=](float x) { return x <= a ? 0.0f : x; }); break;
#ifndef GRU_INFER_MICRO
        // +inf -> inf (torch's scalar path; its vectorised erf makes NaN); -inf -> NaN (-inf * 0) as torch.
        case ActKind::Gelu:
            map(v, n, [](float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }); break;
#endif
        case ActKind::GeluTanh:
            map(v, n, [](float x) {
                return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
            }); break;
        case ActKind::Silu: map(v, n, [](float x) { return x / (1.0f + std::exp(-x)); }); break;
        case ActKind::Clip: map(v, n, [=](float x) { return clamp_keep_nan(x, a, b); }); break;
        case ActKind::HardSwish:  // -inf -> NaN (-inf * 0) as torch and onnxruntime
            map(v, n, [](float x) { return x * clamp_keep_nan(x / 6.0f + 0.5f, 0.0f, 1.0f); }); break;
        case ActKind::Mish: map(v, n, [](float x) { return x * std::tanh(softplus(x)); }); break;
        case ActKind::Selu:
            map(v, n, [=](float x) { return b * (x > 0.0f ? x : a * std::expm1(x)); }); break;
        // max(0, x) + min(0, alpha (exp(x / alpha) - 1)) for either sign of alpha, without dropping NaN.
        case ActKind::Celu: map(v, n, [=](float x) { return x > 0.0f ? x : a * std::expm1(x / a); }); break;
        default: return false;
    }
    return true;
}

}  // namespace gru_infer
