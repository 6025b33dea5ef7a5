// The C API (c_api.h) over the C++ core. Every exception stops here and becomes a status plus a
// per-thread message. The stream functions check their arguments without allocating or throwing,
// so they stay real-time safe even when they fail.
#include "gru_infer/c_api.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "runtime/checked_size.h"
#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "gru_infer/model.h"
#include "gru_infer/native_file.h"
#include "gru_infer/stream.h"

struct gru_infer_model {
    std::shared_ptr<const gru_infer::Model> model;
};

struct gru_infer_stream {
    gru_infer::Stream stream;
};

namespace {

using gru_infer::Model;

// A fixed buffer, so that recording an error never allocates.
thread_local char t_last_error[512];

gru_infer_status fail(gru_infer_status status, const char* fmt, ...) noexcept {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(t_last_error, sizeof t_last_error, fmt, args);
    va_end(args);
    return status;
}

// Runs f, turning any exception into a status and message.
template <typename F>
gru_infer_status guarded(F&& f) noexcept {
    try {
        f();
        return GRU_INFER_OK;
    } catch (const gru_infer::FormatError& e) {
        return fail(GRU_INFER_ERROR_FORMAT, "%s", e.what());
    } catch (const gru_infer::InvalidArgument& e) {
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s", e.what());
    } catch (const gru_infer::FileError& e) {
        return fail(GRU_INFER_ERROR_IO, "%s", e.what());
    } catch (const std::bad_alloc&) {
        return fail(GRU_INFER_ERROR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return fail(GRU_INFER_ERROR_INTERNAL, "%s", e.what());
    } catch (...) {
        return fail(GRU_INFER_ERROR_INTERNAL, "unknown C++ exception");
    }
}

gru_infer_status null_argument(const char* function, const char* name) noexcept {
    return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", function, name);
}

// x or ids (the other is null) in, as the model takes.
gru_infer_status predict(const char* function, const gru_infer_model* model, std::size_t batch,
                         std::size_t steps, const float* x, const std::int64_t* ids,
                         const std::int64_t* lengths, const float* h0, float* y, float* hn) noexcept {
    if (!model) return null_argument(function, "model");
    if (!x && !ids) return null_argument(function, model->model->takes_ids() ? "ids" : "x");
    if (!y) return null_argument(function, "y");
    const Model& m = *model->model;
    return guarded([&] {  // Model::predict refuses a batch x steps whose buffers could not exist
        gru_infer::PredictRequest req;
        req.batch = batch;
        req.steps = steps;
        req.x = x;
        req.ids = ids;
        req.lengths = lengths;
        req.h0 = h0;
        req.y = y;
        req.hn = hn;
        m.predict(req);
    });
}

// Ids checked here rather than with Stream::check_ids, whose error path allocates a message.
gru_infer_status check_ids(const char* fn, const Model& m, const int64_t* ids, std::size_t n) noexcept {
    const auto& embedding = static_cast<const gru_infer::EmbeddingLayer&>(*m.layers()[0]);
    const std::size_t rows = embedding.num_embeddings();
    for (std::size_t i = 0; i < n; ++i)
        if (ids[i] < 0 || static_cast<std::uint64_t>(ids[i]) >= rows)
            return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: id %lld at position %zu is outside [0, %zu)", fn,
                        static_cast<long long>(ids[i]), i, rows);
    return GRU_INFER_OK;
}

// Slots distinct and < batch; the message names the first bad one. No allocation.
gru_infer_status check_slots(const char* fn, gru_infer_stream* stream, std::size_t n, const size_t* slots) noexcept {
    gru_infer::Stream& s = stream->stream;
    if (n > s.batch())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: %zu slots given, the stream has %zu", fn, n, s.batch());
    if (n && !slots) return null_argument(fn, "slots");
    if (s.slots_valid(n, slots)) return GRU_INFER_OK;
    for (std::size_t j = 0; j < n; ++j) {
        if (slots[j] >= s.batch())
            return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: slot %zu is outside [0, %zu)", fn, slots[j], s.batch());
        for (std::size_t i = 0; i < j; ++i)
            if (slots[i] == slots[j])
                return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: slot %zu is given twice", fn, slots[j]);
    }
    return fail(GRU_INFER_ERROR_INTERNAL, "%s: invalid slots", fn);
}

}  // namespace

