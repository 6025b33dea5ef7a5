// The native file: bit-exact round trip, every corruption a FormatError; and, given a folder,
// model files written by the Python side, checked against PyTorch's outputs stored beside them.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <memory>
#include <string>

#include "gru_infer/c_api.h"
#include "gru_infer/gru_infer.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

std::shared_ptr<Model> small_model(std::mt19937& rng) {
    auto m = std::make_shared<Model>();
    m->source = "test";
    auto emb = test::random_vec(rng, 10 * 3);
    m->add(std::make_unique<EmbeddingLayer>(10, 3, AlignedBuffer(emb.data(), emb.size())));
    GruConfig c;
    c.input_size = 3; c.hidden_size = 5; c.direction = GruDirection::Bidirectional;
    c.linear_before_reset = false; c.clip = 3.0f;
    std::vector<GruWeights> w(2);
    for (auto& g : w) {
        auto W = test::random_vec(rng, 45), R = test::random_vec(rng, 75), b = test::random_vec(rng, 15);
        g.W = AlignedBuffer(W.data(), W.size());
        g.R = AlignedBuffer(R.data(), R.size());
        g.bW = AlignedBuffer(b.data(), b.size());
        g.bR = AlignedBuffer(b.data(), b.size());
    }
    m->add(std::make_unique<GruLayer>(c, std::move(w)));
    m->add(std::make_unique<LastStepLayer>(10));
    auto W = test::random_vec(rng, 20), b = test::random_vec(rng, 2);
    m->add(std::make_unique<DenseLayer>(10, 2, AlignedBuffer(W.data(), W.size()), AlignedBuffer(b.data(), 2)));
    m->add(std::make_unique<ActivationLayer>(2, ActSpec{ActKind::Softmax}));
    return m;
}

void round_trip(std::mt19937& rng) {
    auto m = small_model(rng);
    auto bytes = serialize_model(*m);
    CHECK(bytes.size() % 64 == 0);
    auto back = load_model_from_memory(bytes.data(), bytes.size());
    CHECK(serialize_model(*back) == bytes);  // bit-exact, all fields
    std::vector<std::int64_t> ids{1, 2, 3, 9, 0, 4};
    std::vector<float> y1(4), y2(4);
    PredictRequest req;
    req.batch = 2; req.steps = 3; req.ids = ids.data(); req.y = y1.data();
    m->predict(req);
    req.y = y2.data();
    back->predict(req);
    CHECK(std::memcmp(y1.data(), y2.data(), sizeof(float) * 4) == 0);

    // Corruptions: each a FormatError, none a crash.
    CHECK_THROWS(load_model_from_memory(bytes.data(), 10), FormatError);
    for (std::size_t cut : {std::size_t(64), bytes.size() / 2, bytes.size() - 1})
        CHECK_THROWS(load_model_from_memory(bytes.data(), cut), FormatError);
    for (std::size_t at = 0; at < bytes.size(); at += at < 64 ? 1 : 7) {  // flip one byte anywhere
        auto bad = bytes;
        bad[at] ^= 0x5a;
        bool ok_or_format_error = true;
        try { load_model_from_memory(bad.data(), bad.size()); ok_or_format_error = false; }
        catch (const FormatError&) {}
        catch (...) { ok_or_format_error = false; }
        CHECK(ok_or_format_error);
    }
    auto newer = bytes;
    newer[8] = 99;
    try { load_model_from_memory(newer.data(), newer.size()); CHECK(false); }
    catch (const FormatError& e) { CHECK(std::string(e.what()).find("version 99") != std::string::npos); }
}

