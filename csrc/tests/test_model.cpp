// The GRU layer and model against a plain double-precision loop written from the equations,
// for every ISA: both formulations, directions, lengths, h0; and the stream contract.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"  // uses_avx512_f32
#include "runtime/projection_pipeline.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// y: (B, T, D*H) concat, zeros past lengths; hn: (D, B, H).
void reference_gru(const GruConfig& c, const std::vector<GruWeights>& w, const float* x, std::size_t B,
                   std::size_t T, const std::int64_t* lengths, const float* h0, std::vector<double>& y,
                   std::vector<double>& hn) {
    const std::size_t H = c.hidden_size, I = c.input_size, D = c.num_directions();
    y.assign(B * T * D * H, 0.0);
    hn.assign(D * B * H, 0.0);
    for (std::size_t d = 0; d < D; ++d) {
        const auto& g = w[d];
        for (std::size_t b = 0; b < B; ++b) {
            std::vector<double> h(H, 0.0), nh(H);
            if (h0) for (std::size_t j = 0; j < H; ++j) h[j] = h0[(d * B + b) * H + j];
            const std::size_t len = lengths ? lengths[b] : T;
            for (std::size_t s = 0; s < len; ++s) {
                const std::size_t t = d == 1 || c.direction == GruDirection::Reverse ? len - 1 - s : s;
                const float* xt = x + (b * T + t) * I;
                for (std::size_t j = 0; j < H; ++j) {
                    double a[3], rh[3];
                    for (int q = 0; q < 3; ++q) {
                        a[q] = g.bW[q * H + j];
                        for (std::size_t i = 0; i < I; ++i) a[q] += g.W[(q * H + j) * I + i] * xt[i];
                        rh[q] = g.bR[q * H + j];
                        for (std::size_t i = 0; i < H; ++i) rh[q] += g.R[(q * H + j) * H + i] * h[i];
                    }
                    double z = sigm(a[0] + rh[0]), r = sigm(a[1] + rh[1]), n;
                    if (c.linear_before_reset) {
                        n = std::tanh(a[2] + r * rh[2]);
                    } else {
                        // Rn (r * h): every r_i is needed, so recompute r for all units.
                        double acc = g.bR[2 * H + j];
                        for (std::size_t i = 0; i < H; ++i) {
                            double ai = g.bW[H + i], ri = g.bR[H + i];
                            for (std::size_t k = 0; k < I; ++k) ai += g.W[(H + i) * I + k] * xt[k];
                            for (std::size_t k = 0; k < H; ++k) ri += g.R[(H + i) * H + k] * h[k];
                            acc += g.R[(2 * H + j) * H + i] * sigm(ai + ri) * h[i];
                        }
                        n = std::tanh(a[2] + acc);
                    }
                    nh[j] = (1 - z) * n + z * h[j];
                }
                h = nh;
                for (std::size_t j = 0; j < H; ++j) y[(b * T + t) * D * H + d * H + j] = h[j];
            }
            for (std::size_t j = 0; j < H; ++j) hn[(d * B + b) * H + j] = h[j];
        }
    }
}

std::vector<GruWeights> random_weights(std::mt19937& rng, const GruConfig& c) {
    std::vector<GruWeights> w;
    const std::size_t H = c.hidden_size, I = c.input_size;
    const float s = 1.0f / std::sqrt(static_cast<float>(H));
    for (std::size_t d = 0; d < c.num_directions(); ++d) {
        GruWeights g;
        auto W = test::random_vec(rng, 3 * H * I, s), R = test::random_vec(rng, 3 * H * H, s),
             bW = test::random_vec(rng, 3 * H, s), bR = test::random_vec(rng, 3 * H, s);
        g.W = AlignedBuffer(W.data(), W.size());
        g.R = AlignedBuffer(R.data(), R.size());
        g.bW = AlignedBuffer(bW.data(), bW.size());
        g.bR = AlignedBuffer(bR.data(), bR.size());
        w.push_back(std::move(g));
    }
    return w;
}

