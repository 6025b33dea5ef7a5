// Reduced-precision models (Model::quantize) against their fp32 originals: the error bounds of
// random PyTorch-init GRUs with x ~ N(0, 1), T = 1000; every predict option; save / load / view
// bit for bit; the stream contract; bad options.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "gru_infer/gru_infer.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

std::shared_ptr<Model> random_model(std::mt19937& rng, std::size_t I, std::size_t H, GruDirection dir, bool lbr,
                                    int gru_layers, std::size_t dense_out) {
    auto m = std::make_shared<Model>();
    std::size_t in = I;
    for (int l = 0; l < gru_layers; ++l) {
        GruConfig c;
        c.input_size = in; c.hidden_size = H; c.direction = dir; c.linear_before_reset = lbr;
        const float s = 1.0f / std::sqrt(static_cast<float>(H));  // PyTorch's init range
        std::vector<GruWeights> w;
        for (std::size_t d = 0; d < c.num_directions(); ++d) {
            auto W = test::random_vec(rng, 3 * H * in, s), R = test::random_vec(rng, 3 * H * H, s),
                 bW = test::random_vec(rng, 3 * H, s), bR = test::random_vec(rng, 3 * H, s);
            w.push_back(GruWeights{AlignedBuffer(W.data(), W.size()), AlignedBuffer(R.data(), R.size()),
                                   AlignedBuffer(bW.data(), bW.size()), AlignedBuffer(bR.data(), bR.size())});
        }
        m->add(std::make_unique<GruLayer>(c, std::move(w)));
        in = c.output_size();
    }
    if (dense_out) {
        const float s = 1.0f / std::sqrt(static_cast<float>(in));
        auto W = test::random_vec(rng, dense_out * in, s), b = test::random_vec(rng, dense_out, s);
        m->add(std::make_unique<DenseLayer>(in, dense_out, AlignedBuffer(W.data(), W.size()), AlignedBuffer(b.data(), b.size())));
    }
    return m;
}

std::vector<float> normal(std::mt19937& rng, std::size_t n) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

struct Out {
    std::vector<float> y, hn;
};

Out run(const Model& m, const std::vector<float>& x, std::size_t B, std::size_t T, const std::int64_t* lengths = nullptr,
        const float* h0 = nullptr) {
    Out o{std::vector<float>(m.output_floats(B, T)), std::vector<float>(B * m.state_size())};
    PredictRequest r;
    r.batch = B; r.steps = T; r.x = x.data(); r.lengths = lengths; r.h0 = h0; r.y = o.y.data(); r.hn = o.hn.data();
    m.predict(r);
    return o;
}

float bound(WeightFormat f) { return f == WeightFormat::F16 ? 1e-3f : f == WeightFormat::BF16 ? 1e-2f : 3e-2f; }

const WeightFormat kFormats[] = {WeightFormat::F16, WeightFormat::BF16, WeightFormat::Int8};

// The accuracy bounds of the issue: GRU outputs (|h| <= 1) after T = 1000 steps of N(0, 1) input.
void check_accuracy(std::mt19937& rng, std::size_t I, std::size_t H, bool lbr, GruDirection dir, std::size_t B) {
    auto m = random_model(rng, I, H, dir, lbr, 1, 0);
    const std::size_t T = 1000;
    const auto x = normal(rng, B * T * I);
    const Out want = run(*m, x, B, T);
    for (WeightFormat f : kFormats) {
        auto q = m->quantize(f);
        CHECK(static_cast<const GruLayer&>(*q->layers()[0]).weight_format() == f);
        const Out got = run(*q, x, B, T);
        double mean = 0;
        const float err = test::max_abs_diff(want.y.data(), got.y.data(), want.y.size());
        for (std::size_t i = 0; i < want.y.size(); ++i) mean += std::fabs(want.y[i] - got.y[i]);
        std::printf("%-4s I=%-3zu H=%-4zu %s %-13s B=%zu T=%zu: max abs err vs fp32 %.3g (mean %.3g)\n",
                    weight_format_name(f), I, H, lbr ? "lbr" : "cho", dir == GruDirection::Bidirectional ? "bidirectional" : "forward",
                    B, T, err, mean / want.y.size());
        CHECK(err <= bound(f));
        CHECK(err > 0.0f);  // the weights really changed
    }
}

