// The reduced-precision kernels (int8, bf16, fp16) of every ISA this CPU has against their scalar
// references, bit for bit, also on denormal and tiny values; the references against the fp32 GRU
// on the same (dequantized) weights; bf16 against hand-derived results of its arithmetic.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "../kernels/quant_kernels.h"
#include "gru_infer/gru_infer.h"
#include "kernel_test_util.h"
#include "quant_test_util.h"
#include "kernels/kernels.h"
#include "runtime/denormals.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

// Values where flushing and rounding matter: fp32 denormals, zeros of both signs, magnitudes near
// 2^-70 (a product of two lands in the denormal range or underflows), near the smallest normal
// 2^-126 (an accumulator whose last bit is a denormal's), and ordinary ones.
float tiny_value(std::mt19937& rng) {
    const float sign = rng() % 2 ? -1.0f : 1.0f;
    const float mant = std::uniform_real_distribution<float>(1.0f, 2.0f)(rng);
    switch (rng() % 8) {
        case 0: {  // a random fp32 denormal
            const std::uint32_t b = (rng() & 0x807fffffu) | 1u;
            float v;
            std::memcpy(&v, &b, 4);
            return v;
        }
        case 1: {
            const float fixed[] = {1e-39f, -3e-40f, 0x1.fffffcp-127f, -0x1p-149f, 0.0f, -0.0f};
            return fixed[rng() % 6];
        }
        case 2:
        case 3: return sign * std::ldexp(mant, -60 - static_cast<int>(rng() % 20));
        case 4: return sign * std::ldexp(mant, -126 + static_cast<int>(rng() % 3));
        default: return std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
    }
}

