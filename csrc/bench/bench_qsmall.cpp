// C++ benchmark of reduced precision on small layers against our own fp32: the stream step
// (Stream::step, batch 1) and predict of batch 1 (per step, T steps), fp32, int8, bf16 and fp16
// interleaved in every round, medians of the rounds; the ratios are fp32 time / format time
// (>= 1: the format is no slower than fp32). I = H, lbr = 1, one thread, the caller's default
// MXCSR (the library's denormal guard runs as in an application).
// --host-ftz: FTZ and DAZ set by the caller (as an audio host does), so that the library's denormal
// guard writes no MXCSR: the difference to a run without it is the guard's cost.
// --input N: N inputs instead of I = H (1: a mono audio signal).
//     bench_qsmall [--quick] [--isa NAME] [--sizes 8,16,...] [--input N] [--cho] [--host-ftz]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "gru_infer/gru_infer.h"

using namespace gru_infer;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<Model> model_of(std::size_t I, std::size_t H, bool lbr) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-0.3f, 0.3f);
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

std::vector<double> interleaved_median_ns(const std::vector<std::function<void()>>& fns, int reps, int inner) {
    std::vector<std::vector<double>> t(fns.size());
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < fns.size(); ++i) {
            auto t0 = Clock::now();
            for (int k = 0; k < inner; ++k) fns[i]();
            t[i].push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / inner);
        }
    std::vector<double> out;
    for (auto& v : t) {
        std::sort(v.begin(), v.end());
        out.push_back(v[v.size() / 2]);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, lbr = true;
    std::size_t input = 0;  // 0: I = H
    std::vector<std::string> isas;
    std::vector<std::size_t> sizes{8, 16, 32, 64, 128, 256};
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--cho")) lbr = false;
#if defined(__x86_64__)
        else if (!std::strcmp(argv[i], "--host-ftz")) _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
        else if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) isas.push_back(argv[++i]);
        else if (!std::strcmp(argv[i], "--input") && i + 1 < argc) input = std::strtoul(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--sizes") && i + 1 < argc) {
            sizes.clear();
            for (const char* p = argv[++i]; *p;) {
                char* end;
                sizes.push_back(std::strtoul(p, &end, 10));
                p = *end ? end + 1 : end;
            }
        } else {
            std::fprintf(stderr, "usage: bench_qsmall [--quick] [--isa NAME]... [--sizes 8,16,...] [--input N] [--cho] [--host-ftz]\n");
            return 2;
        }
    }
    if (isas.empty())
        for (const auto& isa : available_isas())
            if (isa != "scalar") isas.push_back(isa);
    const WeightFormat formats[] = {WeightFormat::F32, WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16};
    const int reps = quick ? 5 : 15;
    const std::string inputs = input ? "I = " + std::to_string(input) : std::string("I = H");
    std::printf("batch 1, %s, %s, one thread; ns per step, medians of %d interleaved rounds; x = fp32 ns / format ns\n",
                inputs.c_str(), lbr ? "lbr" : "cho", reps);
    std::printf("%-7s %-7s %-5s %9s %9s %9s %9s %7s %7s %7s\n", "isa", "case", "H", "fp32", "int8", "bf16", "fp16", "int8 x",
                "bf16 x", "fp16 x");
    for (const auto& isa : isas) {
        set_isa(isa);  // before building the models (the fp32 gate-major copy is made under AVX-512)
        for (std::size_t H : sizes) {
            const std::size_t I = input ? input : H, T = 256;
            auto base = model_of(I, H, lbr);
            std::vector<std::shared_ptr<Model>> models;
            for (WeightFormat f : formats) models.push_back(f == WeightFormat::F32 ? base : base->quantize(f));
            std::mt19937 rng(3);
            std::uniform_real_distribution<float> d(-1.0f, 1.0f);
            std::vector<float> x(T * I);
            for (auto& v : x) v = d(rng);
            std::vector<std::unique_ptr<Stream>> streams;
            for (auto& m : models) streams.emplace_back(new Stream(m, 1));
            std::vector<std::vector<float>> y(4, std::vector<float>(T * H));
            std::size_t pos[4] = {};
            std::vector<std::function<void()>> step_fns, pred_fns;
            for (int i = 0; i < 4; ++i) {
                step_fns.push_back([&, i] {
                    pos[i] = (pos[i] + 1) % T;
                    streams[i]->step(x.data() + pos[i] * I, y[i].data());
                });
                pred_fns.push_back([&, i] {
                    PredictRequest req;
                    req.batch = 1; req.steps = T; req.x = x.data(); req.y = y[i].data();
                    models[i]->predict(req);
                });
            }
            const double work = 6.0 * H * (I + H);
            const int inner = static_cast<int>(std::max(20.0, 2e6 / work));
            const auto s = interleaved_median_ns(step_fns, reps, inner);
            const auto p = interleaved_median_ns(pred_fns, reps, std::max(1, inner / int(T)));
            for (int c = 0; c < 2; ++c) {
                const auto& v = c == 0 ? s : p;
                const double per = c == 0 ? 1.0 : double(T);
                std::printf("%-7s %-7s %-5zu %9.1f %9.1f %9.1f %9.1f %7.2f %7.2f %7.2f\n", isa.c_str(),
                            c == 0 ? "step" : "predict", H, v[0] / per, v[1] / per, v[2] / per, v[3] / per, v[0] / v[1],
                            v[0] / v[2], v[0] / v[3]);
            }
            std::fflush(stdout);
        }
    }
    return 0;
}