// Zero-copy loading: the model's weights are the buffer's bytes, and it predicts exactly as a copy.
void view_mode(std::mt19937& rng) {
    auto m = small_model(rng);
    GruConfig c;  // a second model with packed GRU weights (small_model's GRU is the Cho form with clip)
    c.input_size = 3; c.hidden_size = 17;
    auto W = test::random_vec(rng, 3 * 17 * 3), R = test::random_vec(rng, 3 * 17 * 17), b = test::random_vec(rng, 51);
    std::vector<GruWeights> w(1);
    w[0] = GruWeights{AlignedBuffer(W.data(), W.size()), AlignedBuffer(R.data(), R.size()),
                      AlignedBuffer(b.data(), b.size()), AlignedBuffer(b.data(), b.size())};
    Model packed_model;
    packed_model.add(std::make_unique<GruLayer>(c, std::move(w)));
    for (const Model* model : {m.get(), &packed_model}) {
        const auto bytes = serialize_model(*model);
        AlignedBuffer image((bytes.size() + 3) / 4);
        std::memcpy(image.data(), bytes.data(), bytes.size());
        const auto* lo = reinterpret_cast<const std::uint8_t*>(image.data());
        auto copy = load_model_from_memory(bytes.data(), bytes.size());
        auto view = load_model_from_memory(image.data(), bytes.size(), LoadMode::View);
        for (const auto& l : view->layers()) {
            const float* p = nullptr;
            if (l->kind() == LayerKind::Gru) {
                const auto& g = static_cast<const GruLayer&>(*l);
                p = g.packed().empty() ? nullptr : g.packed()[0].w.data();
            } else if (l->kind() == LayerKind::Dense) {
                p = static_cast<const DenseLayer&>(*l).weight().data();
            } else if (l->kind() == LayerKind::Embedding) {
                p = static_cast<const EmbeddingLayer&>(*l).table().data();
            }
            if (p) CHECK(reinterpret_cast<const std::uint8_t*>(p) > lo && reinterpret_cast<const std::uint8_t*>(p) < lo + bytes.size());
        }
        std::vector<float> x(2 * 5 * 3, 0.25f), y1(copy->output_floats(2, 5)), y2(y1.size());
        std::vector<std::int64_t> ids(2 * 5, 3);
        PredictRequest req;
        req.batch = 2; req.steps = 5; req.y = y1.data();
        if (copy->takes_ids()) req.ids = ids.data(); else req.x = x.data();
        copy->predict(req);
        req.y = y2.data();
        view->predict(req);
        CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
        // In place needs the file's 64-byte alignment.
        std::vector<std::uint8_t> shifted(bytes.size() + 64);
        std::uint8_t* at = shifted.data() + (64 - reinterpret_cast<std::uintptr_t>(shifted.data()) % 64) % 64 + 4;
        std::memcpy(at, bytes.data(), bytes.size());
        CHECK_THROWS(load_model_from_memory(at, bytes.size(), LoadMode::View), InvalidArgument);
        CHECK(load_model_from_memory(at, bytes.size())->layers().size() == model->layers().size());
    }
}

