// Every optimised kernel against the scalar reference, over random shapes with vector tails.
#include <cstdio>

#include "gru_infer/gru_infer.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

void check_gemm(const Kernels& k, std::mt19937& rng, std::size_t M, std::size_t N, std::size_t K, bool bias) {
    const std::size_t lda = K + (M % 3), ldb = K + (N % 2), ldc = N + 1;  // strides wider than rows too
    auto A = test::random_vec(rng, M * lda), B = test::random_vec(rng, N * ldb), b = test::random_vec(rng, N);
    std::vector<float> ref(M * ldc, 7.0f), got(M * ldc, 7.0f);
    scalar_kernels().gemm_nt(M, N, K, A.data(), lda, B.data(), ldb, bias ? b.data() : nullptr, ref.data(), ldc);
    k.gemm_nt(M, N, K, A.data(), lda, B.data(), ldb, bias ? b.data() : nullptr, got.data(), ldc);
    // Different summation order: error grows like sqrt(K) * eps * |terms|.
    const float tol = 1e-6f * (4.0f + static_cast<float>(K));
    const float err = test::max_abs_diff(ref.data(), got.data(), ref.size());
    if (!(err <= tol))
        std::fprintf(stderr, "%s gemm_nt M=%zu N=%zu K=%zu: max err %g > %g\n", k.name, M, N, K, err, tol);
    CHECK(err <= tol);
    for (std::size_t m = 0; m < M; ++m) CHECK(got[m * ldc + N] == 7.0f);  // padding untouched
}

// A packed GRU of random weights, as the layer would build it.
struct RandomGru {
    std::size_t I, H;
    GruWeights w;
    PackedGru p;
    RandomGru(std::mt19937& rng, std::size_t I_, std::size_t H_) : I(I_), H(H_) {
        auto W = test::random_vec(rng, 3 * H * I), R = test::random_vec(rng, 3 * H * H),
             bW = test::random_vec(rng, 3 * H), bR = test::random_vec(rng, 3 * H);
        w.W = AlignedBuffer(W.data(), W.size());
        w.R = AlignedBuffer(R.data(), R.size());
        w.bW = AlignedBuffer(bW.data(), bW.size());
        w.bR = AlignedBuffer(bR.data(), bR.size());
        p = pack_gru(w, I, H);
    }
};

void check_gemm_packed(const Kernels& k, std::mt19937& rng, std::size_t M, std::size_t I, std::size_t H) {
    RandomGru g(rng, I, H);
    const std::size_t ld = g.p.tiles * kTileRow + 5;
    auto A = test::random_vec(rng, M * (I + 2));
    std::vector<float> ref(M * ld, 3.0f), got(M * ld, 3.0f);
    scalar_kernels().gemm_packed(M, I, A.data(), I + 2, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), ref.data(), ld);
    k.gemm_packed(M, I, A.data(), I + 2, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), got.data(), ld);
    const float err = test::max_abs_diff(ref.data(), got.data(), ref.size());
    if (!(err <= 1e-6f * (4.0f + I))) std::fprintf(stderr, "%s gemm_packed M=%zu I=%zu H=%zu err %g\n", k.name, M, I, H, err);
    CHECK(err <= 1e-6f * (4.0f + I));
}

