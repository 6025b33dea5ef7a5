// The AMX kernels (simd/amx_tiles.h) against the scalar references, on rows {16 .. 100} x H x I,
// both GRU forms, clip and fast activations on and off:
//   - emulated (amx::EmulatedTiles, amx_emulated.h), on every CPU with AVX-512 VNNI and BF16 (the
//     epilogues): int8 bit for bit against the scalar reference (the sums are exact int32); bf16 bit
//     for bit against a scalar reference that sums in TDPBF16PS's order (the SDM's), and within
//     quant_kernels.h's bound of the scalar reference (the gemm's outputs; the lbr step's state);
//   - native (the "amx" tables), only where cpu_has_amx_*(): int8 bit for bit, bf16 within the bound;
//   - the emulator's own checks: a configuration or operand shape the hardware faults on throws;
//   - GRU_INFER_ISA=amx (ctest amx_kernels_forced) on a CPU without AMX: another table, a clear error
//     from set_isa, nothing crashes.
//     test_amx_kernels [--forced]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../kernels/quant_kernels.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"
#include "runtime/denormals.h"
#include "quant_test_util.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

// The forced run (GRU_INFER_ISA=amx in the environment): amx where the CPU has it, else the best
// other table with a message on stderr (dispatch.cpp), and set_isa("amx") refuses clearly.
int forced_isa() {
    const bool has = cpu_has_amx_int8() && cpu_has_amx_bf16() && cpu_has_avx512();
    const std::string active = active_isa();
    std::printf("GRU_INFER_ISA=%s: active %s\n", std::getenv("GRU_INFER_ISA") ? std::getenv("GRU_INFER_ISA") : "",
                active.c_str());
    CHECK((active == "amx") == has);
    const auto compiled = compiled_isas();
    CHECK(std::find(compiled.begin(), compiled.end(), "amx") != compiled.end());
    const auto avail = available_isas();
    CHECK((std::find(avail.begin(), avail.end(), "amx") != avail.end()) == has);
    if (!has) {
        bool thrown = false;
        try {
            set_isa("amx");
        } catch (const InvalidArgument& e) {
            thrown = std::string(e.what()).find("'amx' is not available") != std::string::npos;
            std::printf("set_isa(\"amx\"): %s\n", e.what());
        }
        CHECK(thrown);
        CHECK(active_isa() == active);
    }
    // The quantized tables the active ISA picks run (no AMX instruction unless the CPU has AMX).
    for (WeightFormat f : {WeightFormat::Int8, WeightFormat::BF16}) {
        const QKernels& k = q_active(f);
        std::printf("%s: %s\n", weight_format_name(f), k.name);
        CHECK(has == (std::string(k.name).find("amx") != std::string::npos));
    }
    return test::finish("test_amx_kernels --forced");
}

}  // namespace

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(GRU_INFER_NO_AMX) && !defined(GRU_INFER_NO_AVX512)
#define GRU_INFER_TEST_AMX 1
// The kernels' ISA for what follows (the emulated instantiation runs AVX-512 epilogues), and the
// scalar reference's rule: no fp contraction (qops_scalar.h). main stays on the default target.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16,avx2,fma,f16c"))), apply_to = function)
#pragma clang fp contract(off)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16,avx2,fma,f16c")
#pragma GCC optimize("fp-contract=off")
#endif
#include "../kernels/simd/amx_emulated.h"
#include "../kernels/simd/qops_scalar.h"

