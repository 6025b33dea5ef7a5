// The exact sigmoid and tanh built on 1 + 2^t, written once over a lane type L (max abs error
// below 2e-7, tested on a dense grid in tests/test_vact.cpp; NaN in, NaN out). AVX-512 runs it
// with vreduceps and vscalefps (avx512_math.h); the reduced-precision kernels of every other ISA
// and their scalar reference run the same operations in the same order with those two emulated
// (Pow2LanesEmulated below), so all of them give the same gates bit for bit.
//
// 2^t = 2^round(t) * 2^f with f = t - round(t) in [-1/2, 1/2]: 2^f by a degree-6 polynomial
// (relative error 1.6e-8) evaluated by Estrin's scheme (3 FMA levels, not 6), and 2^round(t)
// beside it, so that one FMA finishes both the scaling and the + 1. t = x log2(e) rounds with a
// relative error of 2^-24, which exp(x) inherits times |x|; sigmoid and tanh damp it by their
// derivative, so their absolute error stays below 3e-8 from it.
//
// L supplies V, set1, sub, mul, fma, div, abs, sign_of(x, mag) (mag >= 0 with the sign bit of x),
// select_lt(a, bound, if_lt, otherwise), fraction(t) = t - round(t) and pow2_round(t) =
// 2^round(t) (0 below 2^-126 and inf above 2^127 may be denormals or huge values instead: they
// only ever meet 1 + p 2^round(t), which rounds to the same 1 or inf).
#pragma once

namespace gru_infer {

template <class L>
struct Pow2Math {
    using V = typename L::V;

    // 1 + 2^t for any t (1 below -150, inf above 128, NaN for NaN).
    static V one_plus_pow2(V t) {
        const V one = L::set1(1.0f);
        const V f = L::fraction(t), s = L::pow2_round(t);
        const V f2 = L::mul(f, f);
        const V a = L::fma(f, L::set1(0.6931471824645996f), one);
        const V b = L::fma(f, L::set1(0.05550328642129898f), L::set1(0.24022646248340607f));
        const V c = L::fma(f, L::set1(0.0013399930903688073f), L::set1(0.009618489071726799f));
        const V c2 = L::fma(f2, L::set1(0.00015345810970757157f), c);
        const V p = L::fma(L::mul(f2, f2), c2, L::fma(f2, b, a));
        return L::fma(p, s, one);
    }

    static constexpr float kSigmoidScale = -1.44269504088896341f;  // -log2(e)
    static constexpr float kTanhScale = 2.88539008177792682f;      // 2 log2(e)

    static V sigmoid(V x) { return sigmoid_of_t(L::mul(x, L::set1(kSigmoidScale))); }
    // sigmoid(x) from t = -log2(e) x, for callers that can fold the scale into their last FMA
    // (one multiply less on a small GRU's critical path).
    static V sigmoid_of_t(V t) { return L::div(L::set1(1.0f), one_plus_pow2(t)); }

    // tanh(x) = sign(x) (1 - 2 / (1 + e^{2|x|})); below |x| = 0.625 an odd polynomial (the
    // difference above loses relative accuracy near 0). (2 / (1 + e^{-2x}) - 1 is two
    // instructions shorter but its error reaches 1.8e-7 above 0.625.)
    static V tanh(V x) { return tanh_of(x, L::mul(x, L::set1(kTanhScale))); }
    // tanh(x) from u = 2 log2(e) x (x recomputed from u for the small branch, off the long path).
    static V tanh_of_u(V u) { return tanh_of(L::mul(u, L::set1(1.0f / kTanhScale)), u); }

    // w tanh(x) + c for w >= 0, from u = 2 log2(e) x: fma(w, tanh_of_u(u), c) with tanh's last
    // steps folded into the update. Above |x| = 0.625 it is (w' + c) - 2 w' / (1 + 2^|u|), w' = w
    // with the sign of x: one subtraction after the division instead of four instructions (a
    // small GRU's critical path). Needs L::add as well.
    static V fma_tanh_of_u(V u, V w, V c) {
        const V x = L::mul(u, L::set1(1.0f / kTanhScale));
        const V sw = L::sign_of(x, w);
        const V q = L::div(L::add(sw, sw), one_plus_pow2(L::abs(u)));
        return L::select_lt(L::abs(x), 0.625f, L::fma(w, small_tanh(x), c), L::sub(L::add(sw, c), q));
    }

private:
    // tanh(x) below |x| = 0.625: an odd polynomial.
    static V small_tanh(V x) {
        const V x2 = L::mul(x, x);
        V p = L::fma(L::set1(-0.006104478146880865f), x2, L::set1(0.021003227680921555f));
        p = L::fma(p, x2, L::set1(-0.053852375596761703f));
        p = L::fma(p, x2, L::set1(0.13332781195640564f));
        p = L::fma(p, x2, L::set1(-0.333333283662796f));
        return L::fma(L::mul(x, x2), p, x);
    }
    static V tanh_of(V x, V u) {
        const V big = L::sub(L::set1(1.0f), L::div(L::set1(2.0f), one_plus_pow2(L::abs(u))));
        return L::select_lt(L::abs(x), 0.625f, small_tanh(x), L::sign_of(x, big));  // NaN: not small, big is NaN
    }
};

// fraction and pow2_round for lanes without vreduceps / vscalefps, from min, max, round to nearest
// even, a conversion to int32 and the exponent bits (B supplies those: min/max returning their
// second operand when either is NaN, as minps/maxps). t is first clamped to [-151, 129], where
// round(t) - 127 and + 128 give the exponent field's 0 (a zero) and 255 (inf): the fraction of a
// clamped t differs from vreduceps' only where 2^round(t) is 0 or inf, so 1 + p 2^round(t) is
// the same.
template <class B>
struct Pow2LanesEmulated : B {
    using V = typename B::V;
    static V clamp_t(V t) { return B::min(B::set1(129.0f), B::max(B::set1(-151.0f), t)); }  // NaN stays NaN
    static V fraction(V t) {
        const V c = clamp_t(t);
        return B::sub(c, B::round(c));
    }
    static V pow2_round(V t) {
        const V n = B::min(B::set1(128.0f), B::max(B::set1(-127.0f), B::round(clamp_t(t))));
        return B::pow2i(n);  // n in [-127, 128]: exponent field n + 127 (a NaN lane gives garbage, but its fraction is NaN)
    }
};

}  // namespace gru_infer