void check_case(std::mt19937& rng, std::size_t I, std::size_t H, std::size_t B, std::size_t T, bool lbr,
                bool bidir, bool use_lengths, bool use_h0) {
    GruConfig c;
    c.input_size = I;
    c.hidden_size = H;
    c.linear_before_reset = lbr;
    c.direction = bidir ? GruDirection::Bidirectional : GruDirection::Forward;
    auto w = random_weights(rng, c);
    const std::size_t D = c.num_directions();
    auto x = test::random_vec(rng, B * T * I, 2.0f);
    auto h0 = test::random_vec(rng, D * B * H);
    std::vector<std::int64_t> lengths(B);
    for (std::size_t b = 0; b < B; ++b) lengths[b] = 1 + static_cast<std::int64_t>(rng() % T);
    std::vector<double> ref_y, ref_hn;
    reference_gru(c, w, x.data(), B, T, use_lengths ? lengths.data() : nullptr, use_h0 ? h0.data() : nullptr,
                  ref_y, ref_hn);

    auto model = std::make_shared<Model>();
    model->add(std::make_unique<GruLayer>(c, w));
    // The gate-major copy exactly where the AVX-512 step would use it (9..32 units, built on AVX-512).
    const auto& layer = static_cast<const GruLayer&>(*model->layers()[0]);
    const bool gate_major = uses_gate_major(H) && uses_avx512_f32(active_isa());
    for (std::size_t d = 0; d < D; ++d) CHECK((layer.gate_major_recurrent(d) != nullptr) == gate_major);
    std::vector<float> y(model->output_floats(B, T)), hn(B * model->state_size());
    PredictRequest req;
    req.batch = B; req.steps = T; req.x = x.data(); req.y = y.data(); req.hn = hn.data();
    req.lengths = use_lengths ? lengths.data() : nullptr;
    req.h0 = use_h0 ? h0.data() : nullptr;
    model->predict(req);
    double err = 0;
    for (std::size_t i = 0; i < y.size(); ++i) err = std::fmax(err, std::fabs(y[i] - ref_y[i]));
    for (std::size_t i = 0; i < hn.size(); ++i) err = std::fmax(err, std::fabs(hn[i] - ref_hn[i]));
    if (!(err < 2e-5))
        std::fprintf(stderr, "I=%zu H=%zu B=%zu T=%zu lbr=%d bidir=%d lengths=%d h0=%d: err %g\n", I, H, B, T,
                     lbr, bidir, use_lengths, use_h0, err);
    CHECK(err < 2e-5);

    if (bidir) {
        CHECK_THROWS(Stream(model, B), InvalidArgument);
        return;
    }
    // Stream contract: step t gives predict(x[:t+1])'s last step, i.e. y[:, t] of the full run.
    Stream stream(model, B);
    if (use_h0) std::memcpy(stream.state(), h0.data(), h0.size() * sizeof(float));
    std::vector<float> xt(B * I), yt(B * H);
    float serr = 0;
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t b = 0; b < B; ++b) std::memcpy(&xt[b * I], &x[(b * T + t) * I], I * sizeof(float));
        stream.step(xt.data(), yt.data());
        if (use_lengths) continue;
        for (std::size_t b = 0; b < B; ++b)
            serr = std::fmax(serr, test::max_abs_diff(&yt[b * H], &y[(b * T + t) * H], H));
    }
    CHECK(serr < 1e-6f);
    stream.reset();
    for (std::size_t i = 0; i < stream.state_floats(); ++i) CHECK(stream.state()[i] == 0.0f);
}

// Every block computed exactly once, and wait_for(s) returns only once step s is computed: with
// a helper thread, and without one (the recurrence then computes every block itself).
void check_projection_pipeline() {
    for (std::size_t steps : {1, 3, 16, 17, 255})
        for (std::size_t block : {1, 4, 16, 1000})
            for (bool helper : {false, true}) {
                std::vector<std::atomic<int>> computed(steps);
                for (auto& c : computed) c.store(0);
                ProjectionPipeline p(steps, block, [&](std::size_t s0, std::size_t s1) {
                    for (std::size_t s = s0; s < s1; ++s) computed[s].fetch_add(1);
                });
                std::thread producer;
                if (helper) producer = std::thread([&] { p.produce(); });
                bool ready_in_time = true;
                for (std::size_t s = 0; s < steps; ++s) {
                    p.wait_for(s);
                    ready_in_time = ready_in_time && computed[s].load() == 1;
                }
                if (helper) producer.join();
                std::size_t once = 0;
                for (auto& c : computed) once += c.load() == 1;
                CHECK(ready_in_time);
                CHECK(once == steps);
            }
    CHECK_THROWS(ProjectionPipeline(5, 0, [](std::size_t, std::size_t) {}), InvalidArgument);
}

