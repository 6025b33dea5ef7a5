// C++ benchmark, one thread. Sections (all by default, or one with --only NAME):
//   eigen    gru_infer's stream step against a templated Eigen GRU step (RTNeural's math, built
//            with -march=native; only when CMake found Eigen3), side by side, interleaved, medians
//   run      Stream::run in 64-step blocks against predict and against step calls, per step
//   slots    16 of 64 slots stepped per call against a lone stream's step, per stream-step
//   kernels  ns per step and GFLOP/s per ISA and size, both GRU forms: the streaming step (input
//            fused in), the sequence recurrence, and the input-projection GEMM
//   batch    predict of big batches (servers): ms, GFLOP/s and % of peak per ISA, the whole predict
//            and its two halves (the input projection GEMM; the recurrent steps, B rows each)
// Fraction of peak: of --peak-gflops N, or by default of the FMA peak measured at start (12
// independent FMA chains on the widest vectors of the ISA in use, best of 5 runs).
//     bench_gru [--quick] [--only eigen|guard|run|slots|kernels|batch] [--isa NAME] [--peak-gflops N]
#include <algorithm>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"  // the kernel table, timed directly
#ifdef GRU_INFER_BENCH_EIGEN
#include "eigen_gru.h"
#endif

using namespace gru_infer;
using Clock = std::chrono::steady_clock;

namespace {

double peak = 0.0;  // GFLOP/s; 0 = measure (fma_peak_gflops)
std::string only_isa;  // --isa: the Eigen side-by-side times this table of ours only

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

// One core's fp32 FMA peak (GFLOP/s) on the widest vectors of the ISA in use: 12 independent
// chains of FMAs (enough to cover the latency on any core we meet), best of 5 runs; 0 for scalar.
#if defined(__x86_64__) || defined(_M_X64)
#define GRU_INFER_FMA_CHAINS(V, SET, FMA, LANES)                                                   \
    double best = 0.0;                                                                            \
    for (int run = 0; run < 5; ++run) {                                                           \
        V acc[12];                                                                                \
        for (int i = 0; i < 12; ++i) acc[i] = SET(1.0f + 1e-3f * i);                              \
        const V a = SET(0.999999f), b = SET(1e-7f);                                               \
        const std::size_t n = 1 << 20;                                                            \
        const auto t0 = Clock::now();                                                             \
        for (std::size_t k = 0; k < n; ++k)                                                       \
            for (int i = 0; i < 12; ++i) acc[i] = FMA(acc[i], a, b);                              \
        const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();    \
        float lane0;                                                                              \
        std::memcpy(&lane0, &acc[run % 12], sizeof lane0);                                        \
        if (lane0 == 12345.0f) std::printf(" ");  /* keeps the chains alive */                    \
        best = std::max(best, 2.0 * LANES * 12 * n / ns);                                         \
    }                                                                                             \
    return best;
__attribute__((target("avx512f"))) double fma_peak_avx512() { GRU_INFER_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16) }
__attribute__((target("avx2,fma"))) double fma_peak_avx2() { GRU_INFER_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8) }
#undef GRU_INFER_FMA_CHAINS

double fma_peak_gflops() {
    const std::string isa = active_kernels().name;
    return uses_avx512_f32(isa.c_str()) ? fma_peak_avx512() : isa == "avx2" ? fma_peak_avx2() : 0.0;
}
#else
double fma_peak_gflops() { return 0.0; }
#endif

// The read floor of a step: n floats read with plain vector loads and summed on 8 chains (enough
// for two loads a cycle from L1), front to back or back to front (a stream step alternates: the
// lines it read last are still in L1 for the next one). The sum keeps the loads alive.
#if defined(__x86_64__) || defined(_M_X64)
#define GRU_INFER_SUM_FLOATS(V, ZERO, LOAD, ADD, LANES)                                            \
    V a[8];                                                                                       \
    for (auto& v : a) v = ZERO();                                                                 \
    const std::size_t blocks = n / (8 * LANES);                                                   \
    for (std::size_t i = 0; i < blocks; ++i) {                                                    \
        const float* q = p + 8 * LANES * (backward ? blocks - 1 - i : i);                         \
        for (int j = 0; j < 8; ++j) a[j] = ADD(a[j], LOAD(q + LANES * j));                        \
    }                                                                                             \
    std::size_t i = blocks * 8 * LANES;                                                           \
    for (int j = 0; i + LANES <= n; i += LANES, j = (j + 1) % 8) a[j] = ADD(a[j], LOAD(p + i));   \
    for (int j = 1; j < 8; ++j) a[0] = ADD(a[0], a[j]);                                           \
    float lanes[LANES], sum = 0.0f;                                                               \
    std::memcpy(lanes, &a[0], sizeof lanes);                                                      \
    for (float l : lanes) sum += l;                                                               \
    for (; i < n; ++i) sum += p[i];                                                               \
    return sum;