namespace {

using amx::EmulatedTiles;

template <WeightFormat F>
QKernels emulated_table(const char* name) {
    using K = AmxKernels<F, EmulatedTiles>;
    return QKernels{name, K::gemm, K::lbr, K::cho, 0, false};
}

// The scalar bf16 reference with its products summed in TDPBF16PS's order (the SDM): per output,
// per K chunk of 16 pairs as the kernels cut them, even and odd lanes from zero by FMA (denormals
// flushed), then acc = acc + (even + odd). The emulated kernels equal it bit for bit.
struct AmxOrderBf16Ops : ScalarQOps<WeightFormat::BF16> {
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float*, std::size_t, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        const std::size_t groups = m.groups();
        const auto* w = static_cast<const std::uint16_t*>(m.bytes());
        for (std::size_t i = 0; i < rows; ++i) {
            const auto* x = reinterpret_cast<const std::uint16_t*>(static_cast<const char*>(v) + i * v_stride);
            for (std::size_t b = blocks.b0; b < blocks.b1; ++b)
                for (std::size_t s = s0; s < s0 + ns; ++s)
                    for (std::size_t l = 0; l < kQLanes; ++l) {
                        const std::size_t p = (b * m.subs + s) * kQLanes + l;
                        auto at = [&](std::size_t q) { return ((b * groups + q) * m.subs + s) * kQLanes * 2 + l * 2; };
                        float acc = init ? init[i * ld_init + p] : 0.0f;
                        for (std::size_t q0 = 0; q0 < groups; q0 += amx::kChunkGroups) {
                            float even = 0.0f, odd = 0.0f;
                            for (std::size_t q = q0; q < std::min(groups, q0 + amx::kChunkGroups); ++q) {
                                even = ftz(std::fma(ftz(from_bf16(x[2 * q])), ftz(from_bf16(w[at(q)])), even));
                                odd = ftz(std::fma(ftz(from_bf16(x[2 * q + 1])), ftz(from_bf16(w[at(q) + 1])), odd));
                            }
                            acc = ftz(ftz(acc) + ftz(even + odd));
                        }
                        out[i * ld_out + p] = acc;
                    }
        }
    }
};
const QKernels kAmxOrderBf16{"bf16_amx-order-reference", QuantStep<AmxOrderBf16Ops>::gemm,
                             QuantStep<AmxOrderBf16Ops>::lbr, QuantStep<AmxOrderBf16Ops>::cho};

// The bf16 bound (quant_kernels.h): the kernel and the reference each sum the same K + 1 terms
// (init and K exact products) in their own order, every term rounded at most K + 2 times, so
// |amx - ref| <= 2 gamma(K + 2) (|init| + sum |x_k w_k|) + (3K + 2) 2^-126 (flushed results).
double bf16_bound(std::size_t K, double sum_abs) {
    const double u = std::ldexp(1.0, -24), n = static_cast<double>(K + 2);
    return 2.0 * n * u / (1.0 - n * u) * sum_abs + (3.0 * K + 2.0) * std::ldexp(1.0, -126);
}
// sum_k |x_k w_k| of packed row p of m (bf16) and the bf16 row x.
double bf16_abs_dot(const QMatrix& m, std::size_t p, const std::uint16_t* x) {
    const std::size_t S = m.subs, b = p / (S * kQLanes), s = p / kQLanes % S, l = p % kQLanes, groups = m.groups();
    const auto* w = static_cast<const std::uint16_t*>(m.bytes());
    double sum = 0.0;
    for (std::size_t q = 0; q < groups; ++q)
        for (std::size_t e = 0; e < 2; ++e)
            sum += std::fabs(double(from_bf16(x[2 * q + e])) * from_bf16(w[((b * groups + q) * S + s) * kQLanes * 2 + l * 2 + e]));
    return sum;
}
std::vector<std::uint16_t> bf16_row(const float* v, std::size_t n, std::size_t kpad) {
    std::vector<std::uint16_t> r(kpad, 0);
    for (std::size_t k = 0; k < n; ++k) r[k] = to_bf16(v[k]);
    return r;
}

struct Case {
    std::size_t I, H;
    QuantGru q;
    Case(std::mt19937& rng, WeightFormat f, std::size_t I_, std::size_t H_, float x_scale) : I(I_), H(H_) {
        const float a = 1.0f / std::sqrt(static_cast<float>(H));
        auto W = test::random_vec(rng, 3 * H * I, a), R = test::random_vec(rng, 3 * H * H, a),
             bW = test::random_vec(rng, 3 * H, a), bR = test::random_vec(rng, 3 * H, a);
        GruWeights w{AlignedBuffer(W.data(), W.size()), AlignedBuffer(R.data(), R.size()),
                     AlignedBuffer(bW.data(), bW.size()), AlignedBuffer(bR.data(), bR.size())};
        q = quantize_gru(w, I, H, f, x_scale);
    }
};

using test::same_bits;
using test::Scratch;

