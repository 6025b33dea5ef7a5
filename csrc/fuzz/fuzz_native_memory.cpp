// libFuzzer target: the C API memory loaders (gru_infer_model_load_memory, copying, and
// gru_infer_model_view_memory, in place) on arbitrary bytes, then whatever loaded is run: predict
// (floats or ids, with lengths and h0) and a stream. Built with -fsanitize=fuzzer,address,undefined
// by tests/run_fuzz.sh; fuzz_replay.cpp runs the same function over stored inputs under ctest.
//
// A random mutation almost never keeps the FNV-1a checksum right, and the loader checks it first,
// so the raw bytes are loaded once as they are and once with the checksum recomputed: the second
// load reaches the parser with whatever the fuzzer changed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gru_infer/c_api.h"

namespace {

void fix_checksum(std::uint8_t* p, std::size_t n) {
    if (n < 64) return;
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 64; i < n; ++i) { h ^= p[i]; h *= 0x100000001b3ull; }
    std::memcpy(p + 48, &h, sizeof h);
}

// Runs a loaded model on a small batch: every buffer it uses is sized from the model's own sizes.
void exercise(const gru_infer_model* m, const std::uint8_t* data, std::size_t size) {
    const std::size_t B = 2, T = 3;
    const std::size_t in = gru_infer_model_input_size(m), state = gru_infer_model_state_size(m);
    const std::size_t out_floats = gru_infer_model_output_floats(m, B, T);
    if (in * B * T > (1u << 22) || out_floats > (1u << 22)) return;  // bounded by the file anyway
    std::vector<float> x(B * T * in), h0(B * state, 0.25f), y(out_floats), hn(B * state);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = size ? static_cast<float>(data[i % size]) / 64.0f - 2.0f : 0.0f;
    const std::int64_t lengths[B] = {static_cast<std::int64_t>(T), 1};
    std::vector<std::int64_t> ids(B * T, 0);
    if (gru_infer_model_takes_ids(m)) {
        gru_infer_predict_ids(m, B, T, ids.data(), lengths, h0.data(), y.data(), hn.data());
        gru_infer_predict_ids(m, B, T, ids.data(), nullptr, nullptr, y.data(), nullptr);
    } else {
        gru_infer_predict(m, B, T, x.data(), lengths, h0.data(), y.data(), hn.data());
        gru_infer_predict(m, B, T, x.data(), nullptr, nullptr, y.data(), nullptr);
    }
    gru_infer_stream* s = nullptr;
    if (gru_infer_stream_create(m, B, &s) != GRU_INFER_OK) return;  // e.g. bidirectional: cannot stream
    std::vector<float> yt(B * gru_infer_model_output_size(m)), st(gru_infer_stream_state_floats(s));
    for (std::size_t t = 0; t < T; ++t) {
        if (gru_infer_model_takes_ids(m)) gru_infer_stream_step_ids(s, ids.data(), yt.data());
        else gru_infer_stream_step(s, x.data() + t * in, yt.data());
    }
    gru_infer_stream_get_state(s, st.data(), st.size());
    gru_infer_stream_set_state(s, st.data(), st.size());
    gru_infer_stream_reset(s);
    gru_infer_stream_free(s);
}

void load_and_run(const std::uint8_t* data, std::size_t size) {
    gru_infer_model* m = nullptr;
    if (gru_infer_model_load_memory(data, size, &m) == GRU_INFER_OK) {
        exercise(m, data, size);
        gru_infer_model_free(m);
    }
    // In place: the view needs a 64-byte aligned buffer that outlives the model.
    void* copy = std::aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!copy) return;
    if (size) std::memcpy(copy, data, size);
    if (gru_infer_model_view_memory(copy, size, &m) == GRU_INFER_OK) {
        exercise(m, data, size);
        gru_infer_model_free(m);
    }
    std::free(copy);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    load_and_run(data, size);
    std::vector<std::uint8_t> fixed(data, data + size);
    fix_checksum(fixed.data(), fixed.size());
    load_and_run(fixed.data(), fixed.size());
    return 0;
}
