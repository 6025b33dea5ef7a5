// C++ benchmark of reduced-precision batches (int8, bf16, fp16) next to fp32 (issue 24): the input projection over
// B * T rows (qgemm / gemm_packed) and one recurrent step of B rows (lbr form, input projected),
// ms per call, interleaved rounds, the best round. With FTZ and DAZ set, as predict runs them.
//     bench_qbatch [B,H,T ...]   (default 32,256,100 256,256,100 64,1024,50; I = H)
#include <algorithm>
#include <array>
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
double time_ms(F&& fn, int inner) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) fn();
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / inner;
}

char* align64(std::vector<char>& v) { return v.data() + (64 - reinterpret_cast<std::uintptr_t>(v.data()) % 64) % 64; }

}  // namespace

int main(int argc, char** argv) {
    FlushDenormals flush;
    std::vector<std::size_t> cases = {32, 256, 100, 256, 256, 100, 64, 1024, 50};
    if (argc > 1) {
        cases.clear();
        for (int i = 1; i < argc; ++i) {
            std::size_t b, h, t;
            if (std::sscanf(argv[i], "%zu,%zu,%zu", &b, &h, &t) == 3) cases.insert(cases.end(), {b, h, t});
        }
    }
    std::mt19937 rng(1);
    std::printf("%-16s %-14s %10s %10s %10s %8s\n", "case", "kernels", "gemm ms", "step ms", "total ms", "x fp32");
    for (std::size_t c = 0; c + 2 < cases.size(); c += 3) {
        const std::size_t B = cases[c], H = cases[c + 1], T = cases[c + 2], I = H, M = B * T;
        std::uniform_real_distribution<float> d(-1.0f / std::sqrt(float(H)), 1.0f / std::sqrt(float(H)));
        auto buf = [&](std::size_t n) { AlignedBuffer b(n); for (std::size_t i = 0; i < n; ++i) b[i] = d(rng); return b; };
        GruWeights w{buf(3 * H * I), buf(3 * H * H), buf(3 * H), buf(3 * H)};
        std::vector<float> x(M * I), h(B * H), out(B * H);
        for (auto& v : x) v = d(rng) * std::sqrt(float(H));
        for (auto& v : h) v = d(rng) * std::sqrt(float(H)) * 0.9f;
        const PackedGru p = pack_gru(w, I, H);
        const WeightFormat formats[] = {WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16};
        constexpr int NQ = 3;
        std::vector<QuantGru> q;
        for (WeightFormat f : formats) q.push_back(quantize_gru(w, I, H, f));
        const Kernels& k = active_kernels();
        std::vector<float> xp(M * p.tiles * kTileRow), fs(gru_step_scratch_floats(B, H));
        GruStepArgs a;
        a.rows = B; a.input = I; a.hidden = H; a.xp = xp.data(); a.ldxp = p.tiles * kTileRow;
        a.h = h.data(); a.ldh = H; a.h_out = out.data(); a.ldo = H;
        a.w = p.w.data(); a.tile_stride = p.tile_stride; a.bx = p.bx.data(); a.bh = p.bh.data(); a.scratch = fs.data();
        std::vector<std::vector<float>> qxp(NQ);
        std::vector<std::vector<char>> gs, ss;
        std::vector<QGruStepArgs> qa(NQ);
        for (int i = 0; i < NQ; ++i) {
            qxp[i].resize(M * q[i].tiles * kQTileRow);
            gs.emplace_back(q_gemm_scratch_bytes(M, q[i].W) + 64);
            ss.emplace_back(q_step_scratch_bytes(B, q[i]) + 64);
            QGruStepArgs& b = qa[i];
            b.rows = B; b.xp = qxp[i].data(); b.ldxp = q[i].tiles * kQTileRow; b.h = h.data(); b.ldh = H;
            b.h_out = out.data(); b.ldo = H; b.w = &q[i]; b.scratch = align64(ss[i]);
        }
        const int gin = std::max(1, int(2e8 / (2.0 * M * I * 3 * H))), sin = std::max(1, int(2e8 / (2.0 * B * H * 3 * H)));
        // The tables timed: each format's active one; on an AMX CPU int8 and bf16 both on AMX and on
        // AVX-512 (the "amx" tables leave fewer than 16 rows to the AVX-512 kernels).
        std::vector<std::pair<int, const QKernels*>> tables;
        for (int i = 0; i < NQ; ++i) {
            const QKernels* active = &q_active(formats[i]);
            tables.emplace_back(i, active);
            if (formats[i] != WeightFormat::F16 && q_kernels(formats[i], "amx"))  // an AMX CPU
                for (const char* isa : {"amx", "avx512"})
                    if (const QKernels* t = q_kernels(formats[i], isa); t && t != active) tables.emplace_back(i, t);
        }
        const std::size_t NT = tables.size();
        std::vector<std::array<double, 2>> best(NT + 1, {1e300, 1e300});
        for (int r = 0; r < 7; ++r) {
            best[0][0] = std::min(best[0][0], time_ms([&] {
                k.gemm_packed(M, I, x.data(), I, p.w.data(), p.tile_stride, p.tiles, p.bx.data(), xp.data(), p.tiles * kTileRow);
            }, gin));
            best[0][1] = std::min(best[0][1], time_ms([&] { k.gru_step_reset_after(a); a.walk_backward = !a.walk_backward; }, sin));
            for (std::size_t j = 0; j < NT; ++j) {
                const int i = tables[j].first;
                const QKernels& qk = *tables[j].second;
                best[j + 1][0] = std::min(best[i + 1][0], time_ms([&] {
                    qk.gemm(M, x.data(), I, q[i].W, 0.0f, q[i].bx.data(), qxp[i].data(), q[i].tiles * kQTileRow, align64(gs[i]));
                }, gin));
                best[j + 1][1] = std::min(best[j + 1][1], time_ms([&] {
                    qk.gru_step_reset_after(qa[i]);
                    qa[i].walk_backward = !qa[i].walk_backward;
                }, sin));
            }
        }
        char name[64];
        std::snprintf(name, sizeof name, "B=%zu H=%zu T=%zu", B, H, T);
        const double f32 = best[0][0] + T * best[0][1];
        for (std::size_t i = 0; i <= NT; ++i) {
            const double tot = best[i][0] + T * best[i][1];
            std::printf("%-16s %-14s %10.2f %10.3f %10.1f %8.2f\n", name,
                        i == 0 ? k.name : tables[i - 1].second->name, best[i][0], best[i][1], tot, f32 / tot);
        }
        std::fflush(stdout);
    }
    return 0;
}