__attribute__((target("avx512f"))) float sum_floats_avx512(const float* p, std::size_t n, bool backward) {
    GRU_INFER_SUM_FLOATS(__m512, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_add_ps, 16)
}
__attribute__((target("avx2"))) float sum_floats_avx2(const float* p, std::size_t n, bool backward) {
    GRU_INFER_SUM_FLOATS(__m256, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_add_ps, 8)
}
#undef GRU_INFER_SUM_FLOATS
#endif
float sum_floats_scalar(const float* p, std::size_t n, bool backward) {
    float a[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; ++j) a[j] += p[backward ? n - 4 - i + j : i + j];
    return a[0] + a[1] + a[2] + a[3];
}
using SumFloats = float (*)(const float*, std::size_t, bool);
// sum_floats on the vectors of one of our ISAs (by name: the library's dispatch has already
// checked CPUID and XCR0 for it).
SumFloats sum_floats_for(const std::string& isa) {
#if defined(__x86_64__) || defined(_M_X64)
    if (uses_avx512_f32(isa.c_str())) return sum_floats_avx512;
    if (isa == "avx2") return sum_floats_avx2;
#endif
    (void)isa;
    return sum_floats_scalar;
}
volatile float read_sink;

GruWeights random_weights(std::size_t I, std::size_t H, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-0.2f, 0.2f);
    auto buf = [&](std::size_t n) {
        AlignedBuffer b(n);
        for (std::size_t i = 0; i < n; ++i) b[i] = d(rng);
        return b;
    };
    return GruWeights{buf(3 * H * I), buf(3 * H * H), buf(3 * H), buf(3 * H)};
}

std::shared_ptr<Model> gru_model(const GruWeights& weights, std::size_t I, std::size_t H, bool lbr) {
    GruConfig c;
    c.input_size = I; c.hidden_size = H; c.linear_before_reset = lbr;
    std::vector<GruWeights> w(1);
    w[0] = GruWeights{AlignedBuffer(weights.W.data(), weights.W.size()), AlignedBuffer(weights.R.data(), weights.R.size()),
                      AlignedBuffer(weights.bW.data(), weights.bW.size()), AlignedBuffer(weights.bR.data(), weights.bR.size())};
    auto m = std::make_shared<Model>();
    m->add(std::make_unique<GruLayer>(c, std::move(w)));
    return m;
}

std::shared_ptr<Model> gru_model(std::size_t I, std::size_t H, bool lbr) { return gru_model(random_weights(I, H), I, H, lbr); }

std::vector<float> random_inputs(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// Medians of fns[i] over `reps` rounds, the callables interleaved within each round, so that a
// busy moment of a shared machine hits all of them alike. isas[i], if given and not empty, is
// the kernel table set before each of fns[i]'s rounds.
// setups[i], if given, runs before each timed batch of fns[i] (outside the timing).
std::vector<double> interleaved_median_ns(const std::vector<std::function<void()>>& fns, int reps, int inner,
                                          const std::vector<std::string>& isas = {},
                                          const std::vector<std::function<void()>>& setups = {}) {
    const std::string before = active_isa();
    std::vector<std::vector<double>> t(fns.size());
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < fns.size(); ++i) {
            if (i < isas.size() && !isas[i].empty()) set_isa(isas[i]);
            if (i < setups.size() && setups[i]) setups[i]();
            auto t0 = Clock::now();
            for (int k = 0; k < inner; ++k) fns[i]();
            t[i].push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / inner);
        }
    set_isa(before);
    std::vector<double> out;
    for (auto& v : t) {
        std::sort(v.begin(), v.end());
        out.push_back(v[v.size() / 2]);
    }
    return out;
}

