// The fused GRU step (both forms) of one ISA against the scalar reference, over random shapes
// with vector tails, and the error of its fast activations.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "kernel_test_util.h"

using namespace gru_infer;

namespace {

// One GRU step through k vs the scalar reference: both forms, fused input or precomputed xp,
// exact or fast activations, with or without clip.
void check_gru_step(const Kernels& k, std::mt19937& rng, std::size_t rows, std::size_t I, std::size_t H, bool lbr,
                    bool fused, bool fast, float clip, std::size_t shift, bool gate_major) {
    test::RandomGru g(rng, I, H);
    // The packed weights `shift` floats past a cache line (still 32-byte aligned, as every packed
    // buffer is; AVX-512 picks its loads by the 64-byte alignment).
    AlignedBuffer shifted(g.p.w.size() + 16);
    std::copy(g.p.w.data(), g.p.w.data() + g.p.w.size(), shifted.data() + shift);
    const std::size_t ldxp = g.p.tiles * kTileRow;
    auto x = test::random_vec(rng, rows * I, 2.0f), h = test::random_vec(rng, rows * (H + 1));
    std::vector<float> xp(rows * ldxp);
    scalar_kernels().gemm_packed(rows, I, x.data(), I, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), xp.data(), ldxp);
    std::vector<float> ref(rows * (H + 2), 9.0f), got(rows * (H + 2), 9.0f), scratch(gru_step_scratch_floats(rows, H));
    GruStepArgs a;
    a.rows = rows; a.input = I; a.hidden = H;
    if (fused) { a.x = x.data(); a.ldx = I; } else { a.xp = xp.data(); a.ldxp = ldxp; }
    a.h = h.data(); a.ldh = H + 1; a.ldo = H + 2;
    a.w = shift ? shifted.data() + shift : g.p.w.data();
    a.tile_stride = g.p.tile_stride; a.bx = g.p.bx.data(); a.bh = g.p.bh.data();
    a.w_gate_major = gate_major ? g.gate_major_or_null() : nullptr;
    a.clip = clip; a.fast = fast; a.scratch = scratch.data();
    a.walk_backward = (rows + I + H) % 2 == 1;  // tile order must not change the result
    if (lbr && (rows + I) % 3 == 0) a.scratch = nullptr;  // lbr runs without scratch too (no batched GEMM)
    a.h_out = ref.data();
    (lbr ? scalar_kernels().gru_step_reset_after : scalar_kernels().gru_step_reset_before)(a);
    a.h_out = got.data();
    (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
    const float err = test::max_abs_diff(ref.data(), got.data(), ref.size());
    const float tol = 2e-6f * (4.0f + I + H);
    if (!(err <= tol))
        std::fprintf(stderr, "%s gru step rows=%zu I=%zu H=%zu lbr=%d fused=%d fast=%d clip=%g shift=%zu gate_major=%d: err %g\n",
                     k.name, rows, I, H, lbr, fused, fast, clip, shift, gate_major, err);
    CHECK(err <= tol);
    for (std::size_t m = 0; m < rows; ++m) CHECK(got[m * (H + 2) + H] == 9.0f && got[m * (H + 2) + H + 1] == 9.0f);
    // The walk direction only reorders reads: the other direction gives the same bits.
    std::vector<float> other(got.size(), 9.0f);
    a.h_out = other.data();
    a.walk_backward = !a.walk_backward;
    (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
    const bool same = std::memcmp(got.data(), other.data(), got.size() * sizeof(float)) == 0;
    if (!same)
        std::fprintf(stderr, "%s gru step rows=%zu I=%zu H=%zu lbr=%d fused=%d: walk direction changed the result\n",
                     k.name, rows, I, H, lbr, fused);
    CHECK(same);
}

// The fast activations inside the GRU step: error of the whole step against exact, by ISA.
void check_fast_mode_error(const Kernels& k, std::mt19937& rng) {
    float worst = 0;
    for (int i = 0; i < 50; ++i) {
        test::RandomGru g(rng, 16, 16);
        auto x = test::random_vec(rng, 16, 3.0f), h = test::random_vec(rng, 16);
        std::vector<float> exact(16), fast(16);
        GruStepArgs a;
        a.rows = 1; a.input = 16; a.hidden = 16; a.x = x.data(); a.ldx = 16; a.h = h.data(); a.ldh = 16; a.ldo = 16;
        a.w = g.p.w.data(); a.tile_stride = g.p.tile_stride; a.bx = g.p.bx.data(); a.bh = g.p.bh.data();
        a.w_gate_major = g.gate_major_or_null();
        a.h_out = exact.data();
        k.gru_step_reset_after(a);
        a.fast = true;
        a.h_out = fast.data();
        k.gru_step_reset_after(a);
        worst = std::fmax(worst, test::max_abs_diff(exact.data(), fast.data(), 16));
    }
    std::printf("%s: fast activations, max abs error of one GRU step %.3g\n", k.name, worst);
    CHECK(worst <= 2e-4f);  // sigmoid error <= 5e-5 and tanh <= 1e-4, compounded by the update
}

// NaN in gives NaN out, with or without clip (x86's max_ps(v, lo) would return lo for a NaN v),
// and an infinite input is clamped to a finite state. Rows: x NaN, h NaN in one unit, x +inf, x
// -inf, ordinary; every unit depends on every input and state (random weights, none zero).
void check_nan_propagates(const Kernels& k, std::mt19937& rng) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (std::size_t H : {3, 8, 17, 40})
        for (int v = 0; v < 16; ++v) {
            const bool lbr = v % 2, fused = (v / 2) % 2, fast = (v / 4) % 2;
            const float clip = (v / 8) % 2 ? 0.7f : 0.0f;
            const std::size_t rows = 5, I = 4;
            test::RandomGru g(rng, I, H);
            auto x = test::random_vec(rng, rows * I, 2.0f), h = test::random_vec(rng, rows * H);
            x[0 * I + 1] = nan;
            h[1 * H + H / 2] = nan;
            x[2 * I + 0] = inf;
            x[3 * I + 3] = -inf;
            const std::size_t ldxp = g.p.tiles * kTileRow;
            std::vector<float> xp(rows * ldxp), out(rows * H), scratch(gru_step_scratch_floats(rows, H));
            k.gemm_packed(rows, I, x.data(), I, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), xp.data(), ldxp);
            GruStepArgs a;
            a.rows = rows; a.input = I; a.hidden = H;
            if (fused) { a.x = x.data(); a.ldx = I; } else { a.xp = xp.data(); a.ldxp = ldxp; }
            a.h = h.data(); a.ldh = H; a.h_out = out.data(); a.ldo = H;
            a.w = g.p.w.data(); a.tile_stride = g.p.tile_stride; a.bx = g.p.bx.data(); a.bh = g.p.bh.data();
            a.w_gate_major = g.gate_major_or_null();
            a.clip = clip; a.fast = fast; a.scratch = scratch.data();
            // All rows at once (a batch of >= kStepGemmRows runs paths of its own), then one by one.
            (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
            std::vector<float> one(rows * H);
            for (std::size_t m = 0; m < rows; ++m) {
                GruStepArgs b = a;
                b.rows = 1; b.x = a.x ? a.x + m * I : nullptr; b.xp = a.xp ? a.xp + m * ldxp : nullptr;
                b.h = a.h + m * H; b.h_out = one.data() + m * H;
                (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(b);
            }
            out.insert(out.end(), one.begin(), one.end());
            for (std::size_t m = 0; m < 2 * rows; ++m)
                for (std::size_t j = 0; j < H; ++j) {
                    const float y = out[m * H + j];
                    const std::size_t row = m % rows;
                    // +-inf without clip: a gate or the candidate saturates, or inf - inf makes NaN;
                    // only NaN in must give NaN everywhere, and with clip nothing else may.
                    const bool ok = row < 2 ? std::isnan(y) : (row == 4 || clip > 0.0f ? std::isfinite(y) : true);
                    if (!ok)
                        std::fprintf(stderr, "%s NaN step H=%zu lbr=%d fused=%d fast=%d clip=%g row %zu unit %zu: %g\n",
                                     k.name, H, lbr, fused, fast, clip, m, j, y);  // m >= rows: alone
                    CHECK(ok);
                }
        }
}

// A batch of >= kStepGemmRows rows gives each row the same bits however it is split into parts of
// >= kStepGemmRows rows (Model::predict's thread chunks rely on it): 13 rows at once against parts
// of 4 and 9, both forms, both input paths.
void check_batch_split(const Kernels& k, std::mt19937& rng) {
    for (std::size_t H : {5, 17, 40, 70})
        for (int v = 0; v < 4; ++v) {
            const bool lbr = v % 2, fused = v / 2;
            const std::size_t rows = 13, I = 7;
            test::RandomGru g(rng, I, H);
            const std::size_t ldxp = g.p.tiles * kTileRow;
            auto x = test::random_vec(rng, rows * I, 2.0f), h = test::random_vec(rng, rows * H);
            std::vector<float> xp(rows * ldxp), all(rows * H), parts(rows * H), scratch(gru_step_scratch_floats(rows, H));
            k.gemm_packed(rows, I, x.data(), I, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), xp.data(), ldxp);
            GruStepArgs a;
            a.input = I; a.hidden = H; a.ldx = I; a.ldxp = ldxp; a.ldh = H; a.ldo = H;
            a.w = g.p.w.data(); a.tile_stride = g.p.tile_stride; a.bx = g.p.bx.data(); a.bh = g.p.bh.data();
            a.scratch = scratch.data();
            a.walk_backward = H % 2 == 1;
            auto run = [&](std::size_t m0, std::size_t n, float* out) {
                GruStepArgs b = a;
                b.rows = n;
                (fused ? b.x : b.xp) = fused ? x.data() + m0 * I : xp.data() + m0 * ldxp;
                b.h = h.data() + m0 * H;
                b.h_out = out + m0 * H;
                (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(b);
            };
            run(0, rows, all.data());
            run(0, 4, parts.data());
            run(4, rows - 4, parts.data());
            const bool same = std::memcmp(all.data(), parts.data(), all.size() * sizeof(float)) == 0;
            if (!same) std::fprintf(stderr, "%s batch split H=%zu lbr=%d fused=%d: the parts differ\n", k.name, H, lbr, fused);
            CHECK(same);
            // Fewer than kStepGemmRows rows (which predict may split row by row): 3 and 2 rows at
            // once give each row what it gets alone.
            for (std::size_t n : {2, 3}) {
                std::vector<float> together(n * H), alone(n * H);
                run(0, n, together.data());
                for (std::size_t m = 0; m < n; ++m) run(m, 1, alone.data());
                const bool same_rows = std::memcmp(together.data(), alone.data(), n * H * sizeof(float)) == 0;
                if (!same_rows)
                    std::fprintf(stderr, "%s %zu rows H=%zu lbr=%d fused=%d: differ from the rows alone\n", k.name, n, H, lbr, fused);
                CHECK(same_rows);
            }
        }
}

}  // namespace

int main(int argc, char** argv) {
    return test::run_kernel_test(argc, argv, "test_gru_step", [](const Kernels& k, std::mt19937& rng) {
        check_fast_mode_error(k, rng);
        check_nan_propagates(k, rng);
        check_batch_split(k, rng);
        std::uniform_int_distribution<std::size_t> size(1, 67), rows(1, 9);
        for (int i = 0; i < 300; ++i)
            check_gru_step(k, rng, rows(rng), i % 10 == 0 ? 255 : size(rng), i % 15 == 0 ? 257 : size(rng), i % 2,
                           (i / 2) % 2, (i / 4) % 2, (i / 8) % 3 == 0 ? 0.7f : 0.0f, i % 3 == 1 ? 8 : 0, i % 4 != 3);
        // Small layers, which run paths of their own (one tile: AVX-512 and AVX2; 2-4 tiles:
        // AVX-512 from the gate-major copy): every tile count and tail, both input paths and
        // alignments, with and without the copy.
        for (std::size_t H : {1, 3, 5, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32})
            for (std::size_t I : {1, 2, 3, 16, 17, 33})
                for (int v = 0; v < 16; ++v)
                    check_gru_step(k, rng, 1 + v % 3, I, H, true, (v / 2) % 2, (v / 4) % 2, 0.0f, (v / 8) % 2 ? 8 : 0,
                                   v % 7 != 6);
        // Batches of the Cho form, which run paths of their own (AVX-512: blocks of 8, 4 and 1
        // rows; tile pairs with a lone last tile): every block size and tile tail.
        for (std::size_t rows : {4, 5, 8, 9, 12, 13, 17})
            for (std::size_t H : {1, 7, 8, 9, 16, 17, 24, 33})
                for (std::size_t I : {1, 3, 17})
                    for (int v = 0; v < 8; ++v)
                        check_gru_step(k, rng, rows, I, H, false, v % 2, (v / 2) % 2, (v / 4) % 2 ? 0.7f : 0.0f, 0, false);
    });
}
