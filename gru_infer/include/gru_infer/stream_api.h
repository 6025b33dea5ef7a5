/* The table through which C and Cython code outside gru_infer steps a gru_infer.Stream with no
 * Python in the loop, the way numpy.random exposes bitgen_t. Shipped with the Python package:
 * include it with the directory gru_infer.get_include() returns; from Cython, cimport
 * gru_infer.stream_api (gru_infer/stream_api.pxd).
 *
 * Get it from a stream: stream.capsule is a PyCapsule named GRU_INFER_STREAM_API_CAPSULE whose
 * pointer is a gru_infer_stream_api*. The table and its stream stay valid while the Python Stream
 * object or the capsule lives (the capsule holds a reference to the stream). One thread at a time
 * may use a stream; every function is
 * safe to call without the GIL and never allocates, locks or throws.
 *
 * Versions: fields are only ever appended. A table is usable by code compiled against version V
 * if table->version >= V (and so table->size >= the size V's header gives). An incompatible
 * change would rename the capsule.
 */
#ifndef GRU_INFER_STREAM_API_H
#define GRU_INFER_STREAM_API_H
#include <stddef.h>
#include <stdint.h>

#define GRU_INFER_STREAM_API_CAPSULE "gru_infer.stream_api"
#define GRU_INFER_STREAM_API_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gru_infer_stream_api {
    uint32_t version; /* GRU_INFER_STREAM_API_VERSION of the gru_infer that built the table */
    uint32_t size;    /* sizeof(gru_infer_stream_api) in that version */
    void* stream;     /* pass as the first argument of every function below */
    size_t batch, input_size, output_size;
    size_t state_floats; /* batch * state per row: the count get_state / set_state take */
    int takes_ids;       /* 1: the model starts with an Embedding; use step_ids */

    /* One step: x (batch, input_size) -> y (batch, output_size), what Stream.step gives.
     * Returns 0, or -1 (y set to NaN, state unchanged) if the model takes ids. */
    int (*step)(void* stream, const float* x, float* y);
    /* The same for an id model: ids (batch). Returns 0, or -1 if the model takes floats or an id
     * is out of range (y untouched, state unchanged). */
    int (*step_ids)(void* stream, const int64_t* ids, float* y);
    /* `steps` steps in a row: x (steps, batch, input_size) -> y (steps, batch, output_size).
     * Returns 0, or -1 as step does (before the first step). */
    int (*run)(void* stream, size_t steps, const float* x, float* y);
    void (*reset)(void* stream); /* state to its start: the model's initial state, else zeros */
    /* Copy the state out / in, in the layout of Stream.state (C API docs: per GRU layer a block
     * (num_directions, batch, hidden)). Return 0, or -1 if count != state_floats. */
    int (*get_state)(const void* stream, float* state, size_t count);
    int (*set_state)(void* stream, const float* state, size_t count);
} gru_infer_stream_api;

#ifdef __cplusplus
}
#endif

#endif /* GRU_INFER_STREAM_API_H */
