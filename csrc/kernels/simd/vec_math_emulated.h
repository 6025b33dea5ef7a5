// Scalar versions of the vector sigmoid/tanh of simd/avx2_math.h (and simd/neon_math.h): the
// same operations in the same order (fma where they use fma, min/max with their NaN rule), so
// the reduced-precision scalar references give the vector kernels' results bit for bit. Include
// in files compiled with -ffp-contract=off semantics (see the pragma in the scalar kernels).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fast_math.h"

namespace gru_infer {
namespace emu {

// minps / maxps: the second operand when either is NaN.
inline float mn(float a, float b) { return a < b ? a : b; }
inline float mx(float a, float b) { return a > b ? a : b; }

inline float exp_clamped(float x) {
    const float n = std::nearbyint(x * 1.44269504088896341f);
    float r = std::fma(-n, 0.693359375f, x);
    r = std::fma(-n, -2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = std::fma(p, r, 1.3981999507e-3f);
    p = std::fma(p, r, 8.3334519073e-3f);
    p = std::fma(p, r, 4.1665795894e-2f);
    p = std::fma(p, r, 1.6666665459e-1f);
    p = std::fma(p, r, 5.0000001201e-1f);
    p = std::fma(p, r * r, r + 1.0f);
    const std::uint32_t bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
    float e;
    std::memcpy(&e, &bits, 4);
    return p * e;
}

inline float sigmoid(float x) {
    const float c = mn(87.0f, mx(-88.0f, x));
    return 1.0f / (1.0f + exp_clamped(-c));
}

inline float tanh(float x) {
    std::uint32_t xb;
    std::memcpy(&xb, &x, 4);
    const float ax = std::fabs(x), u = x * x;
    float p = -0.006104478146880865f;
    p = std::fma(p, u, 0.021003227680921555f);
    p = std::fma(p, u, -0.053852375596761703f);
    p = std::fma(p, u, 0.13332781195640564f);
    p = std::fma(p, u, -0.333333283662796f);
    const float small = std::fma(x * u, p, x);
    const float e = exp_clamped(mn(20.0f, ax + ax));
    float big = 1.0f - 2.0f / (e + 1.0f);
    std::uint32_t bb;
    std::memcpy(&bb, &big, 4);
    bb |= xb & 0x80000000u;
    std::memcpy(&big, &bb, 4);
    return ax < 0.625f ? small : big;
}

inline float fast_tanh(float x) {
    const float lim = fast_math::kClamp;
    const float c = mn(mx(x, 0.0f - lim), lim), u = c * c;
    float num = std::fma(u, fast_math::kA2, fast_math::kA1);
    num = c * std::fma(u, num, fast_math::kA0);
    float den = std::fma(u, fast_math::kB2, fast_math::kB1);
    den = std::fma(u, den, 1.0f);
    const float t = mn(mx(num / den, 0.0f - 1.0f), 1.0f);
    return x != x ? x : t;
}

inline float fast_sigmoid(float x) { return std::fma(0.5f, fast_tanh(0.5f * x), 0.5f); }

}  // namespace emu
}  // namespace gru_infer