#ifdef GRU_INFER_BENCH_EIGEN
// gru_infer's C++ stream step (batch 1, lbr = 1, the best ISA) against the Eigen reference step on
// the same weights. The outputs are compared over 256 random steps first (same math: they differ
// only by float rounding and the two exp/tanh implementations).
// The caller's MXCSR, three ways: host_ftz, flush-to-zero and denormals-are-zero already set, as
// an audio host sets them around its callbacks (JUCE's ScopedNoDenormals): our guard writes no
// MXCSR; clean, the default mode with no exception flag set (a program that has met no denormal):
// no writes either, and a read every 16th step (runtime/denormals.h, FlushDenormalsOnceMet); met,
// the default mode with the denormal flag already set (by the program, before): the guard reads
// MXCSR and writes it twice per step.
enum class Mxcsr { HostFtz, Clean, Met };
bool eigen_side_by_side(bool quick, Mxcsr mode) {
#if defined(__x86_64__) || defined(_M_X64)
    const unsigned csr = _mm_getcsr(), plain = csr & ~0x803fu;  // FTZ, DAZ and the six flags clear
    _mm_setcsr(mode == Mxcsr::HostFtz ? plain | 0x8040 : mode == Mxcsr::Met ? plain | 0x2 : plain);
#endif
    struct Case { std::size_t I, H; };
    std::vector<Case> cases{{1, 8}, {8, 8}, {1, 16}, {16, 16}, {1, 32}, {32, 32}, {64, 64}, {128, 128}, {256, 256}, {512, 512}};
    if (quick) cases = {{16, 16}, {64, 64}};
    const int reps = quick ? 5 : 21;
    std::vector<std::string> isas;  // our SIMD tables, each timed against the same Eigen step
    for (const auto& isa : available_isas())
        if (isa != "scalar" && (only_isa.empty() || isa == only_isa)) isas.push_back(isa);
    if (isas.empty()) isas.push_back("scalar");
    bool ok = true;
    std::printf("stream step, batch 1, one thread, lbr=1; eigen = templated Eigen GRU step (-march=native); medians of %d\n"
                "interleaved rounds (eigen and every ISA of ours in each round); max|dh| = largest output difference\n"
                "over 256 random steps (default ISA %s); read = the read floor: W and R (12 H (I + H) bytes) read\n"
                "with plain vector loads, direction alternating, in the same rounds; %s\n", reps, active_isa(),
                mode == Mxcsr::HostFtz ? "caller has set FTZ+DAZ (as an audio host does)"
                : mode == Mxcsr::Clean ? "caller's default MXCSR, no denormal met (our guard writes nothing)"
                                       : "caller's default MXCSR, a denormal met before (our guard sets FTZ+DAZ per step)");
    std::printf("%-5s %-5s %10s", "I", "H", "eigen ns");
    for (const auto& isa : isas) std::printf(" %10s", (isa + " ns").c_str());
    for (const auto& isa : isas) std::printf(" %13s", ("eigen/" + isa).c_str());
    std::size_t best = isas.size() - 1;  // the read-floor column is for the default ISA (else the last)
    for (std::size_t i = 0; i < isas.size(); ++i)
        if (isas[i] == active_isa()) best = i;
    std::printf(" %9s %9s %11s %11s\n", "max|dh|", "read ns", "eigen/read", (isas[best] + "/read").c_str());
    for (const Case& c : cases) {
        const GruWeights w = random_weights(c.I, c.H, 7);
        auto model = gru_model(w, c.I, c.H, true);
        Stream s(model, 1);
        auto e = bench::make_eigen_gru_step(c.I, c.H);
        e->set_weights(w.W.data(), w.R.data(), w.bW.data(), w.bR.data());
        const std::size_t steps = 256;
        const std::vector<float> x = random_inputs(steps * c.I, 3);
        std::vector<float> y1(c.H), y2(c.H);
        double diff = 0;
        for (std::size_t t = 0; t < steps; ++t) {
            s.step(x.data() + t * c.I, y1.data());
            e->step(x.data() + t * c.I, y2.data());
            for (std::size_t j = 0; j < c.H; ++j) diff = std::max(diff, static_cast<double>(std::fabs(y1[j] - y2[j])));
        }
        if (!(diff < 1e-5)) ok = false;
        std::size_t t = 0, u = 0;
        std::vector<std::function<void()>> fns{[&] { e->step(x.data() + (t = (t + 1) % steps) * c.I, y2.data()); }};
        std::vector<std::string> round_isas{""};
        for (const auto& isa : isas) {
            fns.push_back([&] { s.step(x.data() + (u = (u + 1) % steps) * c.I, y1.data()); });
            round_isas.push_back(isa);
        }
        const std::size_t weights = 3 * c.H * (c.I + c.H);  // W and R: what a step reads at least
        const std::vector<float> zeros(weights);
        const AlignedBuffer wr(zeros.data(), weights);  // (a copy: on huge pages when large, as the model's weights)
        bool backward = false;
        const SumFloats sum_floats = sum_floats_for(isas[best]);  // the vectors of the ISA it is compared with
        fns.push_back([&] { read_sink = sum_floats(wr.data(), weights, backward = !backward); });
        const int inner = static_cast<int>(std::max<std::size_t>(20, 4000000 / (c.H * (c.H + c.I) * 3)));
        const auto ns = interleaved_median_ns(fns, reps, inner, round_isas);
        const double read = ns.back();
        std::printf("%-5zu %-5zu %10.1f", c.I, c.H, ns[0]);
        for (std::size_t i = 1; i + 1 < ns.size(); ++i) std::printf(" %10.1f", ns[i]);
        for (std::size_t i = 1; i + 1 < ns.size(); ++i) std::printf(" %13.2f", ns[0] / ns[i]);
        std::printf(" %9.1e %9.1f %11.2f %11.2f%s\n", diff, read, ns[0] / read, ns[1 + best] / read, diff < 1e-5 ? "" : "  MISMATCH");
    }
#if defined(__x86_64__) || defined(_M_X64)
    if (mode == Mxcsr::Clean && (_mm_getcsr() & 0x12)) std::printf("(a denormal was met during these rounds)\n");
    _mm_setcsr(csr);
#endif
    return ok;
}
#endif