std::vector<float> values(std::mt19937& rng, std::size_t n, float scale, bool tiny) {
    if (!tiny) return test::random_vec(rng, n, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = tiny_value(rng);
    return v;
}

struct Case {
    std::size_t I, H;
    GruWeights w;
    QuantGru q;
    Case(std::mt19937& rng, WeightFormat f, std::size_t I_, std::size_t H_, bool bias, float x_scale = 0.0f,
         bool tiny = false)
        : I(I_), H(H_) {
        const float a = 1.0f / std::sqrt(static_cast<float>(H));  // PyTorch's init range
        auto W = values(rng, 3 * H * I, a, tiny), R = values(rng, 3 * H * H, a, tiny),
             bW = values(rng, 3 * H, bias ? a : 0.0f, tiny && bias), bR = values(rng, 3 * H, bias ? a : 0.0f, tiny && bias);
        w = GruWeights{AlignedBuffer(W.data(), W.size()), AlignedBuffer(R.data(), R.size()),
                       AlignedBuffer(bW.data(), bW.size()), AlignedBuffer(bR.data(), bR.size())};
        q = quantize_gru(w, I, H, f, x_scale);
    }
};

using test::same_bits;
using test::Scratch;
// same_bits, except that any two NaNs count as equal.
bool same_bits_or_nan(const float* a, const float* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!same_bits(a + i, b + i, 1) && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
    return true;
}

void check_gemm(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f, std::size_t M, std::size_t I,
                std::size_t H, bool bias, float a_scale, bool tiny = false) {
    Case c(rng, f, I, H, bias, a_scale, tiny);
    const std::size_t ld = c.q.tiles * kQTileRow + 3;
    auto A = values(rng, M * (I + 1), 2.0f, tiny);
    std::vector<float> want(M * ld, 7.0f), got(M * ld, 7.0f);
    Scratch s1(q_gemm_scratch_bytes(M, c.q.W)), s2(q_gemm_scratch_bytes(M, c.q.W));
    ref.gemm(M, A.data(), I + 1, c.q.W, c.q.x_scale, c.q.bx.data(), want.data(), ld, s1.p);
    k.gemm(M, A.data(), I + 1, c.q.W, c.q.x_scale, c.q.bx.data(), got.data(), ld, s2.p);
    const bool ok = same_bits(want.data(), got.data(), want.size());
    if (!ok)
        std::fprintf(stderr, "%s gemm M=%zu I=%zu H=%zu%s: differs from %s, max %g\n", k.name, M, I, H,
                     tiny ? " (tiny values)" : "", ref.name, test::max_abs_diff(want.data(), got.data(), want.size()));
    CHECK(ok);
}

// Rows that test the input quantization's edges, through gemm (fixed and dynamic scales): ties
// at .5 (the dynamic scale is exactly 1 when a row's absmax is 127), -0, values past the clamp,
// and rows with a NaN or an infinity (scale NaN: the row's outputs are NaN). Both-NaN counts as
// equal.
void check_gemm_edges(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f) {
    const std::size_t I = 45, H = 20, M = 4;
    Case c(rng, f, I, H, true);
    const std::size_t ld = c.q.tiles * kQTileRow;
    std::vector<float> A(M * I);
    for (std::size_t i = 0; i < I; ++i) {
        const float tie = static_cast<float>(i % 9) - 4.5f + (i % 2 ? 120.0f : 0.0f) * (i % 4 == 1 ? 1.0f : -1.0f);
        A[i] = i == 0 ? 127.0f : i == 5 ? -0.0f : tie;
        A[I + i] = i == 40 ? 1e30f : 0.25f * tie;
        A[2 * I + i] = i == 33 ? NAN : tie;
        A[3 * I + i] = i == 7 ? -INFINITY : tie;
    }
    for (float a_scale : {0.0f, 0.02f}) {
        std::vector<float> want(M * ld, 7.0f), got(M * ld, 7.0f);
        Scratch s1(q_gemm_scratch_bytes(M, c.q.W)), s2(q_gemm_scratch_bytes(M, c.q.W));
        ref.gemm(M, A.data(), I, c.q.W, a_scale, c.q.bx.data(), want.data(), ld, s1.p);
        k.gemm(M, A.data(), I, c.q.W, a_scale, c.q.bx.data(), got.data(), ld, s2.p);
        const bool ok = same_bits_or_nan(want.data(), got.data(), want.size());
        if (!ok) std::fprintf(stderr, "%s gemm edge rows (a_scale %g): differ from %s\n", k.name, a_scale, ref.name);
        CHECK(ok);
    }
}

// Steps whose pre-activations reach the gates' edges, through a recurrent bias of special
// values: infinities, NaN, 1e30, where 2^t leaves the normal range (|t| near 126-150), the clamp
// of the fast mode, tanh's switch at 0.625 and signed zeros. Both-NaN counts as equal.
void check_step_edges(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f) {
    const float edge[] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 200.0f, -200.0f, 150.6f, -150.6f, 104.5f, -104.5f,
                          88.7f, -88.7f, 87.4f, -87.4f, 62.0f, -62.0f, 44.2f, -44.2f, 20.0f, -20.0f, 9.1f, -9.1f,
                          0.625f, -0.625f, 0.62499994f, -0.62499994f, 1e-30f, 0.0f, -0.0f};
    const std::size_t n_edge = sizeof edge / sizeof edge[0];
    for (int lbr = 0; lbr < 2; ++lbr)
        for (int fast = 0; fast < 2; ++fast) {
            Case c(rng, f, 7, 37, true);
            for (std::size_t p = 0; p < c.q.bh.size(); ++p) c.q.bh[p] = edge[(p * 7 + lbr) % n_edge];
            const std::size_t rows = 3;
            auto x = values(rng, rows * c.I, 1.0f, false), h = values(rng, rows * c.H, 1.0f, false);
            std::vector<float> want(rows * c.H), got(rows * c.H);
            Scratch s1(q_step_scratch_bytes(rows, c.q)), s2(q_step_scratch_bytes(rows, c.q));
            QGruStepArgs a;
            a.rows = rows; a.x = x.data(); a.ldx = c.I; a.h = h.data(); a.ldh = c.H; a.ldo = c.H; a.w = &c.q;
            a.fast = fast;
            a.h_out = want.data(); a.scratch = s1.p;
            (lbr ? ref.gru_step_reset_after : ref.gru_step_reset_before)(a);
            a.h_out = got.data(); a.scratch = s2.p;
            (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
            const bool ok = same_bits_or_nan(want.data(), got.data(), want.size());
            if (!ok) std::fprintf(stderr, "%s step edge pre-activations (lbr=%d fast=%d): differ from %s\n", k.name, lbr, fast, ref.name);
            CHECK(ok);
        }
}

// One step through k and through the scalar reference; optionally the reference against fp32
// (not with tiny values: weights, biases, x and h from tiny_value).
void check_step(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f, std::size_t rows,
                std::size_t I, std::size_t H, bool lbr, bool fused, bool bias, bool fast, float clip, float x_scale,
                bool tiny = false, bool vs_fp32 = true) {
    Case c(rng, f, I, H, bias, x_scale, tiny);
    // |h| <= 1 after a step; an h0 may be larger (the state then takes a dynamic scale).
    auto x = values(rng, rows * I, 2.0f, tiny), h = values(rng, rows * (H + 1), (I + H) % 9 == 0 ? 3.0f : 1.0f, tiny);
    const test::StepRun run(k, ref, c.q, rows, x.data(), h.data(), lbr, fused, fast, clip, (rows + I + H) % 2 == 1);
    const std::vector<float>&want = run.want, &got = run.got;
    const test::Scratch &s1 = run.s1, &s2 = run.s2;
    const bool ok = same_bits(want.data(), got.data(), want.size());
    if (!ok)
        std::fprintf(stderr, "%s step rows=%zu I=%zu H=%zu lbr=%d fused=%d fast=%d clip=%g xs=%g%s: max diff %g\n",
                     k.name, rows, I, H, lbr, fused, fast, clip, x_scale, tiny ? " (tiny values)" : "",
                     test::max_abs_diff(want.data(), got.data(), want.size()));
    CHECK(ok);
    if (tiny) {  // the gates hide a pre-activation's last bits: compare the pre-activations A and B too
        const QStepScratch L(c.q);
        const std::size_t P = c.q.tiles * kQTileRow * sizeof(float);
        bool pre_ok = true;
        for (std::size_t m = 0; m < rows; ++m) {
            const char *r1 = static_cast<const char*>(s1.p) + m * L.row_bytes, *r2 = static_cast<const char*>(s2.p) + m * L.row_bytes;
            pre_ok = pre_ok && std::memcmp(r1 + L.a, r2 + L.a, P) == 0 && std::memcmp(r1 + L.b, r2 + L.b, P) == 0;
        }
        if (!pre_ok)
            std::fprintf(stderr, "%s step rows=%zu I=%zu H=%zu lbr=%d fused=%d (tiny values): pre-activations differ\n",
                         k.name, rows, I, H, lbr, fused);
        CHECK(pre_ok);
        return;
    }
    if (&k != &ref || fast || !vs_fp32) return;
    // The reference against the fp32 kernels on the dequantized weights: only the rounding of x
    // and h (int8, bf16) may differ.
    const PackedGru p = pack_gru(dequantize_gru(c.q), I, H);
    std::vector<float> f32(rows * (H + 2), 9.0f), fs(gru_step_scratch_floats(rows, H));
    GruStepArgs b;
    b.rows = rows; b.input = I; b.hidden = H; b.x = x.data(); b.ldx = I; b.h = h.data(); b.ldh = H + 1;
    b.h_out = f32.data(); b.ldo = H + 2; b.w = p.w.data(); b.tile_stride = p.tile_stride; b.bx = p.bx.data();
    b.bh = p.bh.data(); b.clip = clip; b.scratch = fs.data();
    (lbr ? scalar_kernels().gru_step_reset_after : scalar_kernels().gru_step_reset_before)(b);
    const float err = test::max_abs_diff(f32.data(), want.data(), f32.size());
    // The rounding of x and h moves a pre-activation by ~ |w| |x| sqrt(I + H) x the relative step,
    // |w| ~ 1 / sqrt(H) (PyTorch's init range) and |x| <= 2: wider where I >> H (bf16 at I=255,
    // H=24 drew an error of 0.012).
    const float spread = std::max(1.0f, std::sqrt(static_cast<float>(I + H) / H) / 2.0f);
    const float tol = spread * (f == WeightFormat::Int8 ? 0.03f : f == WeightFormat::BF16 ? 0.01f : 1e-5f);
    if (!(err <= tol))
        std::fprintf(stderr, "%s reference vs fp32 rows=%zu I=%zu H=%zu lbr=%d fused=%d: err %g > %g\n", k.name, rows,
                     I, H, lbr, fused, err, tol);
    CHECK(err <= tol);
    for (std::size_t m = 0; m < rows; ++m) CHECK(got[m * (H + 2) + H] == 9.0f && got[m * (H + 2) + H + 1] == 9.0f);
}

// bf16's arithmetic on hand-made cases (quant_kernels.h; what vdpbf16ps does): the accumulator
// starts at init with a denormal init read as zero; per pair, the odd element first, each step one
// fused multiply-add (the product is not rounded on its own) whose denormal result becomes a zero
// of its sign; x and the weights are rounded to bf16 with fp32 denormals flushed. One output per
// case: K = 2, so out = ftz(fma(x0, w0, ftz(fma(x1, w1, ftz(init))))); every row of A and every
// output (17 of them: two blocks, one of them partial) takes the same case.
void check_bf16_spec(const QKernels& k) {
    struct Spec {
        const char* what;
        float init, x0, w0, x1, w1, want;
    };
    const float p125 = 0x1p-125f, odd = 0x1p-125f + 0x1p-148f;  // odd: its last mantissa bit is set
    const Spec specs[] = {
        {"a denormal init is read as zero", 1e-39f, 0.0f, 0.0f, 1.0f, p125, p125},
        {"a negative denormal init is read as zero", -3e-40f, 0.0f, 0.0f, 1.0f, 0x1.8p-126f, 0x1.8p-126f},
        // 1.5 * 2^-150 is 0.375 of init's last place: one rounding keeps init; rounding the product
        // first (to 2^-149, half a place) then the sum (a tie, to even) would give init + 2^-148.
        {"a tiny product is not rounded before the sum", odd, 0.0f, 0.0f, 0x1.8p-75f, 0x1p-75f, odd},
        {"a product in the denormal range adds exactly", p125, 0.0f, 0.0f, 0x1p-70f, 0x1p-70f, p125 + 0x1p-140f},
        {"an underflowing negative product gives -0", 0.0f, -0x1p-80f, 0x1p-80f, -0x1p-80f, 0x1p-80f, -0.0f},
        {"a denormal result becomes +0", 0x1p-120f, 0.0f, 0.0f, -1.0f, 0x1.fcp-121f, 0.0f},
        {"a denormal result becomes -0", -0x1p-120f, 1.0f, -0.0f, 1.0f, 0x1.fcp-121f, -0.0f},
        {"denormal x and weights are zeros", 1.0f, 1.0f, -3e-40f, 1e-39f, 0x1p100f, 1.0f},
        {"the largest denormal x is not rounded up to a normal", 0.0f, 0.0f, 0.0f, 0x1.fffffcp-127f, 1.0f, 0.0f},
        {"the largest denormal weight is not rounded up to a normal", 0.0f, 0.0f, 0.0f, 1.0f, 0x1.fffffcp-127f, 0.0f},
    };
    constexpr std::size_t M = 5, N = 17;
    for (const Spec& c : specs) {
        std::vector<float> w(N * 2), b(N, c.init), A(M * 2);
        for (std::size_t r = 0; r < N; ++r) { w[2 * r] = c.w0; w[2 * r + 1] = c.w1; }
        for (std::size_t i = 0; i < M; ++i) { A[2 * i] = c.x0; A[2 * i + 1] = c.x1; }
        const QuantDense d = quantize_dense(w.data(), b.data(), 2, N, WeightFormat::BF16);
        const std::size_t ldc = d.W.packed_rows();
        std::vector<float> C(M * ldc, 7.0f);
        Scratch s(q_gemm_scratch_bytes(M, d.W));
        k.gemm(M, A.data(), 2, d.W, 0.0f, d.bias.data(), C.data(), ldc, s.p);
        int wrong = 0;
        for (std::size_t i = 0; i < M; ++i)
            for (std::size_t p = 0; p < N; ++p) wrong += !same_bits(&C[i * ldc + p], &c.want, 1);
        if (wrong)
            std::fprintf(stderr, "%s: %s: got %a (%d of %zu outputs), want %a\n", k.name, c.what, C[0], wrong, M * N,
                         c.want);
        CHECK(wrong == 0);
    }
}

void check_conversions(std::mt19937& rng) {
    // bf16 / fp16 rounding against double arithmetic: nearest representable, ties to even.
    std::uniform_real_distribution<float> d(-70000.0f, 70000.0f);
    int bad = 0;
    for (int i = 0; i < 100000; ++i) {
        const float v = i % 3 == 0 ? d(rng) : d(rng) * 1e-6f;
        const float b = from_bf16(to_bf16(v)), h = from_fp16(to_fp16(v));
        const double eb = std::fabs(static_cast<double>(b) - v), eh = std::fabs(static_cast<double>(h) - v);
        const double ub = std::ldexp(1.0, std::ilogb(v) - 8), uh = std::ldexp(1.0, std::max(std::ilogb(v), -14) - 11);
        if (eb > ub) ++bad;
        if (std::fabs(v) < 65504.0f && eh > uh) ++bad;
    }
    CHECK(bad == 0);
    CHECK(to_bf16(1e-40f) == 0 && to_bf16(-1e-40f) == 0x8000);  // denormals flushed, sign kept
    CHECK(std::isnan(from_bf16(to_bf16(NAN))) && std::isinf(from_fp16(to_fp16(1e6f))));
    CHECK(from_fp16(to_fp16(65504.0f)) == 65504.0f && from_fp16(to_fp16(5.96046448e-8f)) == 5.96046448e-8f);
    // int8 packing: every row's largest weight maps to +-127, dequantized within half a step.
    Case c(rng, WeightFormat::Int8, 19, 21, true);
    const GruWeights back = dequantize_gru(c.q);
    float worst = 0.0f;
    for (std::size_t i = 0; i < back.W.size(); ++i) worst = std::fmax(worst, std::fabs(back.W[i] - c.w.W[i]));
    CHECK(worst <= 0.5f / 127.0f / std::sqrt(21.0f) * 1.0001f);
    CHECK(same_bits(back.bW.data(), c.w.bW.data(), back.bW.size()));
}

}  // namespace

