// The reduced-precision kernels (int8, bf16, fp16) of every ISA this CPU has against their scalar
// references, bit for bit; the references against the fp32 GRU on the same (dequantized) weights.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "../kernels/quant_kernels.h"
#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

struct Case {
    std::size_t I, H;
    GruWeights w;
    QuantGru q;
    Case(std::mt19937& rng, WeightFormat f, std::size_t I_, std::size_t H_, bool bias, float x_scale = 0.0f)
        : I(I_), H(H_) {
        const float a = 1.0f / std::sqrt(static_cast<float>(H));  // PyTorch's init range
        auto W = test::random_vec(rng, 3 * H * I, a), R = test::random_vec(rng, 3 * H * H, a),
             bW = test::random_vec(rng, 3 * H, bias ? a : 0.0f), bR = test::random_vec(rng, 3 * H, bias ? a : 0.0f);
        w = GruWeights{AlignedBuffer(W.data(), W.size()), AlignedBuffer(R.data(), R.size()),
                       AlignedBuffer(bW.data(), bW.size()), AlignedBuffer(bR.data(), bR.size())};
        q = quantize_gru(w, I, H, f, x_scale);
    }
};

bool same_bits(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

struct Scratch {
    std::vector<char> raw;
    void* p;
    explicit Scratch(std::size_t bytes) : raw(bytes + 64, 0x5a) {
        p = raw.data() + (64 - reinterpret_cast<std::uintptr_t>(raw.data()) % 64) % 64;
    }
};

void check_gemm(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f, std::size_t M, std::size_t I,
                std::size_t H, bool bias, float a_scale) {
    Case c(rng, f, I, H, bias, a_scale);
    const std::size_t ld = c.q.tiles * kQTileRow + 3;
    auto A = test::random_vec(rng, M * (I + 1), 2.0f);
    std::vector<float> want(M * ld, 7.0f), got(M * ld, 7.0f);
    Scratch s1(q_gemm_scratch_bytes(M, c.q.W)), s2(q_gemm_scratch_bytes(M, c.q.W));
    ref.gemm(M, A.data(), I + 1, c.q.W, c.q.x_scale, c.q.bx.data(), want.data(), ld, s1.p);
    k.gemm(M, A.data(), I + 1, c.q.W, c.q.x_scale, c.q.bx.data(), got.data(), ld, s2.p);
    const bool ok = same_bits(want.data(), got.data(), want.size());
    if (!ok)
        std::fprintf(stderr, "%s gemm M=%zu I=%zu H=%zu: differs from %s, max %g\n", k.name, M, I, H, ref.name,
                     test::max_abs_diff(want.data(), got.data(), want.size()));
    CHECK(ok);
}

// One step through k and through the scalar reference; optionally the reference against fp32.
void check_step(const QKernels& k, const QKernels& ref, std::mt19937& rng, WeightFormat f, std::size_t rows,
                std::size_t I, std::size_t H, bool lbr, bool fused, bool bias, bool fast, float clip, float x_scale) {
    Case c(rng, f, I, H, bias, x_scale);
    const std::size_t ldxp = c.q.tiles * kQTileRow;
    // |h| <= 1 after a step; an h0 may be larger (the state then takes a dynamic scale).
    auto x = test::random_vec(rng, rows * I, 2.0f), h = test::random_vec(rng, rows * (H + 1), (I + H) % 9 == 0 ? 3.0f : 1.0f);
    std::vector<float> xp(rows * ldxp);
    Scratch gs(q_gemm_scratch_bytes(rows, c.q.W));
    ref.gemm(rows, x.data(), I, c.q.W, c.q.x_scale, c.q.bx.data(), xp.data(), ldxp, gs.p);
    std::vector<float> want(rows * (H + 2), 9.0f), got(rows * (H + 2), 9.0f);
    Scratch s1(q_step_scratch_bytes(rows, c.q)), s2(q_step_scratch_bytes(rows, c.q));
    QGruStepArgs a;
    a.rows = rows;
    if (fused) { a.x = x.data(); a.ldx = I; } else { a.xp = xp.data(); a.ldxp = ldxp; }
    a.h = h.data(); a.ldh = H + 1; a.ldo = H + 2; a.w = &c.q; a.clip = clip; a.fast = fast;
    a.h_out = want.data(); a.scratch = s1.p;
    (lbr ? ref.gru_step_reset_after : ref.gru_step_reset_before)(a);
    a.h_out = got.data(); a.scratch = s2.p;
    (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
    const bool ok = same_bits(want.data(), got.data(), want.size());
    if (!ok)
        std::fprintf(stderr, "%s step rows=%zu I=%zu H=%zu lbr=%d fused=%d fast=%d clip=%g xs=%g: max diff %g\n",
                     k.name, rows, I, H, lbr, fused, fast, clip, x_scale,
                     test::max_abs_diff(want.data(), got.data(), want.size()));
    CHECK(ok);
    if (&k != &ref || fast) return;
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
    // The rounding of x and h moves a pre-activation by ~ |w| |x| sqrt(I + H) x the relative step:
    // wider for the large weights of tiny H (init range 1 / sqrt(H)).
    const float spread = std::max(1.0f, std::sqrt(static_cast<float>(I + H) / H) / 4.0f);
    const float tol = spread * (f == WeightFormat::Int8 ? 0.03f : f == WeightFormat::BF16 ? 0.01f : 1e-5f);
    if (!(err <= tol))
        std::fprintf(stderr, "%s reference vs fp32 rows=%zu I=%zu H=%zu lbr=%d fused=%d: err %g > %g\n", k.name, rows,
                     I, H, lbr, fused, err, tol);
    CHECK(err <= tol);
    for (std::size_t m = 0; m < rows; ++m) CHECK(got[m * (H + 2) + H] == 9.0f && got[m * (H + 2) + H + 1] == 9.0f);
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

// test_quant_kernels [--isa scalar|avx512|avx2|neon]: one ISA's kernels (all when none is given).
// An ISA this CPU or build lacks prints NOT RUN and exits 77 (ctest: Skipped).
int main(int argc, char** argv) {
    std::mt19937 rng(4321);
    const std::string only = argc == 3 && std::string(argv[1]) == "--isa" ? argv[2] : "";
    check_conversions(rng);
    const std::size_t odd[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67, 255, 257};
    int ran = 0;
    for (WeightFormat f : {WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16}) {
        const QKernels& ref = *q_kernels(f, "scalar");
        std::vector<const QKernels*> tables;
        if (only.empty() || only == "scalar") tables.push_back(&ref);
        for (const char* isa : {"avx512", "avx2", "neon", "neon-widening"}) {
            if (!only.empty() && only.rfind(isa, 0) != 0 && std::string(isa).rfind(only, 0) != 0) continue;
            const QKernels* k = q_kernels(f, isa);
            if (k && std::find(tables.begin(), tables.end(), k) == tables.end()) tables.push_back(k);
            else if (!k) std::printf("%s %s: NOT RUN (no such kernels on this CPU or build)\n", weight_format_name(f), isa);
        }
        for (const QKernels* k : tables) {
            ++ran;
            const int checks0 = test::checks(), fails0 = test::failures();
            std::uniform_int_distribution<std::size_t> size(1, 67), rows(1, 9);
            for (std::size_t i = 0; i < sizeof odd / sizeof odd[0]; ++i)
                check_gemm(*k, ref, rng, f, 1 + i % 9, odd[i], odd[(i * 7 + 3) % 20], i % 2, i % 3 == 0 ? 0.02f : 0.0f);
            for (int i = 0; i < 240; ++i) {
                const std::size_t I = i % 40 == 0 ? 255 : i % 40 == 20 ? 257 : size(rng);
                const std::size_t H = i % 60 == 7 ? 257 : i % 60 == 37 ? 255 : size(rng);
                check_step(*k, ref, rng, f, rows(rng), I, H, i % 2, (i / 2) % 2, (i / 4) % 4 != 0, i % 11 == 5,
                           i % 7 == 3 ? 0.7f : 0.0f, i % 5 == 1 ? 0.015f : 0.0f);
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
