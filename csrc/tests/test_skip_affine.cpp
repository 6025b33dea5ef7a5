// InputSkip (y = x + a slice of the model's input) and Affine (y = x * scale + shift) layers, and
// the element-wise activations added with them: values against plain reference arithmetic, in
// predict and in streams, through the native file bit for bit, and every misuse an error.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gru_infer/gru_infer.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

AlignedBuffer buf(const std::vector<float>& v) { return AlignedBuffer(v.data(), v.size()); }

std::unique_ptr<GruLayer> gru(std::mt19937& rng, std::size_t I, std::size_t H) {
    GruConfig c;
    c.input_size = I; c.hidden_size = H;
    std::vector<GruWeights> w(1);
    w[0].W = buf(test::random_vec(rng, 3 * H * I, 0.5f));
    w[0].R = buf(test::random_vec(rng, 3 * H * H, 0.5f));
    w[0].bW = buf(test::random_vec(rng, 3 * H, 0.5f));
    w[0].bR = buf(test::random_vec(rng, 3 * H, 0.5f));
    return std::make_unique<GruLayer>(c, std::move(w));
}

std::vector<float> run(const Model& m, const std::vector<float>& x, std::size_t B, std::size_t T) {
    std::vector<float> y(m.output_floats(B, T));
    PredictRequest req;
    req.batch = B; req.steps = T; req.x = x.data(); req.y = y.data();
    m.predict(req);
    return y;
}

// GRU(I -> H) -> Dense(H -> 2) [-> InputSkip(start) -> Affine]: the skip and affine model against the
// plain one plus reference arithmetic; then the stream against predict, step by step.
void skip_and_affine(std::mt19937& rng, std::size_t I, std::size_t start, std::size_t B, std::size_t T) {
    const std::size_t H = 5, O = 2;
    auto plain = std::make_shared<Model>(), full = std::make_shared<Model>();
    std::mt19937 same = rng;  // both GRUs get identical weights
    plain->add(gru(same, I, H));
    full->add(gru(rng, I, H));
    auto dw = test::random_vec(rng, O * H), db = test::random_vec(rng, O);
    auto scale = test::random_vec(rng, O, 2.0f), shift = test::random_vec(rng, O);
    plain->add(std::make_unique<DenseLayer>(H, O, buf(dw), buf(db)));
    full->add(std::make_unique<DenseLayer>(H, O, buf(dw), buf(db)));
    full->add(std::make_unique<InputSkipLayer>(O, start, I));
    full->add(std::make_unique<AffineLayer>(O, buf(scale), buf(shift)));

    auto x = test::random_vec(rng, B * T * I, 2.0f);
    const auto y0 = run(*plain, x, B, T), y = run(*full, x, B, T);
    float err = 0.0f;
    for (std::size_t r = 0; r < B * T; ++r)
        for (std::size_t j = 0; j < O; ++j) {
            const double want = (static_cast<double>(y0[r * O + j]) + x[r * I + start + j]) * scale[j] + shift[j];
            err = std::fmax(err, static_cast<float>(std::fabs(want - y[r * O + j])));
        }
    CHECK(err < 1e-5f);

    Stream s(full, B);  // the stream: step t equals predict's step t
    std::vector<float> xt(B * I), yt(B * O);
    float serr = 0.0f;
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t b = 0; b < B; ++b) std::memcpy(&xt[b * I], &x[(b * T + t) * I], I * sizeof(float));
        s.step(xt.data(), yt.data());
        for (std::size_t b = 0; b < B; ++b)
            serr = std::fmax(serr, test::max_abs_diff(&yt[b * O], &y[(b * T + t) * O], O));
    }
    CHECK(serr < 1e-5f);

    const auto bytes = serialize_model(*full);  // the file: bit-exact, and the same outputs
    auto back = load_model_from_memory(bytes.data(), bytes.size());
    CHECK(serialize_model(*back) == bytes);
    CHECK(run(*back, x, B, T) == y);
    for (std::size_t at = 64; at < bytes.size(); at += 5) {  // corruption: a FormatError, never a crash
        auto bad = bytes;
        bad[at] ^= 0x33;
        bool ok = true;
        try { load_model_from_memory(bad.data(), bad.size()); ok = false; } catch (const FormatError&) {} catch (...) { ok = false; }
        CHECK(ok);
    }
}

void misuse() {
    std::mt19937 rng(5);
    {  // wider than the model input, or a start past it
        CHECK_THROWS(InputSkipLayer(3, 0, 2), InvalidArgument);
        CHECK_THROWS(InputSkipLayer(1, 3, 3), InvalidArgument);
        CHECK_THROWS(InputSkipLayer(0, 0, 3), InvalidArgument);
    }
    {  // made for another model input size
        Model m;
        m.add(gru(rng, 3, 4));
        CHECK_THROWS(m.add(std::make_unique<InputSkipLayer>(4, 0, 4)), InvalidArgument);
    }
    {  // after the time axis is gone
        Model m;
        m.add(gru(rng, 4, 4));
        m.add(std::make_unique<LastStepLayer>(4));
        CHECK_THROWS(m.add(std::make_unique<InputSkipLayer>(4, 0, 4)), InvalidArgument);
    }
    {  // on a model that takes ids
        Model m;
        std::vector<float> table(5 * 4, 0.1f);
        m.add(std::make_unique<EmbeddingLayer>(5, 4, buf(table)));
        CHECK_THROWS(m.add(std::make_unique<InputSkipLayer>(4, 0, 1)), InvalidArgument);
    }
    {  // Affine sizes
        std::vector<float> two(2), three(3);
        CHECK_THROWS(AffineLayer(2, buf(two), buf(three)), InvalidArgument);
        CHECK_THROWS(AffineLayer(3, buf(two), buf(two)), InvalidArgument);
    }
    CHECK_THROWS(ActivationLayer(3, (ActSpec{ActKind::Celu, 0.0f, 0.0f})), InvalidArgument);
    CHECK_THROWS(ActivationLayer(3, (ActSpec{ActKind::Clip, 1.0f, -1.0f})), InvalidArgument);
    // Called on its own, without the model's input, the skip gives NaN, never a plausible answer.
    InputSkipLayer skip(2, 0, 2);
    float x[2] = {1, 2}, y[2] = {0, 0};
    skip.step(x, y, 1, nullptr, nullptr, StepContext{});
    CHECK(std::isnan(y[0]) && std::isnan(y[1]));
}