// k's gemm of M rows of I inputs through W (from init) against ref's: bit for bit (exact), or
// within the bf16 bound of each output.
void check_gemm(const QKernels& k, const QKernels& ref, bool exact, std::mt19937& rng, std::size_t M, std::size_t I,
                const QMatrix& W, const float* init, float x_scale) {
    const std::size_t P = W.packed_rows(), ld = P + 3;
    auto A = test::random_vec(rng, M * (I + 1), 2.0f);
    std::vector<float> want(M * ld, 7.0f), got(M * ld, 7.0f);
    Scratch s1(q_gemm_scratch_bytes(M, W)), s2(q_gemm_scratch_bytes(M, W));
    ref.gemm(M, A.data(), I + 1, W, x_scale, init, want.data(), ld, s1.p);
    k.gemm(M, A.data(), I + 1, W, x_scale, init, got.data(), ld, s2.p);
    bool ok = true;
    if (exact) {
        ok = same_bits(want.data(), got.data(), want.size());
    } else {
        double worst = 0.0;
        for (std::size_t i = 0; i < M; ++i) {
            const auto x = bf16_row(A.data() + i * (I + 1), I, W.kpad);
            for (std::size_t p = 0; p < P; ++p) {
                const double d = std::fabs(double(got[i * ld + p]) - want[i * ld + p]);
                const double bound = bf16_bound(W.kpad, std::fabs(init[p]) + bf16_abs_dot(W, p, x.data()));
                ok = ok && d <= bound;
                worst = std::max(worst, d / bound);
            }
            for (std::size_t p = P; p < ld; ++p) ok = ok && got[i * ld + p] == 7.0f;
        }
        if (!ok) std::fprintf(stderr, "  (worst difference %g of the bound)\n", worst);
    }
    if (!ok)
        std::fprintf(stderr, "%s gemm M=%zu I=%zu outputs=%zu (S=%zu): differs from %s (max %g)\n", k.name, M, I, W.rows,
                     W.subs, ref.name, test::max_abs_diff(want.data(), got.data(), want.size()));
    CHECK(ok);
}
// The GRU input projection (S = 3) and a Dense layer's product (S = 1) with I inputs.
void check_gemm(const QKernels& k, const QKernels& ref, bool exact, std::mt19937& rng, WeightFormat f, std::size_t M,
                std::size_t I, std::size_t H, float x_scale) {
    const Case c(rng, f, I, H, x_scale);
    check_gemm(k, ref, exact, rng, M, I, c.q.W, c.q.bx.data(), c.q.x_scale);
    const auto w = test::random_vec(rng, H * I, 0.5f), bias = test::random_vec(rng, H, 0.5f);
    const QuantDense d = quantize_dense(w.data(), bias.data(), I, H, f, x_scale);
    check_gemm(k, ref, exact, rng, M, I, d.W, d.bias.data(), d.x_scale);
}