// Everything a model does, on a quantized two-layer stack with a Dense head.
void check_model(std::mt19937& rng, WeightFormat f, GruDirection dir, bool lbr) {
    auto m = random_model(rng, 7, 33, dir, lbr, 2, 5);
    auto q = m->quantize(f);
    const std::size_t B = 3, T = 41;
    const auto x = normal(rng, B * T * 7);
    const std::int64_t lengths[B] = {41, 17, 1};
    const auto h0 = test::random_vec(rng, B * m->state_size(), 0.5f);
    for (int variant = 0; variant < 3; ++variant) {
        const std::int64_t* L = variant == 1 ? lengths : nullptr;
        const float* H0 = variant == 2 ? h0.data() : nullptr;
        const Out want = run(*m, x, B, T, L, H0), got = run(*q, x, B, T, L, H0);
        const float err = test::max_abs_diff(want.y.data(), got.y.data(), want.y.size());
        CHECK(err <= 5 * bound(f));  // the Dense head adds up 66 GRU outputs
        CHECK(test::max_abs_diff(want.hn.data(), got.hn.data(), want.hn.size()) <= bound(f));
        // Rows are independent: row 1 alone gives the batch's row 1 bit for bit.
        if (variant == 1) {
            std::vector<float> x1(x.begin() + T * 7, x.begin() + 2 * T * 7);
            const std::int64_t l1 = lengths[1];
            const Out one = run(*q, x1, 1, T, &l1);
            CHECK(std::memcmp(one.y.data(), got.y.data() + T * 5, T * 5 * sizeof(float)) == 0);
        }
    }
    // Saved, loaded (copy and in place): the same results bit for bit, the same bytes again.
    const auto bytes = serialize_model(*q);
    std::uint32_t version;
    std::memcpy(&version, bytes.data() + 8, 4);
    CHECK(version == 3);
    CHECK(bytes.size() < serialize_model(*m).size() * (f == WeightFormat::Int8 ? 0.5 : 0.7));
    auto copy = load_model_from_memory(bytes.data(), bytes.size());
    AlignedBuffer aligned((bytes.size() + 3) / 4);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    auto view = load_model_from_memory(aligned.data(), bytes.size(), LoadMode::View);
    const Out a = run(*q, x, B, T), b = run(*copy, x, B, T), c = run(*view, x, B, T);
    CHECK(std::memcmp(a.y.data(), b.y.data(), a.y.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(a.y.data(), c.y.data(), a.y.size() * sizeof(float)) == 0);
    CHECK(serialize_model(*copy) == bytes && serialize_model(*view) == bytes);
    CHECK(static_cast<const GruLayer&>(*view->layers()[1]).weight_format() == f);
    CHECK(static_cast<const DenseLayer&>(*view->layers()[2]).weight_format() == f);
    // Streams (forward models only): step t equals predict's step t.
    if (dir == GruDirection::Forward) {
        Stream s(q, B);
        std::vector<float> y(B * 5);
        float worst = 0.0f;
        for (std::size_t t = 0; t < T; ++t) {
            std::vector<float> xt(B * 7);
            for (std::size_t r = 0; r < B; ++r) std::memcpy(xt.data() + r * 7, x.data() + (r * T + t) * 7, 7 * sizeof(float));
            s.step(xt.data(), y.data());
            for (std::size_t r = 0; r < B; ++r)
                worst = std::fmax(worst, test::max_abs_diff(y.data() + r * 5, a.y.data() + (r * T + t) * 5, 5));
        }
        // A GRU on the fp32 kernels (runs_quantized false: small layers) sums steps and predict in
        // their own orders, and the quantized Dense after it can then round an input to the next
        // bf16 / int8 step: up to a rounding step of its input times its weights, not 1e-6.
        const bool exact = static_cast<const GruLayer&>(*q->layers()[0]).runs_quantized() &&
                           static_cast<const GruLayer&>(*q->layers()[1]).runs_quantized();
        CHECK(worst <= (exact ? 1e-6f : bound(f)));
    }
    // keep_fp32 leaves the chosen layers alone; fp32 brings a model back.
    QuantizeOptions keep;
    keep.keep_fp32 = {0, 2};
    auto part = m->quantize(f, keep);
    CHECK(static_cast<const GruLayer&>(*part->layers()[0]).weight_format() == WeightFormat::F32);
    CHECK(static_cast<const GruLayer&>(*part->layers()[1]).weight_format() == f);
    CHECK(static_cast<const DenseLayer&>(*part->layers()[2]).weight_format() == WeightFormat::F32);
    auto back = q->quantize(WeightFormat::F32);
    CHECK(static_cast<const GruLayer&>(*back->layers()[0]).weight_format() == WeightFormat::F32);
    const Out d = run(*back, x, B, T);
    CHECK(test::max_abs_diff(d.y.data(), a.y.data(), d.y.size()) <= 5 * bound(f));
}

// Layers small enough that the fp32 kernels are faster (q_fp32_max_hidden of the ISA in use)
// run them on their dequantized weights: the results of an fp32 layer made from those weights, bit
// for bit, in predict (batches of 1 and 5, both directions and forms) and in a stream; larger
// layers and the scalar references run the reduced-precision kernels.
void check_fp32_fallback(std::mt19937& rng, const std::string& isa) {
    for (WeightFormat f : kFormats) {
        const std::size_t limit = q_fp32_max_hidden(f);
        CHECK((limit == 0) == (isa == "scalar"));
        for (std::size_t H : {1, 8, 16, 17, 32, 33, 64, 65})
            for (bool lbr : {true, false}) {
                const GruDirection dir = H % 2 ? GruDirection::Bidirectional : GruDirection::Forward;
                auto m = random_model(rng, 5, H, dir, lbr, 1, 0);
                auto q = m->quantize(f);
                const auto& g = static_cast<const GruLayer&>(*q->layers()[0]);
                CHECK(g.weight_format() == f && g.runs_quantized() == (H > limit));
                if (g.runs_quantized()) continue;
                Model fp32;
                fp32.add(std::make_unique<GruLayer>(g.config(), g.weights()));
                for (std::size_t B : {1, 5}) {
                    const std::size_t T = 23;
                    const auto x = normal(rng, B * T * 5);
                    const Out want = run(fp32, x, B, T), got = run(*q, x, B, T), orig = run(*m, x, B, T);
                    CHECK(std::memcmp(want.y.data(), got.y.data(), want.y.size() * sizeof(float)) == 0);
                    // and within the format's bound of the original fp32 model
                    CHECK(test::max_abs_diff(orig.y.data(), got.y.data(), got.y.size()) <= bound(f));
                    CHECK(std::memcmp(want.hn.data(), got.hn.data(), want.hn.size() * sizeof(float)) == 0);
                    if (dir != GruDirection::Forward) continue;
                    Stream s(q, B);
                    std::vector<float> xt(B * 5), y(B * H);
                    float worst = 0.0f;  // (as an fp32 layer's: steps and predict sum in their own orders)
                    for (std::size_t t = 0; t < T; ++t) {
                        for (std::size_t r = 0; r < B; ++r) std::memcpy(xt.data() + r * 5, x.data() + (r * T + t) * 5, 5 * sizeof(float));
                        s.step(xt.data(), y.data());
                        for (std::size_t r = 0; r < B; ++r)
                            worst = std::fmax(worst, test::max_abs_diff(y.data() + r * H, want.y.data() + (r * T + t) * H, H));
                    }
                    CHECK(worst <= 1e-6f);
                }
            }
    }
}

// Batches (4+ rows) of formats whose kernels on this ISA widen their weights per use anyway
// (q_fp32_batches) run the fp32 kernels on the weights widened once per predict: an fp32 layer's
// results on those weights, bit for bit, both forms and directions; fewer rows keep the format's.
void check_fp32_batches(std::mt19937& rng) {
    for (WeightFormat f : kFormats)
        for (bool lbr : {true, false}) {
            const GruDirection dir = lbr ? GruDirection::Forward : GruDirection::Bidirectional;
            auto m = random_model(rng, 9, 130, dir, lbr, 1, 0);  // above every fp32_max_hidden
            auto q = m->quantize(f);
            const auto& g = static_cast<const GruLayer&>(*q->layers()[0]);
            CHECK(g.runs_quantized());
            Model fp32;
            fp32.add(std::make_unique<GruLayer>(g.config(), g.weights()));
            for (std::size_t B : {2, 4, 7}) {
                const std::size_t T = 19;
                const auto x = normal(rng, B * T * 9);
                const Out want = run(fp32, x, B, T), got = run(*q, x, B, T), orig = run(*m, x, B, T);
                CHECK(test::max_abs_diff(orig.y.data(), got.y.data(), got.y.size()) <= bound(f));
                const bool same = std::memcmp(want.y.data(), got.y.data(), want.y.size() * sizeof(float)) == 0 &&
                                  std::memcmp(want.hn.data(), got.hn.data(), want.hn.size() * sizeof(float)) == 0;
                CHECK(same == (B >= kStepGemmRows && q_fp32_batches(f)));
                CHECK(test::max_abs_diff(want.y.data(), got.y.data(), want.y.size()) <= bound(f));
                if (dir != GruDirection::Forward || !same) continue;
                // A stream of B rows runs the same fp32 layer: steps and blocks as the fp32 model's
                // stream, bit for bit, and blocks as predict.
                auto borrowed = std::shared_ptr<const Model>(&fp32, [](const Model*) {});
                Stream sq(q, B), s32(borrowed, B);
                std::vector<float> xt(B * 9), yq(B * 130), y32(B * 130);
                for (std::size_t t = 0; t < T; ++t) {
                    for (std::size_t r = 0; r < B; ++r) std::memcpy(xt.data() + r * 9, x.data() + (r * T + t) * 9, 9 * sizeof(float));
                    sq.step(xt.data(), yq.data());
                    s32.step(xt.data(), y32.data());
                    CHECK(yq == y32);
                }
                sq.reset();
                std::vector<float> block(B * T * 130);
                sq.run(T, x.data(), block.data());
                CHECK(std::memcmp(block.data(), got.y.data(), block.size() * sizeof(float)) == 0);
            }
        }
}

void check_calibration(std::mt19937& rng) {
    auto m = random_model(rng, 4, 24, GruDirection::Forward, true, 1, 3);
    const std::size_t B = 2, T = 200;
    auto x = normal(rng, B * T * 4);
    for (auto& v : x) v *= 3.0f;
    const auto amax = m->layer_input_absmax(x.data(), nullptr, B, T);
    float xmax = 0.0f;
    for (float v : x) xmax = std::fmax(xmax, std::fabs(v));
    CHECK(amax.size() == 2 && amax[0] == xmax && amax[1] > 0.0f && amax[1] <= 1.0f);
    QuantizeOptions o;
    o.input_scales = {amax[0] / 127.0f, amax[1] / 127.0f};
    auto q = m->quantize(WeightFormat::Int8, o);
    const Out want = run(*m, x, B, T), got = run(*q, x, B, T);
    CHECK(test::max_abs_diff(want.y.data(), got.y.data(), want.y.size()) <= 5 * bound(WeightFormat::Int8));
    o.input_scales = {-1.0f};
    CHECK_THROWS(m->quantize(WeightFormat::Int8, o), InvalidArgument);
    QuantizeOptions k;
    k.keep_fp32 = {7};
    CHECK_THROWS(m->quantize(WeightFormat::Int8, k), InvalidArgument);
    CHECK_THROWS(parse_weight_format("int4"), InvalidArgument);
    CHECK(parse_weight_format("bf16") == WeightFormat::BF16);
}

// A NaN or inf weight would be hidden by reduced precision (the int8 row scale skips NaN): quantize
// refuses it, naming the layer and the tensor; keep_fp32 of that layer lets the rest through.
void check_non_finite_weights(std::mt19937& rng) {
    struct Where { std::size_t layer; const char* tensor; const char* message; };
    const Where wheres[] = {{0, "W", "layer 0 (GRU): its W (direction 0, forward) holds"},
                            {0, "R1", "layer 0 (GRU): its R (direction 1, reverse) holds"},
                            {0, "bW", "layer 0 (GRU): its bW (direction 0, forward) holds"},
                            {0, "bR1", "layer 0 (GRU): its bR (direction 1, reverse) holds"},
                            {1, "weight", "layer 1 (Dense): its weight holds"},
                            {1, "bias", "layer 1 (Dense): its bias holds"}};
    for (const auto& w : wheres)
        for (float bad : {NAN, INFINITY, -INFINITY}) {
            auto good = random_model(rng, 3, 8, GruDirection::Bidirectional, true, 1, 2);
            auto gru = static_cast<const GruLayer&>((*good->layers()[0])).weights();
            auto& dense = static_cast<const DenseLayer&>((*good->layers()[1]));
            AlignedBuffer dw = dense.weight_fp32(), db = dense.bias_fp32();
            const std::string t = w.tensor;
            AlignedBuffer& buf = t == "W" ? gru[0].W : t == "R1" ? gru[1].R : t == "bW" ? gru[0].bW : t == "bR1" ? gru[1].bR
                                 : t == "weight" ? dw : db;
            buf.data()[buf.size() - 1] = bad;
            Model m;
            m.add(std::make_unique<GruLayer>(static_cast<const GruLayer&>((*good->layers()[0])).config(), std::move(gru)));
            m.add(std::make_unique<DenseLayer>(dense.input_size(), dense.output_size(), std::move(dw), std::move(db)));
            for (WeightFormat f : kFormats) {
                std::string msg;
                try { m.quantize(f); } catch (const InvalidArgument& e) { msg = e.what(); }
                const bool ok = msg.find(w.message) != std::string::npos &&
                                msg.find(std::isnan(bad) ? "NaN at index" : "inf at index") != std::string::npos;
                if (!ok) std::fprintf(stderr, "quantize with %g in %s: message '%s'\n", bad, w.tensor, msg.c_str());
                CHECK(ok);
                QuantizeOptions keep;
                keep.keep_fp32 = {w.layer};
                CHECK(m.quantize(f, keep) != nullptr);
            }
            CHECK(m.quantize(WeightFormat::F32) != nullptr);  // nothing to hide
        }
}

}  // namespace

int main() {
    std::mt19937 rng(99);
    for (const std::string& isa : available_isas()) {
        set_isa(isa);
        std::printf("ISA %s\n", isa.c_str());
        if (isa == "scalar") {  // the references are slow: smaller models
            check_accuracy(rng, 16, 64, true, GruDirection::Forward, 1);
            check_accuracy(rng, 8, 32, false, GruDirection::Forward, 2);
        } else {
            check_accuracy(rng, 64, 256, true, GruDirection::Forward, 1);
            check_accuracy(rng, 16, 128, false, GruDirection::Forward, 2);
            check_accuracy(rng, 32, 64, true, GruDirection::Bidirectional, 3);
        }
        for (WeightFormat f : kFormats)
            for (bool lbr : {true, false}) {
                check_model(rng, f, GruDirection::Forward, lbr);
                check_model(rng, f, lbr ? GruDirection::Bidirectional : GruDirection::Reverse, lbr);
            }
        check_calibration(rng);
        check_fp32_fallback(rng, isa);
        check_fp32_batches(rng);
    }
    check_non_finite_weights(rng);
    return test::finish("test_quant_model");
}
