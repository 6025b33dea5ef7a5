// Sizes from outside the library: a stream or predict request whose buffers could not exist, and
// native files that declare layers wider than the weights they hold. Each must fail with a clear
// error (InvalidArgument / FormatError, or a status and message from the C API), never wrap a
// size product around or allocate what the file does not back with bytes.
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gru_infer/c_api.h"
#include "runtime/checked_size.h"
#include "runtime/fnv1a64.h"
#include "gru_infer/gru_infer.h"
#include "test_util.h"

using namespace gru_infer;

namespace {

// ---- native files written by hand (docs/native_format.md) ----

struct Bytes {
    std::vector<std::uint8_t> b;
    template <typename T> void put(T v) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
        b.insert(b.end(), p, p + sizeof(T));
    }
    void u32(std::uint32_t v) { put(v); }
    void act(std::uint32_t kind) { u32(kind); put(0.0f); put(0.0f); }
    void tensor(std::initializer_list<std::uint64_t> dims, std::uint64_t offset) {
        u32(1);
        u32(static_cast<std::uint32_t>(dims.size()));
        for (auto d : dims) put(d);
        put(offset);
    }
};

std::vector<std::uint8_t> native_file(const std::vector<std::uint8_t>& meta, std::size_t data_floats) {
    const std::size_t data_offset = (64 + meta.size() + 63) / 64 * 64;
    std::vector<std::uint8_t> f(data_offset + data_floats * sizeof(float), 0);
    std::memcpy(f.data(), "GRUINFER", 8);
    auto at = [&](std::size_t o, auto v) { std::memcpy(f.data() + o, &v, sizeof v); };
    at(8, std::uint32_t(2));
    at(16, std::uint64_t(64));
    at(24, std::uint64_t(meta.size()));
    at(32, std::uint64_t(data_offset));
    at(40, std::uint64_t(f.size() - data_offset));
    std::memcpy(f.data() + 64, meta.data(), meta.size());
    at(48, gru_infer::fnv1a64(f.data() + 64, f.size() - 64));  // the checksum of everything past the header
    return f;
}

Bytes meta_start(std::uint32_t layers) {
    Bytes m;
    m.u32(0);  // source ""
    m.u32(layers);
    return m;
}