// A GRU with a default initial state (version 4): kept by a round trip and by quantize, used by
// predict without h0 and by streams, to which reset / reset_slots (C++ and C API) return; every
// corruption of such a file is a FormatError.
void initial_state(std::mt19937& rng) {
    const std::size_t I = 3, H = 6, B = 2, T = 4;
    auto gru = [&](std::size_t in, bool with_state) {
        GruConfig c;
        c.input_size = in; c.hidden_size = H;
        if (with_state) c.initial_state = test::random_vec(rng, H);
        std::vector<GruWeights> w(1);
        auto W = test::random_vec(rng, 3 * H * in), R = test::random_vec(rng, 3 * H * H), b = test::random_vec(rng, 3 * H);
        w[0] = GruWeights{AlignedBuffer(W.data(), W.size()), AlignedBuffer(R.data(), R.size()),
                          AlignedBuffer(b.data(), b.size()), AlignedBuffer(b.data(), b.size())};
        return std::make_unique<GruLayer>(c, std::move(w));
    };
    Model m;
    m.add(gru(I, true));
    m.add(gru(H, false));
    const std::vector<float> init = static_cast<const GruLayer&>(*m.layers()[0]).config().initial_state;
    CHECK(std::memcmp(m.layers()[0]->initial_state(), init.data(), H * sizeof(float)) == 0);
    CHECK(m.layers()[1]->initial_state() == nullptr);
    GruConfig bad;
    bad.input_size = I; bad.hidden_size = H; bad.initial_state.assign(H + 1, 0.0f);
    CHECK_THROWS(bad.validate(), InvalidArgument);

    const auto bytes = serialize_model(m);
    std::uint32_t version;
    std::memcpy(&version, bytes.data() + 8, 4);
    CHECK(version == 4);
    auto back = load_model_from_memory(bytes.data(), bytes.size());
    CHECK(serialize_model(*back) == bytes);
    if (has_reduced_precision()) {
        auto q = back->quantize(WeightFormat::Int8);
        CHECK(static_cast<const GruLayer&>(*q->layers()[0]).config().initial_state == init);
        const auto qbytes = serialize_model(*q);
        CHECK(serialize_model(*load_model_from_memory(qbytes.data(), qbytes.size())) == qbytes);
    }

    // predict: no h0 = the default in every row; an explicit h0 replaces it.
    const std::vector<float> x = test::random_vec(rng, B * T * I);
    std::vector<float> h0(2 * B * H, 0.0f), y_default(B * T * H), y_h0(y_default.size()), y_zero(y_default.size());
    for (std::size_t b = 0; b < B; ++b) std::memcpy(h0.data() + b * H, init.data(), H * sizeof(float));
    PredictRequest req;
    req.batch = B; req.steps = T; req.x = x.data(); req.y = y_default.data();
    back->predict(req);
    req.h0 = h0.data(); req.y = y_h0.data();
    back->predict(req);
    CHECK(y_default == y_h0);
    std::vector<float> zeros(h0.size(), 0.0f);
    req.h0 = zeros.data(); req.y = y_zero.data();
    back->predict(req);
    CHECK(y_default != y_zero);

    // Streams start from it; reset and reset_slots return to it.
    Stream s(back, B);
    CHECK(std::equal(h0.begin(), h0.end(), s.state()));
    std::vector<float> y(B * H), first(B * T * H);
    std::vector<float> xt(B * I);
    auto steps = [&](float* out) {
        for (std::size_t t = 0; t < T; ++t) {
            for (std::size_t b = 0; b < B; ++b) std::memcpy(xt.data() + b * I, x.data() + (b * T + t) * I, I * sizeof(float));
            s.step(xt.data(), y.data());
            for (std::size_t b = 0; b < B; ++b) std::memcpy(out + (b * T + t) * H, y.data() + b * H, H * sizeof(float));
        }
    };
    steps(first.data());
    CHECK(test::max_abs_diff(first.data(), y_default.data(), first.size()) <= 1e-6f);
    s.reset();
    CHECK(std::equal(h0.begin(), h0.end(), s.state()));
    const std::size_t slot = 1;
    s.step(xt.data(), y.data());
    s.reset_slots(1, &slot);
    CHECK(std::memcmp(s.state() + H, init.data(), H * sizeof(float)) == 0);
    CHECK(std::memcmp(s.state(), init.data(), H * sizeof(float)) != 0);

    // The C API's stream resets.
    gru_infer_model* cm = nullptr;
    gru_infer_stream* cs = nullptr;
    CHECK(gru_infer_model_load_memory(bytes.data(), bytes.size(), &cm) == GRU_INFER_OK);
    CHECK(gru_infer_stream_create(cm, B, &cs) == GRU_INFER_OK);
    std::vector<float> cstate(gru_infer_stream_state_floats(cs));
    CHECK(cstate.size() == h0.size());
    CHECK(gru_infer_stream_step(cs, xt.data(), y.data()) == GRU_INFER_OK);
    CHECK(gru_infer_stream_reset_slots(cs, 1, &slot) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_state(cs, cstate.data(), cstate.size()) == GRU_INFER_OK);
    CHECK(std::memcmp(cstate.data() + H, init.data(), H * sizeof(float)) == 0);
    CHECK(gru_infer_stream_reset(cs) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_state(cs, cstate.data(), cstate.size()) == GRU_INFER_OK);
    CHECK(cstate == h0);
    gru_infer_stream_free(cs);
    gru_infer_model_free(cm);

    // Hostile copies: any flipped byte, the flag out of range, the file claiming version 3.
    for (std::size_t at = 0; at < bytes.size(); at += at < 64 ? 1 : 5) {
        auto flipped = bytes;
        flipped[at] ^= 0x5a;
        bool ok_or_format_error = true;
        try { load_model_from_memory(flipped.data(), flipped.size()); ok_or_format_error = false; }
        catch (const FormatError&) {}
        catch (...) { ok_or_format_error = false; }
        CHECK(ok_or_format_error);
    }
    auto as_v3 = bytes;
    as_v3[8] = 3;
    CHECK_THROWS(load_model_from_memory(as_v3.data(), as_v3.size()), FormatError);
}