extern "C" {

const char* gru_infer_last_error(void) noexcept { return t_last_error; }

gru_infer_status gru_infer_model_load_memory(const void* data, size_t size, gru_infer_model** out) noexcept {
    if (!out) return null_argument("gru_infer_model_load_memory", "out");
    *out = nullptr;
    if (!data) return null_argument("gru_infer_model_load_memory", "data");
    return guarded([&] {
        auto handle = std::make_unique<gru_infer_model>();
        handle->model = gru_infer::load_model_from_memory(data, size);
        *out = handle.release();
    });
}

gru_infer_status gru_infer_model_view_memory(const void* data, size_t size, gru_infer_model** out) noexcept {
    if (!out) return null_argument("gru_infer_model_view_memory", "out");
    *out = nullptr;
    if (!data) return null_argument("gru_infer_model_view_memory", "data");
    return guarded([&] {
        auto handle = std::make_unique<gru_infer_model>();
        handle->model = gru_infer::load_model_from_memory(data, size, gru_infer::LoadMode::View);
        *out = handle.release();
    });
}

gru_infer_status gru_infer_model_load_file(const char* path, gru_infer_model** out) noexcept {
    if (!out) return null_argument("gru_infer_model_load_file", "out");
    *out = nullptr;
    if (!path) return null_argument("gru_infer_model_load_file", "path");
    const gru_infer_status status = guarded([&] {
        auto handle = std::make_unique<gru_infer_model>();
        handle->model = gru_infer::load_model(path);
        *out = handle.release();
    });
    if (status == GRU_INFER_ERROR_FORMAT) {  // name the file in the message
        char message[sizeof t_last_error];
        std::snprintf(message, sizeof message, "%s", t_last_error);
        fail(status, "%s: %s", path, message);
    }
    return status;
}

gru_infer_status gru_infer_model_save(const gru_infer_model* model, const char* path) noexcept {
    if (!model) return null_argument("gru_infer_model_save", "model");
    if (!path) return null_argument("gru_infer_model_save", "path");
    return guarded([&] { gru_infer::save_model(*model->model, path); });
}

void gru_infer_model_free(gru_infer_model* model) noexcept { delete model; }

size_t gru_infer_model_input_size(const gru_infer_model* model) noexcept {
    return model ? model->model->input_size() : 0;
}
size_t gru_infer_model_output_size(const gru_infer_model* model) noexcept {
    return model ? model->model->output_size() : 0;
}
size_t gru_infer_model_state_size(const gru_infer_model* model) noexcept {
    return model ? model->model->state_size() : 0;
}
int gru_infer_model_takes_ids(const gru_infer_model* model) noexcept {
    return model && model->model->takes_ids() ? 1 : 0;
}
int gru_infer_model_output_has_time(const gru_infer_model* model) noexcept {
    return model && model->model->output_has_time() ? 1 : 0;
}
size_t gru_infer_model_output_floats(const gru_infer_model* model, size_t batch, size_t steps) noexcept {
    if (!model) return 0;
    const Model& m = *model->model;
    std::size_t rows_steps, floats;
    if (!gru_infer::mul_fits(batch, m.output_has_time() ? steps : 1, &rows_steps) ||
        !gru_infer::mul_fits(rows_steps, m.output_size(), &floats))
        return 0;
    return floats;
}

gru_infer_status gru_infer_predict(const gru_infer_model* model, size_t batch, size_t steps, const float* x,
                                   const int64_t* lengths, const float* h0, float* y, float* hn) noexcept {
    if (model && model->model->takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_predict: this model starts with an Embedding and takes ids: use gru_infer_predict_ids");
    return predict("gru_infer_predict", model, batch, steps, x, nullptr, lengths, h0, y, hn);
}

gru_infer_status gru_infer_predict_ids(const gru_infer_model* model, size_t batch, size_t steps,
                                       const int64_t* ids, const int64_t* lengths, const float* h0, float* y,
                                       float* hn) noexcept {
    if (model && !model->model->takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_predict_ids: this model takes float features: use gru_infer_predict");
    return predict("gru_infer_predict_ids", model, batch, steps, nullptr, ids, lengths, h0, y, hn);
}

gru_infer_status gru_infer_stream_create(const gru_infer_model* model, size_t batch,
                                         gru_infer_stream** out) noexcept {
    if (!out) return null_argument("gru_infer_stream_create", "out");
    *out = nullptr;
    if (!model) return null_argument("gru_infer_stream_create", "model");
    return guarded([&] { *out = new gru_infer_stream{gru_infer::Stream(model->model, batch)}; });
}

gru_infer_status gru_infer_stream_create_ex(const gru_infer_model* model, size_t batch, size_t max_block,
                                            gru_infer_stream** out) noexcept {
    if (!out) return null_argument("gru_infer_stream_create_ex", "out");
    *out = nullptr;
    if (!model) return null_argument("gru_infer_stream_create_ex", "model");
    return guarded([&] { *out = new gru_infer_stream{gru_infer::Stream(model->model, batch, max_block)}; });
}

size_t gru_infer_stream_max_block(const gru_infer_stream* stream) noexcept {
    return stream ? stream->stream.max_block() : 0;
}

void gru_infer_stream_free(gru_infer_stream* stream) noexcept { delete stream; }

gru_infer_status gru_infer_stream_step(gru_infer_stream* stream, const float* x, float* y) noexcept {
    if (!stream) return null_argument("gru_infer_stream_step", "stream");
    if (!x) return null_argument("gru_infer_stream_step", "x");
    if (!y) return null_argument("gru_infer_stream_step", "y");
    if (stream->stream.model().takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_stream_step: this model starts with an Embedding and takes ids: use "
                    "gru_infer_stream_step_ids");
    stream->stream.step(x, y);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_step_ids(gru_infer_stream* stream, const int64_t* ids, float* y) noexcept {
    if (!stream) return null_argument("gru_infer_stream_step_ids", "stream");
    if (!ids) return null_argument("gru_infer_stream_step_ids", "ids");
    if (!y) return null_argument("gru_infer_stream_step_ids", "y");
    const Model& m = stream->stream.model();
    if (!m.takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_stream_step_ids: this model takes float features: use gru_infer_stream_step");
    if (gru_infer_status st = check_ids("gru_infer_stream_step_ids", m, ids, stream->stream.batch())) return st;
    stream->stream.step_ids(ids, y);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_run(gru_infer_stream* stream, size_t steps, const float* x, float* y) noexcept {
    if (!stream) return null_argument("gru_infer_stream_run", "stream");
    if (!steps) return GRU_INFER_OK;
    if (!x) return null_argument("gru_infer_stream_run", "x");
    if (!y) return null_argument("gru_infer_stream_run", "y");
    if (stream->stream.model().takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_stream_run: this model starts with an Embedding and takes ids: use gru_infer_stream_run_ids");
    stream->stream.run(steps, x, y);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_run_ids(gru_infer_stream* stream, size_t steps, const int64_t* ids, float* y) noexcept {
    if (!stream) return null_argument("gru_infer_stream_run_ids", "stream");
    if (!steps) return GRU_INFER_OK;
    if (!ids) return null_argument("gru_infer_stream_run_ids", "ids");
    if (!y) return null_argument("gru_infer_stream_run_ids", "y");
    const Model& m = stream->stream.model();
    if (!m.takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_stream_run_ids: this model takes float features: use gru_infer_stream_run");
    if (steps > SIZE_MAX / stream->stream.batch())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "gru_infer_stream_run_ids: steps=%zu is too large", steps);
    if (gru_infer_status st = check_ids("gru_infer_stream_run_ids", m, ids, stream->stream.batch() * steps)) return st;
    stream->stream.run_ids(steps, ids, y);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_step_slots(gru_infer_stream* stream, size_t n, const size_t* slots, const float* x,
                                             float* y) noexcept {
    const char* fn = "gru_infer_stream_step_slots";
    if (!stream) return null_argument(fn, "stream");
    if (gru_infer_status st = check_slots(fn, stream, n, slots)) return st;
    if (!n) return GRU_INFER_OK;
    if (!x) return null_argument(fn, "x");
    if (!y) return null_argument(fn, "y");
    if (stream->stream.model().takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "%s: this model starts with an Embedding and takes ids: use gru_infer_stream_step_ids_slots", fn);
    stream->stream.step_slots(n, slots, x, y);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_step_ids_slots(gru_infer_stream* stream, size_t n, const size_t* slots,
                                                 const int64_t* ids, float* y) noexcept {
    const char* fn = "gru_infer_stream_step_ids_slots";
    if (!stream) return null_argument(fn, "stream");
    if (gru_infer_status st = check_slots(fn, stream, n, slots)) return st;
    if (!n) return GRU_INFER_OK;
    if (!ids) return null_argument(fn, "ids");
    if (!y) return null_argument(fn, "y");
    const Model& m = stream->stream.model();
    if (!m.takes_ids())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: this model takes float features: use gru_infer_stream_step_slots", fn);
    if (gru_infer_status st = check_ids(fn, m, ids, n)) return st;
    stream->stream.step_ids_slots(n, slots, ids, y);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_reset_slots(gru_infer_stream* stream, size_t n, const size_t* slots) noexcept {
    const char* fn = "gru_infer_stream_reset_slots";
    if (!stream) return null_argument(fn, "stream");
    if (gru_infer_status st = check_slots(fn, stream, n, slots)) return st;
    stream->stream.reset_slots(n, slots);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_get_slot_state(const gru_infer_stream* stream, size_t slot, float* state,
                                                 size_t count) noexcept {
    const char* fn = "gru_infer_stream_get_slot_state";
    if (!stream) return null_argument(fn, "stream");
    const std::size_t n = stream->stream.model().state_size();
    if (slot >= stream->stream.batch())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: slot %zu is outside [0, %zu)", fn, slot, stream->stream.batch());
    if (count != n) return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: a slot's state has %zu floats, count is %zu", fn, n, count);
    if (n && !state) return null_argument(fn, "state");
    stream->stream.get_slot_state(slot, state);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_set_slot_state(gru_infer_stream* stream, size_t slot, const float* state,
                                                 size_t count) noexcept {
    const char* fn = "gru_infer_stream_set_slot_state";
    if (!stream) return null_argument(fn, "stream");
    const std::size_t n = stream->stream.model().state_size();
    if (slot >= stream->stream.batch())
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: slot %zu is outside [0, %zu)", fn, slot, stream->stream.batch());
    if (count != n) return fail(GRU_INFER_ERROR_INVALID_ARGUMENT, "%s: a slot's state has %zu floats, count is %zu", fn, n, count);
    if (n && !state) return null_argument(fn, "state");
    stream->stream.set_slot_state(slot, state);
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_reset(gru_infer_stream* stream) noexcept {
    if (!stream) return null_argument("gru_infer_stream_reset", "stream");
    stream->stream.reset();
    return GRU_INFER_OK;
}

size_t gru_infer_stream_state_floats(const gru_infer_stream* stream) noexcept {
    return stream ? stream->stream.state_floats() : 0;
}

gru_infer_status gru_infer_stream_get_state(const gru_infer_stream* stream, float* state, size_t count) noexcept {
    if (!stream) return null_argument("gru_infer_stream_get_state", "stream");
    const std::size_t n = stream->stream.state_floats();
    if (count != n)
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_stream_get_state: the state has %zu floats, count is %zu", n, count);
    if (n && !state) return null_argument("gru_infer_stream_get_state", "state");
    if (n) std::memcpy(state, stream->stream.state(), n * sizeof(float));
    return GRU_INFER_OK;
}

gru_infer_status gru_infer_stream_set_state(gru_infer_stream* stream, const float* state, size_t count) noexcept {
    if (!stream) return null_argument("gru_infer_stream_set_state", "stream");
    const std::size_t n = stream->stream.state_floats();
    if (count != n)
        return fail(GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "gru_infer_stream_set_state: the state has %zu floats, count is %zu", n, count);
    if (n && !state) return null_argument("gru_infer_stream_set_state", "state");
    if (n) std::memcpy(stream->stream.state(), state, n * sizeof(float));
    return GRU_INFER_OK;
}

}  // extern "C"