// One GRU step through k vs the scalar reference: both forms, fused input or precomputed xp,
// exact or fast activations, with or without clip.
void check_gru_step(const Kernels& k, std::mt19937& rng, std::size_t rows, std::size_t I, std::size_t H, bool lbr,
                    bool fused, bool fast, float clip) {
    RandomGru g(rng, I, H);
    const std::size_t ldxp = g.p.tiles * kTileRow;
    auto x = test::random_vec(rng, rows * I, 2.0f), h = test::random_vec(rng, rows * (H + 1));
    std::vector<float> xp(rows * ldxp);
    scalar_kernels().gemm_packed(rows, I, x.data(), I, g.p.w.data(), g.p.tile_stride, g.p.tiles, g.p.bx.data(), xp.data(), ldxp);
    std::vector<float> ref(rows * (H + 2), 9.0f), got(rows * (H + 2), 9.0f), scratch(gru_step_scratch_floats(rows, H));
    GruStepArgs a;
    a.rows = rows; a.input = I; a.hidden = H;
    if (fused) { a.x = x.data(); a.ldx = I; } else { a.xp = xp.data(); a.ldxp = ldxp; }
    a.h = h.data(); a.ldh = H + 1; a.ldo = H + 2;
    a.w = g.p.w.data(); a.tile_stride = g.p.tile_stride; a.bx = g.p.bx.data(); a.bh = g.p.bh.data();
    a.clip = clip; a.fast = fast; a.scratch = scratch.data();
    a.reverse_tiles = (rows + I + H) % 2 == 1;  // tile order must not change the result
    if (lbr && (rows + I) % 3 == 0) a.scratch = nullptr;  // lbr runs without scratch too (no batched GEMM)
    a.h_out = ref.data();
    (lbr ? scalar_kernels().gru_lbr_step : scalar_kernels().gru_cho_step)(a);
    a.h_out = got.data();
    (lbr ? k.gru_lbr_step : k.gru_cho_step)(a);
    const float err = test::max_abs_diff(ref.data(), got.data(), ref.size());
    const float tol = 2e-6f * (4.0f + I + H);
    if (!(err <= tol))
        std::fprintf(stderr, "%s gru step rows=%zu I=%zu H=%zu lbr=%d fused=%d fast=%d clip=%g: err %g\n", k.name,
                     rows, I, H, lbr, fused, fast, clip, err);
    CHECK(err <= tol);
    for (std::size_t m = 0; m < rows; ++m) CHECK(got[m * (H + 2) + H] == 9.0f && got[m * (H + 2) + H + 1] == 9.0f);
}

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

// The fast activations inside the GRU step: error of the whole step against exact, by ISA.
void check_fast_mode_error(const Kernels& k, std::mt19937& rng) {
    float worst = 0;
    for (int i = 0; i < 50; ++i) {
        RandomGru g(rng, 16, 16);
        auto x = test::random_vec(rng, 16, 3.0f), h = test::random_vec(rng, 16);
        std::vector<float> exact(16), fast(16);
        GruStepArgs a;
        a.rows = 1; a.input = 16; a.hidden = 16; a.x = x.data(); a.ldx = 16; a.h = h.data(); a.ldh = 16; a.ldo = 16;
        a.w = g.p.w.data(); a.tile_stride = g.p.tile_stride; a.bx = g.p.bx.data(); a.bh = g.p.bh.data();
        a.h_out = exact.data();
        k.gru_lbr_step(a);
        a.fast = true;
        a.h_out = fast.data();
        k.gru_lbr_step(a);
        worst = std::fmax(worst, test::max_abs_diff(exact.data(), fast.data(), 16));
    }
    std::printf("%s: fast activations, max abs error of one GRU step %.3g\n", k.name, worst);
    CHECK(worst <= 2e-4f);  // sigmoid error <= 5e-5 and tanh <= 1e-4, compounded by the update
}

}  // namespace

int main() {
    std::mt19937 rng(1234);
    std::vector<const Kernels*> tables;
    for (const auto& isa : available_isas()) {
        set_isa(isa);
        tables.push_back(&active_kernels());
    }
    std::printf("kernel tables: %zu\n", tables.size());
    const std::size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 255, 257};
    for (const Kernels* k : tables) {
        for (std::size_t M : {1, 2, 3, 5, 9})
            for (std::size_t N : sizes)
                for (std::size_t K : sizes) check_gemm(*k, rng, M, N, K, (M + N + K) % 2 == 0);
        std::uniform_int_distribution<std::size_t> d(1, 300);
        for (int i = 0; i < 200; ++i) check_gemm(*k, rng, d(rng) % 20 + 1, d(rng), d(rng), i % 2);
    }
    const std::size_t odd[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 255, 257};
    for (const Kernels* k : tables) {
        check_activations(*k);
        check_fast_mode_error(*k, rng);
        for (std::size_t M : {1, 2, 3, 4, 5, 9})
            for (std::size_t I : odd) check_gemm_packed(*k, rng, M, I, odd[(M * 7 + I) % 15]);
        check_gemm_packed(*k, rng, 261, 2100, 20);  // several K blocks (1024 each) and M blocks (256)
        std::uniform_int_distribution<std::size_t> size(1, 67), rows(1, 9);
        for (int i = 0; i < 300; ++i)
            check_gru_step(*k, rng, rows(rng), i % 10 == 0 ? 255 : size(rng), i % 15 == 0 ? 257 : size(rng), i % 2,
                           (i / 2) % 2, (i / 4) % 2, (i / 8) % 3 == 0 ? 0.7f : 0.0f);
    }
    // Forcing an ISA the machine lacks is an error, not a crash.
    CHECK_THROWS(set_isa("no-such-isa"), InvalidArgument);
    return test::finish("test_kernels");
}