#if defined(__x86_64__) || defined(_M_X64)
// The denormal guard's cost per stream step (runtime/denormals.h): the same stream stepped with the
// caller's MXCSR set three ways, interleaved in every round (Mxcsr above). met - clean is what the
// two MXCSR writes cost a caller whose flags say a denormal was met; clean - host_ftz should be ~0.
void guard_section(bool quick) {
    const int reps = quick ? 5 : 31;
    const unsigned csr = _mm_getcsr(), plain = csr & ~0x803fu;
    std::printf("\nthe denormal guard per stream step (default ISA %s, batch 1, lbr=1, one thread); medians of %d\n"
                "interleaved rounds; the caller's MXCSR: host_ftz (FTZ+DAZ set), clean (default, no flag set: no\n"
                "writes, a read every 16th step), met (default, the denormal flag set: a read and two writes per\n"
                "step)\n", active_isa(), reps);
    std::printf("%-5s %-5s %12s %12s %12s %14s\n", "I", "H", "host_ftz ns", "clean ns", "met ns", "met-clean ns");
    for (std::size_t H : {8, 16, 32, 64})
        for (std::size_t I : {std::size_t(1), H}) {
            auto model = gru_model(random_weights(I, H, 7), I, H, true);
            Stream s(model, 1);
            const std::size_t steps = 256;
            const std::vector<float> x = random_inputs(steps * I, 3);
            std::vector<float> y(H);
            std::size_t t = 0;
            auto step = [&] { s.step(x.data() + (t = (t + 1) % steps) * I, y.data()); };
            const int inner = static_cast<int>(std::max<std::size_t>(200, 2000000 / (H * (H + I) * 3)));
            const auto ns = interleaved_median_ns({step, step, step}, reps, inner, {},
                                                  {[&] { _mm_setcsr(plain | 0x8040); }, [&] { _mm_setcsr(plain); },
                                                   [&] { _mm_setcsr(plain | 0x2); }});
            std::printf("%-5zu %-5zu %12.1f %12.1f %12.1f %14.1f\n", I, H, ns[0], ns[1], ns[2], ns[2] - ns[1]);
        }
    _mm_setcsr(csr);
}
#endif

void report(const char* what, const std::string& isa, std::size_t I, std::size_t H, std::size_t B, double ns,
            double flops) {
    const double gflops = flops / ns;
    std::printf("%-22s %-6s I=%-5zu H=%-5zu B=%-3zu %12.1f ns %8.2f GFLOP/s", what, isa.c_str(), I, H, B, ns, gflops);
    if (peak > 0.0) std::printf(" %5.1f%% of peak", 100.0 * gflops / peak);
    std::printf("\n");
}