std::string format_error(const std::vector<std::uint8_t>& f) {
    try {
        load_model_from_memory(f.data(), f.size());
    } catch (const FormatError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

void weightless_wide_layers_are_refused() {
    // An Activation of 2^28 features as the whole model: 32 bytes of metadata, no weights; a
    // stream of it would allocate 2 GB. Wider than a layer may be, and a weightless layer must
    // take its width from a layer with weights.
    Bytes m = meta_start(1);
    m.u32(3); m.u32(1u << 28); m.u32(1u << 28); m.act(1);
    std::string e = format_error(native_file(m.b, 0));
    CHECK(contains(e, "layer input size = 268435456 is outside [1, 1048576]"));
    m = meta_start(1);
    m.u32(3); m.u32(1u << 20); m.u32(1u << 20); m.act(1);
    CHECK(contains(format_error(native_file(m.b, 0)), "first layer must have weights"));
    m = meta_start(2);  // the same behind a LastStep
    m.u32(5); m.u32(1u << 20); m.u32(1u << 20);
    m.u32(3); m.u32(1u << 20); m.u32(1u << 20); m.act(0);
    CHECK(contains(format_error(native_file(m.b, 0)), "first layer must have weights"));

    // A GRU declaring 2^21 units: past the widest layer allowed, refused before any tensor is read.
    m = meta_start(1);
    m.u32(1); m.u32(4); m.u32(1u << 21); m.u32(1u << 21);
    e = format_error(native_file(m.b, 0));
    CHECK(contains(e, "is outside [1, 1048576]"));

    // A Dense 1 -> 2^20 + 1 whose weights are all there: still wider than a layer may be.
    const std::uint32_t wide = (1u << 20) + 1;
    m = meta_start(1);
    m.u32(2); m.u32(1); m.u32(wide);
    m.tensor({wide, 1}, 0);
    m.tensor({wide}, (wide * 4 + 63) / 64 * 64);
    e = format_error(native_file(m.b, 2 * ((wide * 4 + 63) / 64 * 16)));
    CHECK(contains(e, "is outside [1, 1048576]"));

    // A Dense whose declared 2^20 x 2^20 weight is not in the file.
    m = meta_start(1);
    m.u32(2); m.u32(1u << 20); m.u32(1u << 20);
    m.tensor({1u << 20, 1u << 20}, 0);
    m.tensor({1u << 20}, 0);
    CHECK(contains(format_error(native_file(m.b, 16)), "larger than the file"));
}

std::shared_ptr<Model> small_model() {
    auto m = std::make_shared<Model>();
    GruConfig c;
    c.input_size = 3;
    c.hidden_size = 5;
    std::vector<GruWeights> w(1);
    w[0].W = AlignedBuffer(15 * 3);
    w[0].R = AlignedBuffer(15 * 5);
    w[0].bW = AlignedBuffer(15);
    w[0].bR = AlignedBuffer(15);
    m->add(std::make_unique<GruLayer>(c, std::move(w)));
    return m;
}

void huge_stream_batches_are_refused() {
    auto m = small_model();
    const std::size_t max = Stream::max_batch(*m);
    CHECK(max > 1000 && max < kMaxBufferFloats);
    // SIZE_MAX / 4 (+ 1): 2^62 - 1 and 2^62 on a 64-bit host, 2^30 - 1 and 2^30 on a 32-bit one.
    const std::size_t quarter = std::numeric_limits<std::size_t>::max() / 4;
    for (std::size_t batch : {std::numeric_limits<std::size_t>::max(), quarter, quarter + 1, max + 1, std::size_t(0)}) {
        std::string msg;
        try {
            Stream s(m, batch);
        } catch (const InvalidArgument& e) {
            msg = e.what();
        }
        CHECK(contains(msg, ("batch must be in [1, " + std::to_string(max) + "]").c_str()));
        CHECK(contains(msg, ("got " + std::to_string(batch)).c_str()));
    }
    Stream ok(m, 3);  // an ordinary batch still works
    CHECK(ok.state_floats() == 15);

    // The same through the C API: a status and a message, no stream.
    const auto bytes = serialize_model(*m);
    gru_infer_model* cm = nullptr;
    CHECK(gru_infer_model_load_memory(bytes.data(), bytes.size(), &cm) == GRU_INFER_OK);
    for (std::size_t batch : {std::numeric_limits<std::size_t>::max(), quarter, quarter + 1}) {
        gru_infer_stream* s = reinterpret_cast<gru_infer_stream*>(1);
        CHECK(gru_infer_stream_create(cm, batch, &s) == GRU_INFER_ERROR_INVALID_ARGUMENT);
        CHECK(s == nullptr);
        CHECK(contains(gru_infer_last_error(), "batch must be in [1, "));
    }
    gru_infer_model_free(cm);
}

void huge_predict_requests_are_refused() {
    auto m = small_model();
    float x = 0, y = 0;
    // big x big does not fit in size_t: 2^40 on a 64-bit host, 2^20 on a 32-bit one.
    const std::size_t big = std::size_t(1) << (std::numeric_limits<std::size_t>::digits * 5 / 8);
    for (auto bt : {std::pair<std::size_t, std::size_t>{big, big}, {std::numeric_limits<std::size_t>::max(), 2},
                    {2, m->max_batch_steps() / 2 + 1}}) {
        PredictRequest req;
        req.batch = bt.first;
        req.steps = bt.second;
        req.x = &x;  // never read: the request is refused first
        req.y = &y;
        std::string msg;
        try {
            m->predict(req);
        } catch (const InvalidArgument& e) {
            msg = e.what();
        }
        CHECK(contains(msg, ("batch x steps must be at most " + std::to_string(m->max_batch_steps())).c_str()));
    }
    const auto bytes = serialize_model(*m);
    gru_infer_model* cm = nullptr;
    CHECK(gru_infer_model_load_memory(bytes.data(), bytes.size(), &cm) == GRU_INFER_OK);
    CHECK(gru_infer_predict(cm, big, big, &x, nullptr, nullptr, &y, nullptr) == GRU_INFER_ERROR_INVALID_ARGUMENT);
    CHECK(contains(gru_infer_last_error(), "batch x steps must be at most"));
    CHECK(gru_infer_model_output_floats(cm, std::numeric_limits<std::size_t>::max(), 2) == 0);
    CHECK(gru_infer_model_output_floats(cm, 2, 3) == 2 * 3 * 5);
    gru_infer_model_free(cm);
}

void checked_mul_refuses_what_wraps() {
    constexpr int half = std::numeric_limits<std::size_t>::digits / 2;  // 32, or 16 on a 32-bit host
    std::size_t n = 7;
    CHECK(mul_fits(std::size_t(1) << (half - 1), std::size_t(1) << half, &n) && n == std::size_t(1) << (2 * half - 1));
    n = 7;
    CHECK(!mul_fits(std::size_t(1) << half, std::size_t(1) << half, &n) && n == 7);
    CHECK(mul_fits(0, std::numeric_limits<std::size_t>::max(), &n) && n == 0);
    CHECK_THROWS(checked_mul(std::numeric_limits<std::size_t>::max(), 2, "x"), InvalidArgument);
}

// Layers whose weight counts do not fit in a 32-bit size_t (3 x 2^16 x 2^16 = 3 x 2^32; 2^16 x
// 2^16 = 2^32) with no weights at all: refused on every host. On a 32-bit one the counts would
// wrap to 0 and match the empty buffers, were they not checked products.
void weight_counts_that_wrap_are_refused() {
    const std::size_t w = std::size_t(1) << 16;
    GruConfig c;
    c.input_size = w;
    c.hidden_size = w;
    std::vector<GruWeights> gw(1);
    gw[0].bW = AlignedBuffer(3 * w);
    gw[0].bR = AlignedBuffer(3 * w);
    CHECK_THROWS(GruLayer(c, std::move(gw)), InvalidArgument);
    CHECK_THROWS(DenseLayer(w, w, AlignedBuffer(), AlignedBuffer(w)), InvalidArgument);
    CHECK_THROWS(EmbeddingLayer(w, w, AlignedBuffer()), InvalidArgument);
    // Bounds that hold on this host: a request's buffers fit in size_t with room to spare.
    static_assert(kMaxBufferBytes <= std::numeric_limits<std::size_t>::max() / 8, "no room for small factors");
    static_assert(3 * kMaxLayerWidth < kMaxBufferFloats, "a layer's rows must fit under the buffer bound");
}

}  // namespace

int main() {
    weightless_wide_layers_are_refused();
    huge_stream_batches_are_refused();
    weight_counts_that_wrap_are_refused();
    huge_predict_requests_are_refused();
    checked_mul_refuses_what_wraps();
    return test::finish("test_hostile_sizes");
}
