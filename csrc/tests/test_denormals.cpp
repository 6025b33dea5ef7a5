// Denormals in streams (runtime/denormals.h). On x86-64 a stream step runs in the caller's MXCSR
// while its sticky flags show no denormal met (FlushDenormalsOnceMet) and flushes once one has been:
//  - ordinary data meets no denormal: on every ISA and format, steps leave DE and UE clear and give
//    the same bits as steps under a caller's FTZ+DAZ (so the MXCSR writes are skipped for real);
//  - a state decaying by halves becomes denormal: the step that makes it computes in the caller's
//    mode (a denormal output: gradual underflow, no flushing), a flag is set, and the steps from
//    kTrustedCalls after it flush (no denormal output again, then zeros); the caller's FTZ/DAZ bits
//    never change;
//  - a caller whose flags are already set gets the flushing guard, and its MXCSR back unchanged.
// On ARM the guard flushes every step (FPCR.FZ / FPSCR.FZ): no output is ever denormal; elsewhere
// (riscv64) there is no guard: the state underflows gradually.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gru_infer/gru_infer.h"
#include "runtime/denormals.h"
#include "test_util.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define X86 1
#else
#define X86 0
#endif

using namespace gru_infer;

namespace {

AlignedBuffer buffer(const std::vector<float>& v) { return AlignedBuffer(v.data(), v.size()); }

bool is_denormal(float v) { return v != 0.0f && std::fabs(v) < 1.17549435e-38f; }

bool any_denormal(const std::vector<float>& v) {
    for (float x : v)
        if (is_denormal(x)) return true;
    return false;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One GRU (I inputs, H units) and, if dense_out, a Dense head; weights ~ U(-scale, scale), biases
// too; h0 the initial state of every row (empty: zeros).
std::shared_ptr<Model> make_model(std::mt19937& rng, std::size_t I, std::size_t H, float scale, std::size_t dense_out,
                                  std::vector<float> h0 = {}) {
    GruConfig c;
    c.input_size = I;
    c.hidden_size = H;
    c.initial_state = std::move(h0);
    GruWeights w{buffer(test::random_vec(rng, 3 * H * I, scale)), buffer(test::random_vec(rng, 3 * H * H, scale)),
                 buffer(test::random_vec(rng, 3 * H, scale)), buffer(test::random_vec(rng, 3 * H, scale))};
    auto m = std::make_shared<Model>();
    std::vector<GruWeights> ws;
    ws.push_back(std::move(w));
    m->add(std::make_unique<GruLayer>(c, std::move(ws)));
    if (dense_out)
        m->add(std::make_unique<DenseLayer>(H, dense_out, buffer(test::random_vec(rng, dense_out * H, 0.5f)),
                                            buffer(test::random_vec(rng, dense_out, 0.5f))));
    return m;
}

// 200 steps of 16 units halving from 1 (W = R = 0, biases 0): whether an output was denormal, and
// the last output.
struct Halving {
    bool denormal_seen = false;
    std::vector<float> last;
};
[[maybe_unused]] Halving halve_16(std::mt19937& rng) {
    auto m = make_model(rng, 1, 16, 0.0f, 0, std::vector<float>(16, 1.0f));
    Stream s(m, 1);
    const float x = 0.0f;
    Halving r;
    r.last.resize(16);
    for (int t = 0; t < 200; ++t) {
        s.step(&x, r.last.data());
        r.denormal_seen = r.denormal_seen || any_denormal(r.last);
    }
    return r;
}

#if X86
constexpr unsigned kFtzDaz = 0x8040, kMet = FlushDenormalsOnceMet::kMet, kFlags = 0x3f;

// Steps a fresh stream of `model` over xs (steps x batch x input) with MXCSR = csr at each call's
// start; the outputs of every step, and the MXCSR after each.
void run(const std::shared_ptr<Model>& model, std::size_t batch, const std::vector<float>& xs, std::size_t steps,
         unsigned csr, std::vector<std::vector<float>>& ys, std::vector<unsigned>& after, bool keep_flags) {
    Stream s(model, batch);
    const std::size_t in = model->input_size() * batch, out = model->output_size() * batch;
    const unsigned saved = _mm_getcsr();
    ys.assign(steps, std::vector<float>(out));
    after.assign(steps, 0);
    _mm_setcsr(csr);
    for (std::size_t t = 0; t < steps; ++t) {
        if (!keep_flags) _mm_setcsr(csr);
        s.step(xs.data() + t * in, ys[t].data());
        after[t] = _mm_getcsr();
    }
    _mm_setcsr(saved);
}

// Ordinary data: no flag raised, the same bits as under the caller's FTZ+DAZ.
void check_ordinary(std::mt19937& rng, const std::string& isa) {
    const WeightFormat formats[] = {WeightFormat::F32,
#if !defined(GRU_INFER_NO_REDUCED_PRECISION)
                                    WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16
#endif
    };
    const unsigned base = _mm_getcsr() & ~(kFtzDaz | kFlags);
    for (std::size_t H : {1, 8, 17, 64, 130})
        for (std::size_t batch : {1, 3}) {
            const std::size_t I = 5, steps = 40;
            auto fp32 = make_model(rng, I, H, 1.0f / std::sqrt(float(H)), H % 2 ? 4 : 0);
            const auto xs = test::random_vec(rng, steps * batch * I, 2.0f);
            for (WeightFormat f : formats) {
                auto m = f == WeightFormat::F32 ? fp32 : fp32->quantize(f);
                std::vector<std::vector<float>> ys, ref;
                std::vector<unsigned> after, ref_after;
                run(m, batch, xs, steps, base, ys, after, true);
                run(m, batch, xs, steps, base | kFtzDaz, ref, ref_after, true);
                bool flags_clear = true, same = true, modes_kept = true;
                for (std::size_t t = 0; t < steps; ++t) {
                    flags_clear = flags_clear && !(after[t] & kMet);
                    same = same && same_bits(ys[t], ref[t]);
                    modes_kept = modes_kept && (after[t] & kFtzDaz) == 0;
                }
                CHECK(flags_clear);
                CHECK(same);
                CHECK(modes_kept);
                if (!flags_clear || !same || !modes_kept)
                    std::fprintf(stderr, "  isa %s H=%zu batch=%zu format %s\n", isa.c_str(), H, batch,
                                 weight_format_name(f));
            }
        }
}

// A state that halves every step (W = R = 0, biases 0: z = 1/2, n = 0) from h0 in [0.5, 1].
void check_decay(std::mt19937& rng, const std::string& isa) {
    for (std::size_t H : {1, 16, 33}) {
        std::vector<float> h0 = test::random_vec(rng, H, 0.25f);
        for (float& v : h0) v = 0.75f + v;
        auto m = make_model(rng, 1, H, 0.0f, 0, h0);
        const std::size_t steps = 200;  // 0.5^200 is far below the smallest denormal
        const std::vector<float> xs(steps, 0.0f);
        const unsigned base = _mm_getcsr() & ~(kFtzDaz | kFlags);
        std::vector<std::vector<float>> ys, ref;
        std::vector<unsigned> after, ref_after;
        run(m, 1, xs, steps, base, ys, after, true);
        run(m, 1, xs, steps, base | kFtzDaz, ref, ref_after, true);
        std::size_t met = steps;  // the first step after which a flag is set
        for (std::size_t t = 0; t < steps && met == steps; ++t)
            if (after[t] & kMet) met = t;
        CHECK(met < steps);
        bool same_before = true, gradual = false, flushed_after = true, modes_kept = true;
        for (std::size_t t = 0; t < steps; ++t) {
            if (t < met) same_before = same_before && same_bits(ys[t], ref[t]);
            if (t <= met) gradual = gradual || any_denormal(ys[t]);
            if (t > met + FlushDenormalsOnceMet::kTrustedCalls) flushed_after = flushed_after && !any_denormal(ys[t]);
            modes_kept = modes_kept && (after[t] & kFtzDaz) == 0;
        }
        CHECK(same_before);    // the same bits until something met a denormal
        CHECK(gradual);        // and that step ran unflushed: no MXCSR write
        CHECK(flushed_after);  // then flushing
        CHECK(modes_kept);
        CHECK(same_bits(ys.back(), std::vector<float>(H, 0.0f)));
        CHECK(same_bits(ref.back(), std::vector<float>(H, 0.0f)));
        for (std::size_t t = 0; t < steps; ++t) CHECK(!any_denormal(ref[t]));  // FTZ+DAZ: never
        if (!same_before || !gradual || !flushed_after)
            std::fprintf(stderr, "  isa %s H=%zu: flag after step %zu\n", isa.c_str(), H, met);

        // A caller whose flags say a denormal was met: flushed from the first step, MXCSR kept.
        run(m, 1, xs, steps, base | 0x02, ys, after, false);
        bool kept = true, none = true;
        for (std::size_t t = 0; t < steps; ++t) {
            kept = kept && after[t] == (base | 0x02);
            none = none && !any_denormal(ys[t]);
        }
        CHECK(kept);
        CHECK(none);
    }
}
#endif

}  // namespace

int main() {
    std::mt19937 rng(20261207);
    for (const std::string& isa : available_isas()) {
        set_isa(isa);
#if X86
        check_ordinary(rng, isa);
        check_decay(rng, isa);
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_FP))
        const Halving r = halve_16(rng);
        CHECK(!r.denormal_seen);
        CHECK(same_bits(r.last, std::vector<float>(16, 0.0f)));
#else  // no guard here (runtime/denormals.h): gradual underflow, as IEEE computes it
        const Halving r = halve_16(rng);
        CHECK(r.denormal_seen);
        CHECK(same_bits(r.last, std::vector<float>(16, 0.0f)));
#endif
    }
    return test::finish("denormals");
}