double ref_act(ActKind k, double x, double a, double b) {
    const double sp = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    switch (k) {
        case ActKind::Gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        case ActKind::GeluTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        case ActKind::Silu: return x / (1 + std::exp(-x));
        case ActKind::Clip: return std::fmin(b, std::fmax(a, x));
        case ActKind::HardSwish: return x * std::fmin(1.0, std::fmax(0.0, x / 6 + 0.5));
        case ActKind::Mish: return x * std::tanh(sp);
        case ActKind::Selu: return b * (x > 0 ? x : a * std::expm1(x));
        case ActKind::Celu: return std::fmax(0.0, x) + std::fmin(0.0, a * std::expm1(x / a));
        default: return NAN;
    }
}

void new_activations() {
    struct Case { ActKind kind; float a, b; };
    const Case cases[] = {{ActKind::Gelu, 0, 0}, {ActKind::GeluTanh, 0, 0}, {ActKind::Silu, 0, 0},
                          {ActKind::Clip, 0.0f, 6.0f}, {ActKind::Clip, -1.0f, 1.0f}, {ActKind::HardSwish, 0, 0},
                          {ActKind::Mish, 0, 0}, {ActKind::Selu, 1.6732632f, 1.0507009f}, {ActKind::Celu, 0.7f, 0}};
    std::vector<float> xs;
    for (int i = -400; i <= 400; ++i) xs.push_back(i * 0.05f);
    xs.push_back(-90.0f);
    xs.push_back(90.0f);
    for (const auto& c : cases) {
        std::vector<float> v = xs;
        apply_activation(ActSpec{c.kind, c.a, c.b}, v.data(), v.size());
        float err = 0.0f;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            const double want = ref_act(c.kind, xs[i], c.a, c.b);
            err = std::fmax(err, static_cast<float>(std::fabs(want - v[i]) / std::fmax(1.0, std::fabs(want))));
        }
        if (!(err < 1e-6f)) std::fprintf(stderr, "activation %s: relative error %g\n", act_name(c.kind), err);
        CHECK(err < 1e-6f);
        CHECK(act_from_name(act_name(c.kind)) == c.kind);
    }
}

// NaN in gives NaN out for every element-wise kind, on every ISA (sigmoid and tanh run the
// kernel table's); softmax of a row with NaN is NaN. The clamps keep -0.0 and saturate +-inf
// (as torch: tests/test_nan_activations.py compares every kind with it).
void special_values() {
    const float nan = NAN, inf = INFINITY;
    for (std::uint32_t k = 0; k < static_cast<std::uint32_t>(ActKind::Count); ++k) {
        const ActSpec act{static_cast<ActKind>(k), 0.5f, 0.5f};
        std::vector<float> v(19, 1.0f);
        v[3] = nan, v[17] = nan;
        apply_activation_rows(act, v.data(), 1, v.size());
        const bool ok = std::isnan(v[3]) && std::isnan(v[17]);
        if (!ok) std::fprintf(stderr, "activation %s (ISA %s): NaN in, %g out\n", act_name(act.kind), active_isa(), v[3]);
        CHECK(ok);
    }
    struct Case { ActKind kind; float a, b, x, want; };
    const Case cases[] = {{ActKind::Relu, 0, 0, -0.0f, -0.0f}, {ActKind::Relu, 0, 0, -inf, 0}, {ActKind::Relu, 0, 0, inf, inf},
                          {ActKind::Clip, 0, 6, -0.0f, -0.0f}, {ActKind::Clip, -1, 1, -inf, -1}, {ActKind::Clip, -1, 1, inf, 1},
                          {ActKind::HardSigmoid, 0.2f, 0.5f, -inf, 0}, {ActKind::HardSigmoid, 0.2f, 0.5f, inf, 1},
                          {ActKind::ThresholdedRelu, 1, 0, -0.0f, 0.0f}, {ActKind::ThresholdedRelu, 1, 0, inf, inf},
                          {ActKind::Celu, 0.7f, 0, -0.0f, -0.0f}, {ActKind::Celu, 0.7f, 0, -inf, -0.7f}};
    for (const auto& c : cases) {
        float y = c.x;
        apply_activation(ActSpec{c.kind, c.a, c.b}, &y, 1);
        const bool ok = y == c.want && std::signbit(y) == std::signbit(c.want);
        if (!ok) std::fprintf(stderr, "activation %s(%g): %g, want %g\n", act_name(c.kind), c.x, y, c.want);
        CHECK(ok);
    }
}

}  // namespace

int main() {
    std::mt19937 rng(9);
    for (const auto& isa : available_isas()) {
        set_isa(isa);
        skip_and_affine(rng, 2, 0, 1, 7);
        skip_and_affine(rng, 3, 1, 3, 11);
        skip_and_affine(rng, 17, 15, 5, 40);
        special_values();
    }
    misuse();
    new_activations();
    return test::finish("test_skip_affine");
}