// One step through k and ref: h_out (and for exact, lbr, the pre-activations A and B in scratch)
// bit for bit; otherwise (bf16, lbr) h_out within the bound carried through the gates: with pre-
// activation bounds eZ, eR, eN (R h, plus the fused input product's eA) and |dsigma| <= 1/4,
// |dtanh| <= 1, |h - n| <= 2: |dh| <= 0.5 eZ + 0.25 |B_n| eR + eN + eA_n (x 1.5 for the
// activations' approximations, plus 2^-20).
void check_step(const QKernels& k, const QKernels& ref, bool exact, std::mt19937& rng, WeightFormat f,
                std::size_t rows, std::size_t I, std::size_t H, bool lbr, bool fused, bool fast, float clip,
                float x_scale) {
    Case c(rng, f, I, H, x_scale);
    const std::size_t ldxp = c.q.tiles * kQTileRow;
    auto x = test::random_vec(rng, rows * I, 2.0f), h = test::random_vec(rng, rows * (H + 1), 1.0f);
    const test::StepRun run(k, ref, c.q, rows, x.data(), h.data(), lbr, fused, fast, clip, (rows + I + H) % 2 == 1);
    const std::vector<float>&want = run.want, &got = run.got, &xp = run.xp;
    const test::Scratch &s1 = run.s1, &s2 = run.s2;
    const QStepScratch L(c.q);
    bool ok = true;
    if (exact) {
        ok = same_bits(want.data(), got.data(), want.size());
        for (std::size_t m = 0; m < rows && lbr; ++m) {
            const char *r1 = static_cast<const char*>(s1.p) + m * L.row_bytes, *r2 = static_cast<const char*>(s2.p) + m * L.row_bytes;
            ok = ok && std::memcmp(r1 + L.b, r2 + L.b, ldxp * sizeof(float)) == 0 &&
                 (!fused || std::memcmp(r1 + L.a, r2 + L.a, ldxp * sizeof(float)) == 0);
        }
    } else {
        for (std::size_t m = 0; m < rows; ++m) {
            const auto hb = bf16_row(h.data() + m * (H + 1), H, c.q.R.kpad), xb = bf16_row(x.data() + m * I, I, c.q.W.kpad);
            const float* B = reinterpret_cast<const float*>(static_cast<const char*>(s1.p) + m * L.row_bytes + L.b);
            for (std::size_t u = 0; u < H; ++u) {
                const std::size_t t = u / kQLanes, l = u % kQLanes, p0 = t * kQTileRow + l;
                double e[3], eA[3] = {0.0, 0.0, 0.0};
                for (int s = 0; s < 3; ++s) {
                    const std::size_t p = p0 + s * kQLanes;
                    const double in = fused ? double(std::fabs(c.q.bx[p])) + bf16_abs_dot(c.q.W, p, xb.data()) : 0.0;
                    if (fused) eA[s] = bf16_bound(c.q.W.kpad, in);
                    const double start = s == 2 ? std::fabs(c.q.bh[p]) : std::fabs(double(xp[m * ldxp + p])) + std::fabs(c.q.bh[p]) + in;
                    e[s] = bf16_bound(c.q.R.kpad, start + bf16_abs_dot(c.q.R, p, hb.data())) + (s == 2 ? 0.0 : 1.01 * eA[s]);
                }
                const double tol = 1.5 * (0.5 * e[0] + 0.25 * std::fabs(B[p0 + 2 * kQLanes]) * e[1] + e[2] + eA[2]) +
                                   std::ldexp(1.0, -20);
                const double d = std::fabs(double(got[m * (H + 2) + u]) - want[m * (H + 2) + u]);
                ok = ok && d <= tol;
            }
            ok = ok && got[m * (H + 2) + H] == 9.0f && got[m * (H + 2) + H + 1] == 9.0f;
        }
    }
    if (!ok)
        std::fprintf(stderr, "%s step rows=%zu I=%zu H=%zu lbr=%d fused=%d fast=%d clip=%g: differs from %s (max %g)\n",
                     k.name, rows, I, H, lbr, fused, fast, clip, ref.name,
                     test::max_abs_diff(want.data(), got.data(), want.size()));
    CHECK(ok);
}

// The grid: rows x H x I, gemm and both step forms (fused input or projected, clip and fast
// activations alternating), k against ref (exact or within the bf16 bound); ref2 (bf16: the SDM-order
// reference) bit for bit where given.
void check_grid(const QKernels& k, const QKernels& ref, const QKernels* ref2, WeightFormat f, std::mt19937& rng) {
    const bool exact = f == WeightFormat::Int8;
    int n = 0;
    for (std::size_t rows : {16, 17, 31, 32, 33, 48, 100})
        for (std::size_t H : {1, 3, 17, 64, 255})
            for (std::size_t I : {1, 3, 17, 64, 130}) {
                ++n;
                const float xs = f == WeightFormat::Int8 && n % 3 == 0 ? 0.015f : 0.0f;
                const bool fast = n % 2, fused = (n / 2) % 2;
                const float clip = n % 5 == 1 ? 0.7f : 0.0f;
                std::mt19937 r2 = rng;  // the same case for the second reference
                check_gemm(k, ref, exact, rng, f, rows, I, H, xs);
                if (ref2) check_gemm(k, *ref2, true, r2, f, rows, I, H, xs);
                for (int lbr = 0; lbr < 2; ++lbr) {
                    r2 = rng;
                    if (lbr || exact) check_step(k, ref, exact, rng, f, rows, I, H, lbr, fused, fast, clip, xs);
                    if (ref2) check_step(k, *ref2, true, r2, f, rows, I, H, lbr, !fused, !fast, clip, xs);
                }
            }
}