// The small-layer steps (quant_small.h: 1 to 3 rows, H <= 128) against the scalar reference on
// every size class they handle: one tile (H <= 8 takes AVX2's half path), partial and whole tiles,
// one to four tile groups, both forms, fused or projected input, ordinary and tiny values (their
// pre-activations compared too) with and without flushed denormals, and one size past them.
void check_small_layers(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f) {
    int i = 0;
    for (std::size_t H : {1, 3, 8, 16, 17, 31, 32, 33, 64, 65, 128, 129})
        for (std::size_t I : {1, 3, 17})
            for (std::size_t rows = 1; rows <= 3; ++rows)
                for (int lbr = 0; lbr < 2; ++lbr)
                    for (int fused = 0; fused < 2; ++fused, ++i) {
                        check_step(k, ref, rng, f, rows, I, H, lbr, fused, true, i % 3 == 1, i % 5 == 2 ? 0.7f : 0.0f,
                                   i % 4 == 3 ? 0.015f : 0.0f, false, false);
                        std::optional<FlushDenormals> guard;
                        if (i % 2) guard.emplace();
                        check_step(k, ref, rng, f, rows, I, H, lbr, fused, true, i % 3 == 2, 0.0f, 0.0f, true);
                    }
}

// test_quant_kernels [--isa scalar|avx512|amx|avx2|neon]: one ISA's kernels (all when none is given).
// An ISA this CPU or build lacks prints NOT RUN and exits 77 (ctest: Skipped).
int main(int argc, char** argv) {
    // On armv7 everything below runs flushed, the "caller's mode" passes too: NEON there cannot do
    // otherwise, and the scalar reference then flushes as it does (FlushLikeArmv7Neon).
    const test::FlushLikeArmv7Neon flush_on_armv7;
    std::mt19937 rng(4321);
    const std::string only = argc == 3 && std::string(argv[1]) == "--isa" ? argv[2] : "";
    check_conversions(rng);
    const std::size_t odd[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67, 255, 257};
    int ran = 0;
    for (WeightFormat f : {WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16}) {
        const QKernels& ref = *q_kernels(f, "scalar");
        std::vector<const QKernels*> tables;
        if (only.empty() || only == "scalar") tables.push_back(&ref);
        for (const char* isa : {"avx512", "amx", "avx2", "neon", "neon-widening"}) {
            if (!only.empty() && only.rfind(isa, 0) != 0 && std::string(isa).rfind(only, 0) != 0) continue;
            // AMX bf16 sums in TDPBF16PS's order, not bit for bit: test_amx_kernels checks its bound.
            if (f == WeightFormat::BF16 && std::string(isa) == "amx") continue;
            const QKernels* k = q_kernels(f, isa);
            if (k && std::find(tables.begin(), tables.end(), k) == tables.end()) tables.push_back(k);
            else if (!k) std::printf("%s %s: NOT RUN (no such kernels on this CPU or build)\n", weight_format_name(f), isa);
        }
        for (const QKernels* k : tables) {
            ++ran;
            const int checks0 = test::checks(), fails0 = test::failures();
            std::uniform_int_distribution<std::size_t> size(1, 67), rows(1, 9);
            check_gemm_edges(*k, ref, rng, f);
            check_step_edges(*k, ref, rng, f);
            // (The small-layer and batch paths are other ISAs' code: the scalar table would only be
            // compared with itself there.)
            if (k != &ref) check_small_layers(*k, ref, rng, f);
            for (std::size_t i = 0; i < sizeof odd / sizeof odd[0]; ++i)
                check_gemm(*k, ref, rng, f, 1 + i % 9, odd[i], odd[(i * 7 + 3) % 20], i % 2, i % 3 == 0 ? 0.02f : 0.0f);
            for (int i = 0; i < 240; ++i) {
                const std::size_t I = i % 40 == 0 ? 255 : i % 40 == 20 ? 257 : size(rng);
                const std::size_t H = i % 60 == 7 ? 257 : i % 60 == 37 ? 255 : size(rng);
                check_step(*k, ref, rng, f, rows(rng), I, H, i % 2, (i / 2) % 2, (i / 4) % 4 != 0, i % 11 == 5,
                           i % 7 == 3 ? 0.7f : 0.0f, i % 5 == 1 ? 0.015f : 0.0f);
            }
            // The batch paths explicitly (kQBatchRows+ rows run blocked kernels, fewer the row ones):
            // rows x H x I, both GRU forms, fused input or projected, with denormals flushed (as
            // predict runs them: bf16 and fp16 batches then run as widened fp32 GEMMs) and not.
            for (int flush = 0; flush < 2 && k != &ref; ++flush) {
                std::optional<FlushDenormals> guard;
                if (flush) guard.emplace();
                int n = 0;
                for (std::size_t rows : {1, 3, 4, 5, 8, 17, 33})
                    for (std::size_t H : {1, 3, 17, 255})
                        for (std::size_t I : {1, 3, 17}) {
                            ++n;
                            check_step(*k, ref, rng, f, rows, I, H, n % 2, (n / 2) % 2, n % 3 != 0, false,
                                       0.0f, 0.0f, false, false);
                            check_step(*k, ref, rng, f, rows, I, H, (n + 1) % 2, (n / 2 + 1) % 2, true, false,
                                       0.0f, 0.0f, n % 5 == 0, false);
                            check_gemm(*k, ref, rng, f, rows * 3, I, H, n % 2, 0.0f, n % 4 == 0);
                        }
            }
            // Denormals and tiny values (vdpbf16ps flushes them; bf16 also on hand-made cases), with
            // the caller's floating-point mode and with denormals flushed (as predict and stream run
            // the kernels).
            for (int flush = 0; flush < 2 && k != &ref; ++flush) {
                std::optional<FlushDenormals> guard;
                if (flush) guard.emplace();
                if (f == WeightFormat::BF16) check_bf16_spec(*k);
                for (int i = 0; i < 40; ++i)
                    check_gemm(*k, ref, rng, f, 1 + i % 9, odd[i % 20], odd[(i * 7 + 3) % 20], i % 4 != 0, 0.0f, true);
                for (int i = 0; i < 120; ++i)
                    check_step(*k, ref, rng, f, rows(rng), size(rng), size(rng), i % 2, (i / 2) % 2, (i / 4) % 4 != 0,
                               i % 11 == 5, i % 7 == 3 ? 0.7f : 0.0f, 0.0f, true);
                // Ordinary values in both modes too (AVX-512 bf16 takes another path under FTZ+DAZ).
                for (int i = 0; i < 20; ++i)
                    check_gemm(*k, ref, rng, f, 1 + i % 9, odd[i % 20], odd[(i * 3 + 5) % 20], i % 2, 0.0f);
                for (int i = 0; i < 60; ++i) {
                    const std::size_t I = i % 20 == 0 ? 255 : size(rng), H = i % 20 == 10 ? 257 : size(rng);
                    check_step(*k, ref, rng, f, rows(rng), I, H, i % 2, (i / 2) % 2, (i / 4) % 4 != 0, i % 11 == 5,
                               i % 7 == 3 ? 0.7f : 0.0f, 0.0f, false, /*vs_fp32=*/false);  // (that check ran above)
                }
            }
            std::printf("%s: %d checks, %d failed\n", k->name, test::checks() - checks0, test::failures() - fails0);
        }
    }
    if (ran == 0) {
        std::printf("test_quant_kernels --isa %s: NOT RUN (not on this CPU or build)\n", only.c_str());
        return 77;
    }
    return test::finish("test_quant_kernels");
}
