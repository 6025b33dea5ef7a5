// Scalar versions of the reduced-precision kernels' vector sigmoid/tanh (pow2_math.h) and of the
// fast rational ones (avx2_math.h): the same operations in the same order (fma where they use
// fma, min/max with their NaN rule), so the scalar references give the vector kernels' results
// bit for bit. Include
// in files compiled with -ffp-contract=off semantics (see the pragma in the scalar kernels).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fast_math.h"
#include "pow2_math.h"

namespace gru_infer {
namespace emu {

// minps / maxps: the second operand when either is NaN.
inline float mn(float a, float b) { return a < b ? a : b; }
inline float mx(float a, float b) { return a > b ? a : b; }

// nearbyint in the default rounding mode (to nearest, ties to even). 32-bit ARM has no
// single-instruction float rounding before ARMv8 (Cortex-M4's FPv4, ARMv7-A's VFPv4), where libm's
// is some 30 instructions of bit fiddling; there, for |x| < 2^23, adding and subtracting 2^23 rounds
// the same way (the sum's ulp is 1) in a few (the micro runtime's int8 step: measured in
// benchmarks/results.md). Beyond 2^23 every float is an integer; NaN and infinities pass through.
inline float round_even(float x) {
#if defined(__arm__) && !defined(__ARM_FEATURE_DIRECTED_ROUNDING)
    float a = std::fabs(x);
    if (a < 8388608.0f) a = (a + 8388608.0f) - 8388608.0f;
    return std::copysign(a, x);
#else
    return std::nearbyint(x);
#endif
}

// One float as pow2_math.h's lane type: the operations of the vector lanes, each rounding once.
struct ScalarLanes {
    using V = float;
    static float set1(float v) { return v; }
    static float add(float a, float b) { return a + b; }
    static float sub(float a, float b) { return a - b; }
    static float mul(float a, float b) { return a * b; }
    static float div(float a, float b) { return a / b; }
    static float fma(float a, float b, float c) { return std::fma(a, b, c); }
    static float min(float a, float b) { return mn(a, b); }
    static float max(float a, float b) { return mx(a, b); }
    static float round(float x) { return round_even(x); }
    static float abs(float x) { return std::fabs(x); }
    static float sign_of(float x, float mag) {
        std::uint32_t xb, mb;
        std::memcpy(&xb, &x, 4);
        std::memcpy(&mb, &mag, 4);
        mb |= xb & 0x80000000u;
        std::memcpy(&mag, &mb, 4);
        return mag;
    }
    static float select_lt(float a, float bound, float if_lt, float otherwise) { return a < bound ? if_lt : otherwise; }
    static float pow2i(float n) {  // n integral in [-127, 128], or NaN (then any value: the fraction is NaN too)
        if (n != n) return 1.0f;
        const std::uint32_t bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
        float e;
        std::memcpy(&e, &bits, 4);
        return e;
    }
};

inline float sigmoid(float x) { return Pow2Math<Pow2LanesEmulated<ScalarLanes>>::sigmoid(x); }
inline float tanh(float x) { return Pow2Math<Pow2LanesEmulated<ScalarLanes>>::tanh(x); }

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