// The emulator faults where the hardware would.
void check_emulator() {
    using amx::Fault;
    using amx::TileConfig;
    const TileConfig good = amx::kernel_config(16, 5);
    EmulatedTiles::config(good);
    CHECK(EmulatedTiles::configured());
    EmulatedTiles::release();
    CHECK_THROWS(EmulatedTiles::zero_n(0), Fault);  // no configuration
    auto bad = [&](auto&& edit) {
        TileConfig c = good;
        edit(c);
        CHECK_THROWS(EmulatedTiles::config(c), Fault);
    };
    bad([](TileConfig& c) { c.palette = 0; });
    bad([](TileConfig& c) { c.palette = 2; });
    bad([](TileConfig& c) { c.start_row = 1; });
    bad([](TileConfig& c) { c.reserved[3] = 1; });
    bad([](TileConfig& c) { c.rows[0] = 17; });
    bad([](TileConfig& c) { c.colsb[1] = 68; });
    bad([](TileConfig& c) { c.rows[8] = 1; c.colsb[8] = 4; });  // a ninth tile
    bad([](TileConfig& c) { c.rows[7] = 0; c.colsb[7] = 64; });
    bad([](TileConfig& c) { c.rows[7] = 4; c.colsb[7] = 0; });
    // Operand shapes: C (16 x 64) += A (16 x 64) B (16 x 64); At (16 x 20) Bt (5 x 64).
    TileConfig c = good;
    c.rows[7] = 15; c.colsb[7] = 64;  // a B with 15 rows
    EmulatedTiles::config(c);
    CHECK_THROWS(EmulatedTiles::load_n(8, nullptr, 64), Fault);     // out of range
    alignas(64) static std::uint8_t buf[16 * 64] = {};
    EmulatedTiles::load_n(amx::kA, buf, 64);
    EmulatedTiles::dpbusd_n(0, amx::kA, amx::kB);                    // fine
    EmulatedTiles::dpbusd_n(0, amx::kAt, amx::kBt);                  // fine (K = 5)
    CHECK_THROWS(EmulatedTiles::dpbusd_n(0, amx::kA, 7), Fault);    // A's K 16 != B's rows 15
    CHECK_THROWS(EmulatedTiles::dpbf16ps_n(0, amx::kA, amx::kBt), Fault);  // 16 != 5
    CHECK_THROWS(EmulatedTiles::dpbusd_n(0, amx::kAt, amx::kB), Fault);    // 5 != 16
    CHECK_THROWS(EmulatedTiles::dpbusd_n(0, 0, amx::kB), Fault);    // the same tile twice
    EmulatedTiles::release();
    c = amx::kernel_config(8, 0);  // C, A with 8 rows
    c.rows[1] = 16;                // C1 with 16: rows != A's
    EmulatedTiles::config(c);
    CHECK_THROWS(EmulatedTiles::dpbusd_n(1, amx::kA, amx::kB), Fault);
    CHECK_THROWS(EmulatedTiles::dpbusd_n(0, amx::kAt, amx::kBt), Fault);  // At, Bt not configured
    c.rows[1] = 8; c.colsb[1] = 32;  // C1 32 bytes wide: != B's 64
    EmulatedTiles::config(c);
    CHECK_THROWS(EmulatedTiles::dpbusd_n(1, amx::kA, amx::kB), Fault);
    EmulatedTiles::release();
    // TDPBUSD's arithmetic on one output: u8 255 x s8 -128, four times, over 16 k: -2088960; and
    // TILELOADD reads colsb bytes of each row at the stride, zeros past them.
    c = amx::kernel_config(1, 0);
    EmulatedTiles::config(c);
    std::uint8_t a[64], b[16 * 64];
    std::memset(a, 255, sizeof a);
    std::memset(b, 0x80, sizeof b);
    EmulatedTiles::load_n(amx::kA, a, 64);
    EmulatedTiles::load_n(amx::kB, b, 64);
    EmulatedTiles::zero_n(0);
    EmulatedTiles::dpbusd_n(0, amx::kA, amx::kB);
    std::int32_t out[16];
    EmulatedTiles::store_n(0, out, 64);
    CHECK(out[0] == -2088960 && out[15] == -2088960);
    EmulatedTiles::release();
    // TDPBF16PS's order on K = 2 pairs, x = (1, 1), (1, 1), w = (2^25, 1), (-2^25, 1) (even, odd):
    // the even lane gives 2^25 - 2^25 = 0, the odd one 1 + 1, so 2; the scalar spec's one
    // accumulator (odd first) loses both ones next to 2^25 and gives 0. A denormal bf16 input
    // (0x0001, times 2^100 in output 1) reads as zero.
    c = amx::kernel_config(1, 2);
    EmulatedTiles::config(c);
    const std::uint16_t x2[4] = {0x3f80, 0x3f80, 0x3f80, 0x3f80};
    std::uint16_t w2[2][32] = {};
    w2[0][0] = 0x4c00; w2[0][1] = 0x3f80; w2[1][0] = 0xcc00; w2[1][1] = 0x3f80;  // output 0
    w2[0][2] = 0x7180;                                                            // output 1: 2^100 x 1
    EmulatedTiles::load_n(amx::kAt, x2, 64);
    EmulatedTiles::load_n(amx::kBt, w2, 64);
    EmulatedTiles::zero_n(0);
    EmulatedTiles::dpbf16ps_n(0, amx::kAt, amx::kBt);
    float o2[16];
    EmulatedTiles::store_n(0, o2, 64);
    CHECK(o2[0] == 2.0f && o2[1] == 0x1p100f);
    const std::uint16_t x3[4] = {0x0001, 0, 0, 0};  // a denormal x: zero
    EmulatedTiles::load_n(amx::kAt, x3, 64);
    EmulatedTiles::zero_n(0);
    EmulatedTiles::dpbf16ps_n(0, amx::kAt, amx::kBt);
    EmulatedTiles::store_n(0, o2, 64);
    CHECK(o2[1] == 0.0f && !std::signbit(o2[1]));
    EmulatedTiles::release();
}