// Stream::run with 64-step blocks against predict on the whole signal and against step calls,
// per step, batch 1, I = H, lbr = 1, interleaved.
void run_section(bool quick) {
    std::vector<std::size_t> sizes{16, 32, 64, 128, 256, 512};
    if (quick) sizes = {64};
    const std::size_t T = 1024, block = 64;
    const int reps = quick ? 3 : 11;
    std::printf("\nper step, batch 1, one thread, I=H, lbr=1, %zu steps: predict on all of them, run in blocks of %zu, "
                "step calls;\nmedians of %d interleaved rounds (targets for H >= 64: run/predict <= 1.15, step/run >= 1.5)\n",
                T, block, reps);
    std::printf("%-5s %12s %12s %12s %12s %10s\n", "H", "predict ns", "run ns", "step ns", "run/predict", "step/run");
    for (std::size_t H : sizes) {
        auto m = gru_model(H, H, true);
        const std::vector<float> x = random_inputs(T * H, 5);
        std::vector<float> y(T * H);
        Stream rs(m, 1, block), ss(m, 1);
        PredictRequest req;
        req.batch = 1; req.steps = T; req.x = x.data(); req.y = y.data();
        const std::vector<std::function<void()>> fns = {
            [&] { m->predict(req); },
            [&] { for (std::size_t t = 0; t < T; t += block) rs.run(block, x.data() + t * H, y.data() + t * H); },
            [&] { for (std::size_t t = 0; t < T; ++t) ss.step(x.data() + t * H, y.data() + t * H); },
        };
        const auto ns = interleaved_median_ns(fns, reps, 1);
        std::printf("%-5zu %12.1f %12.1f %12.1f %12.2f %10.2f\n", H, ns[0] / T, ns[1] / T, ns[2] / T, ns[1] / ns[0],
                    ns[2] / ns[1]);
    }
}

// Slots: a stream of 64 slots of which 16 step per call (a different random set each time),
// per stream-step, against a lone batch-1 stream's step. I = H, lbr = 1.
void slots_section(bool quick) {
    std::vector<std::size_t> sizes{64, 128, 256};
    if (quick) sizes = {256};
    const std::size_t N = 64, active = 16, calls = 64;
    const int reps = quick ? 3 : 11;
    std::printf("\nslots: %zu of %zu slots per call, one thread, I=H, lbr=1; ns per stream-step; medians of %d "
                "interleaved rounds\n(targets at H=256: <= 8000 ns per stream-step fp32, <= 2500 int8)\n", active, N, reps);
    std::printf("%-5s %-6s %14s %14s %10s\n", "H", "format", "slots ns", "lone step ns", "lone/slots");
    std::mt19937 rng(9);
    for (std::size_t H : sizes)
      for (WeightFormat f : {WeightFormat::F32, WeightFormat::Int8, WeightFormat::BF16}) {
        auto m = gru_model(H, H, true);
        if (f != WeightFormat::F32 && !has_reduced_precision()) continue;  // GRU_INFER_REDUCED_PRECISION=OFF
        if (f != WeightFormat::F32) m = m->quantize(f);
        Stream slots(m, N), lone(m, 1);
        std::vector<std::vector<std::size_t>> sets(calls);
        for (auto& set : sets) {
            std::vector<std::size_t> all(N);
            for (std::size_t i = 0; i < N; ++i) all[i] = i;
            std::shuffle(all.begin(), all.end(), rng);
            set.assign(all.begin(), all.begin() + active);
        }
        const std::vector<float> x = random_inputs(active * H, 6);
        std::vector<float> y(active * H);
        std::size_t c = 0;
        const std::vector<std::function<void()>> fns = {
            [&] { slots.step_slots(active, sets[c = (c + 1) % calls].data(), x.data(), y.data()); },
            [&] { for (std::size_t i = 0; i < active; ++i) lone.step(x.data() + i * H, y.data() + i * H); },
        };
        const int inner = static_cast<int>(std::max<std::size_t>(4, 20000000 / (active * 6 * H * H)));
        const auto ns = interleaved_median_ns(fns, reps, inner);
        std::printf("%-5zu %-6s %14.1f %14.1f %10.2f\n", H, weight_format_name(f), ns[0] / active, ns[1] / active,
                    ns[1] / ns[0]);
      }
}