std::vector<char> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// <name>.gru with <name>.case: u32 B, T, F, out_count; float x[B*T*F]; float y[out_count].
int python_models(const std::string& dir) {
    DIR* d = opendir(dir.c_str());
    if (!d) { std::fprintf(stderr, "cannot open %s\n", dir.c_str()); return 1; }
    int n = 0;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() < 5 || name.substr(name.size() - 4) != ".gru") continue;
        std::string base = dir + "/" + name.substr(0, name.size() - 4);
        auto model = load_model(base + ".gru");
        auto c = read_file(base + ".case");
        std::uint32_t hdr[4];
        CHECK(c.size() >= sizeof hdr);
        if (c.size() < sizeof hdr) continue;
        std::memcpy(hdr, c.data(), sizeof hdr);
        const std::size_t B = hdr[0], T = hdr[1], F = hdr[2], O = hdr[3];
        CHECK(c.size() == sizeof hdr + (B * T * F + O) * sizeof(float));
        CHECK(model->output_floats(B, T) == O);
        if (c.size() != sizeof hdr + (B * T * F + O) * sizeof(float) || model->output_floats(B, T) != O) continue;
        const float* x = reinterpret_cast<const float*>(c.data() + sizeof hdr);
        const float* want = x + B * T * F;
        std::vector<float> y(O);
        std::vector<std::int64_t> ids(B * T);
        PredictRequest req;
        req.batch = B; req.steps = T; req.y = y.data();
        if (model->takes_ids()) {
            for (std::size_t i = 0; i < B * T; ++i) ids[i] = static_cast<std::int64_t>(x[i]);
            req.ids = ids.data();
        } else {
            req.x = x;
        }
        model->predict(req);
        const float err = test::max_abs_diff(y.data(), want, O);
        std::printf("%s: max abs error vs PyTorch %.3g\n", name.c_str(), err);
        CHECK(err <= 1e-5f);
        ++n;
    }
    closedir(d);
    CHECK(n > 0);
    return test::finish("test_python_models");
}

}  // namespace

// A build without reduced precision (GRU_INFER_REDUCED_PRECISION=OFF): quantize refuses, and
// files with int8/bf16/fp16 weights (the fuzz seeds quant_*.gru) are refused with a FormatError
// (C++) / GRU_INFER_ERROR_FORMAT (C API) that says so.
void without_reduced_precision(std::mt19937& rng) {
    if (has_reduced_precision()) return;
    const std::string why = "GRU_INFER_REDUCED_PRECISION=OFF";
    auto m = small_model(rng);
    for (WeightFormat f : {WeightFormat::Int8, WeightFormat::BF16, WeightFormat::F16}) {
        bool said = false;
        try { m->quantize(f); } catch (const InvalidArgument& e) { said = std::string(e.what()).find(why) != std::string::npos; }
        CHECK(said);
    }
    CHECK(m->quantize(WeightFormat::F32)->layers().size() == m->layers().size());  // an fp32 copy still works
    int files = 0;
    const std::string dir = GRU_INFER_TEST_FUZZ_CORPUS;
    for (const char* name : {"quant_fp16_ids.gru", "quant_bf16.gru", "quant_int8_dynamic.gru",
                             "quant_int8_calibrated.gru", "quant_int8_mixed.gru"}) {
        std::ifstream in(dir + "/" + name, std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.empty()) continue;
        ++files;
        bool said = false;
        try {
            load_model_from_memory(bytes.data(), bytes.size());
        } catch (const FormatError& e) {
            said = std::string(e.what()).find(why) != std::string::npos;
            if (!said) std::fprintf(stderr, "%s: %s\n", name, e.what());
        }
        CHECK(said);
        gru_infer_model* cm = nullptr;
        CHECK(gru_infer_model_load_memory(bytes.data(), bytes.size(), &cm) == GRU_INFER_ERROR_FORMAT && !cm);
        CHECK(std::strstr(gru_infer_last_error(), why.c_str()) != nullptr);
    }
    CHECK(files == 5);
}

int main(int argc, char** argv) {
    if (argc > 1) return python_models(argv[1]);
    std::mt19937 rng(7);
    round_trip(rng);
    view_mode(rng);
    initial_state(rng);
    without_reduced_precision(rng);
    CHECK_THROWS(load_model("/nonexistent/model.gru"), std::runtime_error);
    return test::finish("test_native_file");
}
