// C++ benchmark: ns per step and GFLOP/s of the GRU kernels per ISA and size, for both GRU forms,
// the streaming step (input fused in), the sequence recurrence, and the input-projection GEMM.
// Fraction of peak uses --peak-gflops (default 90, this machine's one-core SGEMM through OpenBLAS).
//     bench_gru [--quick] [--peak-gflops N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"  // the kernel table, timed directly

using namespace gru_infer;
using Clock = std::chrono::steady_clock;

namespace {

double peak = 90.0;

template <typename F>
double median_ns(F&& fn, int reps, int inner) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        auto t0 = Clock::now();
        for (int i = 0; i < inner; ++i) fn();
        t.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / inner);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

std::shared_ptr<Model> gru_model(std::size_t I, std::size_t H, bool lbr) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-0.2f, 0.2f);
    auto buf = [&](std::size_t n) {
        AlignedBuffer b(n);
        for (std::size_t i = 0; i < n; ++i) b[i] = d(rng);
        return b;
    };
    GruConfig c;
    c.input_size = I; c.hidden_size = H; c.linear_before_reset = lbr;
    std::vector<GruWeights> w(1);
    w[0] = GruWeights{buf(3 * H * I), buf(3 * H * H), buf(3 * H), buf(3 * H)};
    auto m = std::make_shared<Model>();
    m->add(std::make_unique<GruLayer>(c, std::move(w)));
    return m;
}

void report(const char* what, const std::string& isa, std::size_t I, std::size_t H, std::size_t B, double ns,
            double flops) {
    const double gflops = flops / ns;
    std::printf("%-22s %-6s I=%-5zu H=%-5zu B=%-3zu %12.1f ns %8.2f GFLOP/s %5.1f%% of peak\n", what, isa.c_str(), I,
                H, B, ns, gflops, 100.0 * gflops / peak);
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--peak-gflops") && i + 1 < argc) peak = std::atof(argv[++i]);
    }
    const int reps = quick ? 3 : 9;
    std::vector<std::size_t> sizes{8, 16, 32, 64, 128, 256, 512};
    if (quick) sizes = {16, 64};
    for (const auto& isa : available_isas()) {
        set_isa(isa);
        for (bool lbr : {true, false}) {
            for (std::size_t H : sizes) {
                auto m = gru_model(H, H, lbr);
                Stream s(m, 1);
                std::vector<float> x(H, 0.1f), y(H);
                const int inner = static_cast<int>(std::max<std::size_t>(10, 2000000 / (H * H)));
                double ns = median_ns([&] { s.step(x.data(), y.data()); }, reps, inner);
                report(lbr ? "stream step lbr=1" : "stream step lbr=0", isa, H, H, 1, ns, 2.0 * 3 * H * (H + H));
            }
            for (std::size_t H : sizes) {  // whole sequence, per step
                const std::size_t T = quick ? 50 : 200;
                auto m = gru_model(H, H, lbr);
                std::vector<float> x(T * H, 0.1f), y(T * H);
                PredictRequest req;
                req.batch = 1; req.steps = T; req.x = x.data(); req.y = y.data();
                double ns = median_ns([&] { m->predict(req); }, reps, 1) / T;
                report(lbr ? "sequence/step lbr=1" : "sequence/step lbr=0", isa, H, H, 1, ns, 2.0 * 3 * H * (H + H));
            }
        }
        // The input projection GEMM alone: M = T*B rows, K = I, N = 3H.
        for (std::size_t n : quick ? std::vector<std::size_t>{256} : std::vector<std::size_t>{64, 256, 1024}) {
            const std::size_t M = n >= 1024 ? 100 : 1000;
            GruWeights w;
            w.W = AlignedBuffer(3 * n * n); w.R = AlignedBuffer(3 * n * n);
            w.bW = AlignedBuffer(3 * n); w.bR = AlignedBuffer(3 * n);
            for (std::size_t i = 0; i < w.W.size(); ++i) w.W[i] = 0.001f * static_cast<float>(i % 7);
            PackedGru p = pack_gru(w, n, n);
            std::vector<float> A(M * n, 0.5f), C(M * p.tiles * kTileRow);
            const Kernels& k = active_kernels();
            double ns = median_ns([&] {
                k.gemm_packed(M, n, A.data(), n, p.w.data(), p.tile_stride, p.tiles, p.bx.data(), C.data(), p.tiles * kTileRow);
            }, reps, 1);
            report("input projection GEMM", isa, n, n, M, ns, 2.0 * M * n * 3 * n);
        }
    }
    return 0;
}