void kernels_section(bool quick);
void batch_section(bool quick);

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--peak-gflops") && i + 1 < argc) peak = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) only_isa = argv[++i];
        else {
            std::fprintf(stderr, "usage: bench_gru [--quick] [--only eigen|guard|run|slots|kernels|batch] [--isa NAME] [--peak-gflops N]\n");
            return 2;
        }
    }
    bool ok = true;
    auto want = [&](const char* name) { return only.empty() || only == name; };
    if (want("eigen")) {
#ifdef GRU_INFER_BENCH_EIGEN
        ok = eigen_side_by_side(quick, Mxcsr::HostFtz) && ok;
        std::printf("\n");
        ok = eigen_side_by_side(quick, Mxcsr::Clean) && ok;
        std::printf("\n");
        ok = eigen_side_by_side(quick, Mxcsr::Met) && ok;
#else
        std::printf("eigen: not built (CMake did not find Eigen3; install libeigen3-dev)\n");
#endif
    }
#if defined(__x86_64__) || defined(_M_X64)
    if (want("guard")) guard_section(quick);
#endif
    set_num_threads(1);  // predict too: one thread, like the streams
    if (want("run")) run_section(quick);
    if (want("slots")) slots_section(quick);
    if (want("kernels")) kernels_section(quick);
    if (want("batch")) batch_section(quick);
    return ok ? 0 : 1;
}

namespace {

void kernels_section(bool quick) {
    const int reps = quick ? 3 : 9;
    std::vector<std::size_t> sizes{8, 16, 32, 64, 128, 256, 512};
    if (quick) sizes = {16, 64};
    const double given_peak = peak;
    for (const auto& isa : available_isas()) {
        set_isa(isa);
        peak = given_peak > 0.0 ? given_peak : fma_peak_gflops();
        if (peak > 0.0)
            std::printf("%s: %% of peak is of %.1f GFLOP/s (%s)\n", isa.c_str(), peak,
                        given_peak > 0.0 ? "--peak-gflops" : "one core's FMA peak, measured just now");
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
}

}  // namespace

namespace {

// Big batches, lbr = 1, I = H: predict (B, T) against its input projection alone (one GEMM of
// B * T rows) and so its recurrent part (the difference), each at % of the FMA peak.
void batch_section(bool quick) {
    struct Case { std::size_t B, H, T; };
    std::vector<Case> cases{{32, 256, 100}, {256, 256, 100}, {64, 1024, 50}, {32, 1024, 50}};
    if (quick) cases = {{32, 256, 20}};
    const int reps = quick ? 3 : 7;
    const double given_peak = peak;
    for (const auto& isa : available_isas()) {
        if (isa == "scalar" || (!only_isa.empty() && isa != only_isa)) continue;
        set_isa(isa);
        peak = given_peak > 0.0 ? given_peak : fma_peak_gflops();
        std::printf("\nbatch predict, lbr=1, one thread, %s (peak %.1f GFLOP/s); medians of %d\n", isa.c_str(), peak, reps);
        for (const Case& c : cases) {
            const GruWeights w = random_weights(c.H, c.H);
            auto m = gru_model(w, c.H, c.H, true);
            const std::vector<float> x = random_inputs(c.B * c.T * c.H, 7);
            std::vector<float> y(c.B * c.T * c.H);
            PredictRequest req;
            req.batch = c.B; req.steps = c.T; req.x = x.data(); req.y = y.data();
            const PackedGru p = pack_gru(w, c.H, c.H);
            AlignedBuffer xp(c.B * c.T * p.tiles * kTileRow);
            const Kernels& k = active_kernels();
            const auto ns = interleaved_median_ns(
                {[&] { m->predict(req); },
                 [&] { k.gemm_packed(c.B * c.T, c.H, x.data(), c.H, p.w.data(), p.tile_stride, p.tiles, p.bx.data(),
                                     xp.data(), p.tiles * kTileRow); }},
                reps, 1);
            const double half = 2.0 * c.B * c.T * 3 * c.H * c.H;  // FLOPs of each half
            auto pct = [&](double flops, double t) { return peak > 0.0 ? 100.0 * flops / t / peak : 0.0; };
            std::printf("B=%-4zu H=%-5zu T=%-4zu predict %8.2f ms %5.1f%% | projection %7.2f ms %5.1f%% | "
                        "recurrence %7.2f ms %5.1f%%\n",
                        c.B, c.H, c.T, ns[0] / 1e6, pct(2 * half, ns[0]), ns[1] / 1e6, pct(half, ns[1]),
                        (ns[0] - ns[1]) / 1e6, pct(half, ns[0] - ns[1]));
        }
    }
}

}  // namespace
