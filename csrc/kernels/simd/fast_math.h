// The fast (opt-in) activations: one rational function, shared by every ISA so they all compute
// the same thing. tanh(x) ~ x (a0 + a1 x^2 + a2 x^4) / (1 + b1 x^2 + b2 x^4) on |x| <= 5, +-1
// beyond; fitted for minimax error, measured max abs error 4.6e-5 (tests allow 1e-4).
// sigmoid(x) = 0.5 + 0.5 tanh(x / 2), so its error is half of that.
#pragma once

namespace gru_infer {
namespace fast_math {

constexpr float kClamp = 5.0f;
constexpr float kA0 = 0.99981189f, kA1 = 0.10175093f, kA2 = 6.5574952e-4f;
constexpr float kB1 = 0.43453622f, kB2 = 0.012647405f;

inline float tanh(float x) {
    float c = x < -kClamp ? -kClamp : (x > kClamp ? kClamp : x);
    if (x != x) c = x;  // NaN stays NaN
    const float u = c * c;
    float t = c * (kA0 + u * (kA1 + u * kA2)) / (1.0f + u * (kB1 + u * kB2));
    return t > 1.0f ? 1.0f : (t < -1.0f ? -1.0f : t);
}

inline float sigmoid(float x) { return 0.5f + 0.5f * fast_math::tanh(0.5f * x); }

}  // namespace fast_math
}  // namespace gru_infer
