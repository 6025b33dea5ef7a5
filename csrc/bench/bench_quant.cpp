// C++ benchmark of the reduced-precision kernels next to fp32: ns per step and GB/s of weights
// read, batch of one, lbr form, for the streaming step (input product fused, I = H) and the
// recurrent step alone (sequence mode, input projected beforehand). Kernels are timed in
// interleaved rounds and the best round is reported (the machine is shared). With FTZ and DAZ set,
// as predict and Stream run the kernels (AVX-512 bf16 takes its FMA path then).
//     bench_quant [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../kernels/quant_kernels.h"
#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"
#include "runtime/denormals.h"

using namespace gru_infer;
using Clock = std::chrono::steady_clock;

namespace {

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

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
    FlushDenormals flush;
    std::mt19937 rng(1);
    std::printf("%-10s %-14s %-6s %12s %9s\n", "case", "kernels", "H", "ns/step", "GB/s");
    for (std::size_t H : {64, 256, 1024}) {
        const std::size_t I = H;
        std::uniform_real_distribution<float> d(-1.0f / std::sqrt(float(H)), 1.0f / std::sqrt(float(H)));
        auto buf = [&](std::size_t n) { AlignedBuffer b(n); for (std::size_t i = 0; i < n; ++i) b[i] = d(rng); return b; };
        GruWeights w{buf(3 * H * I), buf(3 * H * H), buf(3 * H), buf(3 * H)};
        std::vector<float> x(I), h(H), out(H);
        for (auto& v : x) v = d(rng) * 10;
        for (auto& v : h) v = d(rng) * 10;
        const int inner = quick ? 20 : (H >= 1024 ? 20 : 500), reps = quick ? 3 : 25;
        const PackedGru p = pack_gru(w, I, H);
        const WeightFormat formats[] = {WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16};
        std::vector<QuantGru> q;
        for (WeightFormat f : formats) q.push_back(quantize_gru(w, I, H, f));
        auto align = [](std::vector<char>& v) { return v.data() + (64 - reinterpret_cast<std::uintptr_t>(v.data()) % 64) % 64; };
        for (bool streaming : {true, false}) {
            const double wbytes32 = 4.0 * 3 * H * (streaming ? I + H : H);
            std::vector<float> xp(p.tiles * kTileRow), fs(gru_step_scratch_floats(1, H));
            active_kernels().gemm_packed(1, I, x.data(), I, p.w.data(), p.tile_stride, p.tiles, p.bx.data(), xp.data(), xp.size());
            GruStepArgs a;
            a.rows = 1; a.input = I; a.hidden = H; a.h = h.data(); a.ldh = H; a.h_out = out.data(); a.ldo = H;
            if (streaming) { a.x = x.data(); a.ldx = I; } else { a.xp = xp.data(); a.ldxp = xp.size(); }
            a.w = p.w.data(); a.tile_stride = p.tile_stride; a.bx = p.bx.data(); a.bh = p.bh.data(); a.scratch = fs.data();
            // Every kernel once per round, rounds interleaved; the best round counts (a shared machine).
            std::vector<std::vector<char>> raw, graw;
            std::vector<std::vector<float>> qxp(3);
            std::vector<QGruStepArgs> args(3);
            for (int i = 0; i < 3; ++i) {
                raw.emplace_back(q_step_scratch_bytes(1, q[i]) + 64);
                graw.emplace_back(q_gemm_scratch_bytes(1, q[i].W) + 64);
                qxp[i].resize(q[i].tiles * kQTileRow);
                q_active(formats[i]).gemm(1, x.data(), I, q[i].W, 0.0f, q[i].bx.data(), qxp[i].data(), qxp[i].size(), align(graw[i]));
                QGruStepArgs& b = args[i];
                b.rows = 1; b.h = h.data(); b.ldh = H; b.h_out = out.data(); b.ldo = H; b.w = &q[i]; b.scratch = align(raw[i]);
                if (streaming) { b.x = x.data(); b.ldx = I; } else { b.xp = qxp[i].data(); b.ldxp = qxp[i].size(); }
            }
            double best[4] = {1e300, 1e300, 1e300, 1e300};
            for (int r = 0; r < reps; ++r) {
                best[0] = std::min(best[0], median_ns([&] {
                    active_kernels().gru_step_reset_after(a);
                    a.walk_backward = !a.walk_backward;  // as Stream and predict alternate it
                }, 1, inner));
                for (int i = 0; i < 3; ++i) {
                    const QKernels& k = q_active(formats[i]);
                    best[i + 1] = std::min(best[i + 1], median_ns([&] {
                        k.gru_step_reset_after(args[i]);
                        args[i].walk_backward = !args[i].walk_backward;
                    }, 1, inner));
                }
            }
            const char* what = streaming ? "stream" : "recurrent";
            std::printf("%-10s %-14s %-6zu %12.1f %9.1f\n", what, active_kernels().name, H, best[0], wbytes32 / best[0]);
            for (int i = 0; i < 3; ++i) {
                const double bytes = wbytes32 * (formats[i] == WeightFormat::Int8 ? 0.25 : 0.5);
                std::printf("%-10s %-14s %-6zu %12.1f %9.1f   %.2fx fp32\n", what, q_active(formats[i]).name, H, best[i + 1],
                            bytes / best[i + 1], best[0] / best[i + 1]);
            }
        }
    }
    return 0;
}
