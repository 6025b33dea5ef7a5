// What a call through the stream table (gru_infer_stream_api, the capsule Cython users get from
// Stream.capsule) costs over the C API's gru_infer_stream_step, and over Stream::step itself.
// One stream object stepped through each path, rounds interleaved; the median ns per call of each.
//     benchmarks/stream_api_overhead.sh MODEL.gru [MODEL.gru ...]
//     stream_api_overhead MODEL.gru [capi|table|cxx STEPS]   (one path only: for callgrind)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gru_infer/c_api.h"
#include "gru_infer/gru_infer.h"
#include "stream_api_table.h"

using Clock = std::chrono::steady_clock;

// The C API's stream handle, as c_api.cpp defines it (the same definition): so that all three
// paths step the very same Stream object and its memory, and only the call path differs.
struct gru_infer_stream {
    gru_infer::Stream stream;
};

namespace {

template <typename F>
double ns_per_call(F&& fn, int calls) {
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) fn();
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / calls;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL.gru [capi|table|cxx STEPS]\n", argv[0]);
        return 2;
    }
    gru_infer_model* cm = nullptr;
    gru_infer_stream* cs = nullptr;
    if (gru_infer_model_load_file(argv[1], &cm) != GRU_INFER_OK || gru_infer_stream_create(cm, 1, &cs) != GRU_INFER_OK) {
        std::fprintf(stderr, "%s\n", gru_infer_last_error());
        return 1;
    }
    gru_infer::Stream& stream = cs->stream;
    const gru_infer::Model* model = &stream.model();
    gru_infer_stream_api table = gru_infer::make_stream_api(stream);
    // The user reads the table through a pointer from a capsule at run time: no inlining.
    gru_infer_stream_api* volatile api_ptr = &table;
    gru_infer_stream_api* api = api_ptr;
    std::vector<float> x(model->input_size(), 0.25f), y(model->output_size());

    auto capi = [&] { gru_infer_stream_step(cs, x.data(), y.data()); };
    auto via_table = [&] { api->step(api->stream, x.data(), y.data()); };
    auto cxx = [&] { stream.step(x.data(), y.data()); };

    if (argc == 4) {  // one path, for instruction counts
        const int steps = std::atoi(argv[3]);
        const std::string which = argv[2];
        if (which == "capi") for (int i = 0; i < steps; ++i) capi();
        else if (which == "table") for (int i = 0; i < steps; ++i) via_table();
        else for (int i = 0; i < steps; ++i) cxx();
        return 0;
    }
    const int calls = 2000, rounds = 301;  // short rounds, interleaved: drift hits all paths alike
    std::vector<double> t_capi, t_table, t_cxx, d_table;
    for (int r = 0; r < rounds; ++r) {
        t_capi.push_back(ns_per_call(capi, calls));
        t_table.push_back(ns_per_call(via_table, calls));
        t_cxx.push_back(ns_per_call(cxx, calls));
        d_table.push_back(t_table.back() - t_capi.back());
    }
    std::printf("%s (input %zu, output %zu): ns per step, median of %d rounds of %d\n", argv[1],
                model->input_size(), model->output_size(), rounds, calls);
    std::printf("  Stream::step (C++)          %8.1f\n", median(t_cxx));
    std::printf("  gru_infer_stream_step (C)   %8.1f\n", median(t_capi));
    std::printf("  table->step (capsule)       %8.1f\n", median(t_table));
    std::printf("  table - C API, per round    %8.1f  (median of the paired differences)\n", median(d_table));
    gru_infer_stream_free(cs);
    gru_infer_model_free(cm);
    return 0;
}
