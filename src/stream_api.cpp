// The functions behind gru_infer_stream_api: thin noexcept wrappers over gru_infer::Stream, so a
// call through the table costs one indirect call more than Stream::step itself.
#include "stream_api_table.h"

#include <cstring>
#include <limits>

#include "gru_infer/embedding_layer.h"

namespace gru_infer {
namespace {

Stream& of(void* s) { return *static_cast<Stream*>(s); }
const Stream& of(const void* s) { return *static_cast<const Stream*>(s); }

void fill_nan(Stream& s, float* y) {
    const std::size_t n = s.batch() * s.model().output_size();
    for (std::size_t i = 0; i < n; ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
}

int step(void* s, const float* x, float* y) {
    of(s).step(x, y);
    return 0;
}

// Chosen at table creation for an id model: a float step is an error, never a plausible answer.
int step_refused(void* s, const float*, float* y) {
    fill_nan(of(s), y);
    return -1;
}

bool ids_valid(const Stream& s, const std::int64_t* ids) {
    const auto& emb = static_cast<const EmbeddingLayer&>(*s.model().layers()[0]);
    for (std::size_t b = 0; b < s.batch(); ++b)
        if (ids[b] < 0 || static_cast<std::size_t>(ids[b]) >= emb.num_embeddings()) return false;
    return true;
}

int step_ids(void* s, const std::int64_t* ids, float* y) {
    if (!ids_valid(of(s), ids)) return -1;
    of(s).step_ids(ids, y);
    return 0;
}

int step_ids_refused(void*, const std::int64_t*, float*) { return -1; }

int run(void* s, std::size_t steps, const float* x, float* y) {
    Stream& st = of(s);
    const std::size_t in = st.batch() * st.model().input_size(), out = st.batch() * st.model().output_size();
    for (std::size_t t = 0; t < steps; ++t) st.step(x + t * in, y + t * out);
    return 0;
}

int run_refused(void* s, std::size_t steps, const float*, float* y) {
    const std::size_t out = of(s).batch() * of(s).model().output_size();
    for (std::size_t t = 0; t < steps; ++t) fill_nan(of(s), y + t * out);
    return -1;
}

void reset(void* s) { of(s).reset(); }

int get_state(const void* s, float* state, std::size_t count) {
    const Stream& st = of(s);
    if (count != st.state_floats()) return -1;
    if (count) std::memcpy(state, st.state(), count * sizeof(float));
    return 0;
}

int set_state(void* s, const float* state, std::size_t count) {
    Stream& st = of(s);
    if (count != st.state_floats()) return -1;
    if (count) std::memcpy(st.state(), state, count * sizeof(float));
    return 0;
}

}  // namespace

gru_infer_stream_api make_stream_api(Stream& s) {
    const Model& m = s.model();
    const bool ids = m.takes_ids();
    gru_infer_stream_api api{};
    api.version = GRU_INFER_STREAM_API_VERSION;
    api.size = sizeof(gru_infer_stream_api);
    api.stream = &s;
    api.batch = s.batch();
    api.input_size = m.input_size();
    api.output_size = m.output_size();
    api.state_floats = s.state_floats();
    api.takes_ids = ids ? 1 : 0;
    api.step = ids ? step_refused : step;
    api.step_ids = ids ? step_ids : step_ids_refused;
    api.run = ids ? run_refused : run;
    api.reset = reset;
    api.get_state = get_state;
    api.set_state = set_state;
    return api;
}

}  // namespace gru_infer