// A batch of one with two threads: the projection runs ahead on the second one. Same outputs,
// bit for bit, as one thread, and the reference's, in both directions, with and without lengths.
void check_pipelined_predict(std::mt19937& rng) {
    const std::size_t I = 64, H = 40, T = 800;  // 12 MFLOP of projection: above the threshold
    for (GruDirection dir : {GruDirection::Forward, GruDirection::Reverse})
        for (bool lbr : {true, false})
            for (bool use_lengths : {false, true}) {
                GruConfig c;
                c.input_size = I; c.hidden_size = H; c.linear_before_reset = lbr; c.direction = dir;
                auto model = std::make_shared<Model>();
                auto w = random_weights(rng, c);
                model->add(std::make_unique<GruLayer>(c, w));
                auto x = test::random_vec(rng, T * I, 2.0f);
                const std::int64_t length = T - 37;
                std::vector<double> ref_y, ref_hn;
                reference_gru(c, w, x.data(), 1, T, use_lengths ? &length : nullptr, nullptr, ref_y, ref_hn);
                std::vector<float> y1(T * H), y2(T * H), hn1(H), hn2(H);
                PredictRequest req;
                req.batch = 1; req.steps = T; req.x = x.data(); req.lengths = use_lengths ? &length : nullptr;
                set_num_threads(1);
                req.y = y1.data(); req.hn = hn1.data();
                model->predict(req);
                set_num_threads(2);
                req.y = y2.data(); req.hn = hn2.data();
                model->predict(req);
                CHECK(y1 == y2 && hn1 == hn2);
                double err = 0;
                for (std::size_t i = 0; i < y2.size(); ++i) err = std::fmax(err, std::fabs(y2[i] - ref_y[i]));
                for (std::size_t i = 0; i < H; ++i) err = std::fmax(err, std::fabs(hn2[i] - ref_hn[i]));
                CHECK(err < 2e-5);
            }
    set_num_threads(0);
}

}  // namespace

int main() {
    std::mt19937 rng(42);
    for (const auto& isa : available_isas()) {
        set_isa(isa);
        for (std::size_t I : {1, 3, 17})
            for (std::size_t H : {1, 8, 17})
                for (int mask = 0; mask < 16; ++mask)
                    check_case(rng, I, H, 1 + rng() % 4, 1 + rng() % 9, mask & 1, mask & 2, mask & 4, mask & 8);
    }
    check_projection_pipeline();
    check_pipelined_predict(rng);
    // Chaining errors are caught when the model is built.
    Model m;
    GruConfig c;
    c.input_size = 4; c.hidden_size = 5;
    std::mt19937 r2(1);
    m.add(std::make_unique<GruLayer>(c, random_weights(r2, c)));
    CHECK_THROWS(m.add(std::make_unique<DenseLayer>(6, 2, AlignedBuffer(12), AlignedBuffer(2))), InvalidArgument);
    CHECK_THROWS(GruLayer(c, std::vector<GruWeights>{}), InvalidArgument);
    CHECK_THROWS(GruLayer(c, std::vector<PackedGru>{}), InvalidArgument);

    // Requests too large to address are refused, not wrapped around.
    {
        auto big = std::make_shared<Model>();
        big->add(std::make_unique<GruLayer>(c, random_weights(r2, c)));
        std::vector<float> x(4), y(5);
        PredictRequest req;
        // batch x steps wraps: 2^40 x 2^30 on a 64-bit host, 2^8 x 2^30 on a 32-bit one.
        req.batch = (SIZE_MAX >> 24) + 1; req.steps = std::size_t(1) << 30; req.x = x.data(); req.y = y.data();
        CHECK_THROWS(big->predict(req), InvalidArgument);
    }
    // A float step into a model that takes ids gives NaN (step never throws).
    {
        auto ids = std::make_shared<Model>();
        std::vector<float> table(3 * 4, 0.5f);
        ids->add(std::make_unique<EmbeddingLayer>(3, 4, AlignedBuffer(table.data(), table.size())));
        ids->add(std::make_unique<GruLayer>(c, random_weights(r2, c)));
        Stream s(ids, 1);
        std::vector<float> x(1, 1.0f), y(5, 0.0f);
        s.step(x.data(), y.data());
        for (float v : y) CHECK(std::isnan(v));
    }
    return test::finish("test_model");
}