// (main checked the CPU: this function is compiled for AVX-512.)
int run(std::mt19937& rng) {
    check_emulator();
    std::printf("AMX emulator checks: %d checks, %d failed\n", test::checks(), test::failures());
    for (WeightFormat f : {WeightFormat::Int8, WeightFormat::BF16}) {
        const QKernels& ref = *q_kernels(f, "scalar");
        const int c0 = test::checks(), f0 = test::failures();
        const std::size_t ops0 = EmulatedTiles::state().ops;
        const QKernels emu = f == WeightFormat::Int8 ? emulated_table<WeightFormat::Int8>("int8_amx-emulated")
                                                     : emulated_table<WeightFormat::BF16>("bf16_amx-emulated");
        for (int flush = 0; flush < 2; ++flush) {
            std::optional<FlushDenormals> guard;
            if (flush) guard.emplace();
            check_grid(emu, ref, f == WeightFormat::BF16 ? &kAmxOrderBf16 : nullptr, f, rng);
        }
        CHECK(EmulatedTiles::state().ops > ops0);  // the tiles ran (not only the AVX-512 fallback)
        std::printf("%s (emulated, %zu tile operations): %d checks, %d failed\n", emu.name,
                    EmulatedTiles::state().ops - ops0, test::checks() - c0, test::failures() - f0);
        const bool native = f == WeightFormat::Int8 ? cpu_has_amx_int8() : cpu_has_amx_bf16();
        if (const QKernels* k = native ? q_kernels(f, "amx") : nullptr) {
            const int c1 = test::checks(), f1 = test::failures();
            check_grid(*k, ref, nullptr, f, rng);
            std::printf("%s (native): %d checks, %d failed\n", k->name, test::checks() - c1, test::failures() - f1);
        } else {
            std::printf("%s AMX native: not run (CPU has no AMX)\n", weight_format_name(f));
        }
    }
    return test::finish("test_amx_kernels");
}

}  // namespace

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // GRU_INFER_TEST_AMX

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "--forced") return forced_isa();
#if GRU_INFER_TEST_AMX
    if (!cpu_has_avx512_vnni() || !cpu_has_avx512_bf16()) {
        std::printf("test_amx_kernels: NOT RUN (the emulated kernels' epilogues need AVX-512 VNNI and BF16)\n");
        return 77;
    }
    std::mt19937 rng(2468);
    return run(rng);
#else
    std::printf("test_amx_kernels: NOT RUN (no AMX kernels on this target or build)\n");
    return 77;
#endif
}
