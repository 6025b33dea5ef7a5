/* The C API: load a model, predict whole sequences, stream step by step. Plain C (C99 and later),
 * usable from any language with a C FFI. Exported by both libgru_infer.a and libgru_infer.so.
 *
 * Errors: every function that can fail returns a gru_infer_status; on failure the message is
 * available from gru_infer_last_error() on the same thread. Nothing aborts, and no C++ exception
 * crosses this boundary (out of memory is GRU_INFER_ERROR_OUT_OF_MEMORY).
 *
 * Threads: a model is immutable once loaded; any number of threads may call gru_infer_predict on
 * it at once and create streams from it. A stream is used by one thread at a time.
 *
 * Memory: a stream allocates everything when it is created; gru_infer_stream_step / _step_ids /
 * _run / _run_ids / the _slots functions / _reset / _get_state / _set_state never allocate, lock
 * or block (real-time safe). predict
 * allocates its working buffers on every call.
 *
 * Layouts (all row-major, batch-first, float32):
 *   x      (batch, steps, input_size)        ids (batch, steps) for models that take ids
 *   y      (batch, steps, output_size), or (batch, output_size) if !output_has_time
 *   state  for each GRU layer in model order, a block (num_directions, batch, hidden): PyTorch's
 *          h_n layout; batch * state_size floats in all.
 */
#ifndef GRU_INFER_C_API_H
#define GRU_INFER_C_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define GRU_INFER_C_API __attribute__((visibility("default")))
#else
#define GRU_INFER_C_API
#endif

#ifdef __cplusplus
#define GRU_INFER_NOEXCEPT noexcept
extern "C" {
#else
#define GRU_INFER_NOEXCEPT
#endif

typedef struct gru_infer_model gru_infer_model;
typedef struct gru_infer_stream gru_infer_stream;

typedef enum gru_infer_status {
    GRU_INFER_OK = 0,
    GRU_INFER_ERROR_INVALID_ARGUMENT = 1, /* a null pointer, a wrong size, an id out of range, ... */
    GRU_INFER_ERROR_FORMAT = 2,           /* not a model file, corrupt, truncated, other version */
    GRU_INFER_ERROR_IO = 3,               /* a file cannot be opened, read or written (or is not a regular file) */
    GRU_INFER_ERROR_OUT_OF_MEMORY = 4,
    GRU_INFER_ERROR_INTERNAL = 5          /* anything else (a bug: please report it) */
} gru_infer_status;

/* The message of the last call that failed on this thread ("" if none has). Successful calls do
 * not clear it. Valid until the next failing call on this thread. */
GRU_INFER_C_API const char* gru_infer_last_error(void) GRU_INFER_NOEXCEPT;

/* ---- models ---------------------------------------------------------------------------------- */

/* Load a native model file (.gru). On success *out is a new model; on failure *out is NULL. A
 * path that is not a regular file (a device, FIFO or folder) gives GRU_INFER_ERROR_IO at once;
 * the header is checked before the rest of the file is read. */
GRU_INFER_C_API gru_infer_status gru_infer_model_load_file(const char* path, gru_infer_model** out)
    GRU_INFER_NOEXCEPT;
/* The same from `size` bytes in memory, e.g. a C array written by gru_infer.c_array. The weights
 * are copied: the buffer may be freed once this returns. */
GRU_INFER_C_API gru_infer_status gru_infer_model_load_memory(const void* data, size_t size,
                                                             gru_infer_model** out) GRU_INFER_NOEXCEPT;
/* The same without copying the weights: the model reads them from `data` in place (a C array from
 * gru_infer.c_array, a memory-mapped file). `data` must be 64-byte aligned and must stay valid and
 * unchanged until the model and every stream made from it are freed. Version 2 files keep GRU
 * weights in the packed layout the kernels use, so nothing is copied; a version 1 file's GRU
 * weights are packed into a copy. */
GRU_INFER_C_API gru_infer_status gru_infer_model_view_memory(const void* data, size_t size,
                                                             gru_infer_model** out) GRU_INFER_NOEXCEPT;
/* Writes the model as a native file. Atomic: the bytes go to a temporary file beside `path`,
 * flushed to disk, then renamed over it, so a failure (full disk, no permission) returns
 * GRU_INFER_ERROR_IO and leaves an existing file at `path` as it was. */
GRU_INFER_C_API gru_infer_status gru_infer_model_save(const gru_infer_model* model, const char* path)
    GRU_INFER_NOEXCEPT;
/* Frees the model (NULL is fine). Streams created from it stay valid: they keep what they need. */
GRU_INFER_C_API void gru_infer_model_free(gru_infer_model* model) GRU_INFER_NOEXCEPT;

/* Sizes (0 for a NULL model). */
GRU_INFER_C_API size_t gru_infer_model_input_size(const gru_infer_model* model) GRU_INFER_NOEXCEPT;
GRU_INFER_C_API size_t gru_infer_model_output_size(const gru_infer_model* model) GRU_INFER_NOEXCEPT;
/* Recurrent state, in floats per batch row (all GRU layers). */
GRU_INFER_C_API size_t gru_infer_model_state_size(const gru_infer_model* model) GRU_INFER_NOEXCEPT;
/* 1 if the model starts with an Embedding and takes int64 ids (use the _ids functions). */
GRU_INFER_C_API int gru_infer_model_takes_ids(const gru_infer_model* model) GRU_INFER_NOEXCEPT;
/* 1 if predict's output has a time axis (batch, steps, output_size); 0 if (batch, output_size). */
GRU_INFER_C_API int gru_infer_model_output_has_time(const gru_infer_model* model) GRU_INFER_NOEXCEPT;
/* Floats that predict writes to y for this batch and step count (0 if that does not fit in size_t). */
GRU_INFER_C_API size_t gru_infer_model_output_floats(const gru_infer_model* model, size_t batch,
                                                     size_t steps) GRU_INFER_NOEXCEPT;

/* ---- whole sequences -------------------------------------------------------------------------- */

/* Runs `batch` sequences of `steps` steps (INVALID_ARGUMENT if batch x steps needs buffers past
 * 2^47 bytes: the message names this model's bound). lengths (batch), optional: valid steps per sequence in
 * [1, steps] (PyTorch packed-sequence semantics: GRU outputs past the end are 0 and later layers
 * see those zeros; the final state is taken at the last valid step). h0 (batch * state_size), optional: initial state, else each GRU layer's default
 * (zeros unless the model has one: an ONNX constant initial_h).
 * y: output_floats(batch, steps) floats. hn (batch * state_size), optional: final state. */
GRU_INFER_C_API gru_infer_status gru_infer_predict(const gru_infer_model* model, size_t batch, size_t steps,
                                                   const float* x, const int64_t* lengths, const float* h0,
                                                   float* y, float* hn) GRU_INFER_NOEXCEPT;
/* The same for models that take ids: ids (batch, steps), each in [0, num_embeddings). */
GRU_INFER_C_API gru_infer_status gru_infer_predict_ids(const gru_infer_model* model, size_t batch,
                                                       size_t steps, const int64_t* ids,
                                                       const int64_t* lengths, const float* h0, float* y,
                                                       float* hn) GRU_INFER_NOEXCEPT;

/* ---- streams ---------------------------------------------------------------------------------- */

/* A stream of `batch` rows with its state at the model's default initial state (zeros unless the
 * model has one). Fails (INVALID_ARGUMENT) for models that read
 * the future (reverse or bidirectional GRU layers), and for a batch whose buffers would pass
 * 2^47 bytes (the message names this model's largest batch). */
GRU_INFER_C_API gru_infer_status gru_infer_stream_create(const gru_infer_model* model, size_t batch,
                                                         gru_infer_stream** out) GRU_INFER_NOEXCEPT;
GRU_INFER_C_API void gru_infer_stream_free(gru_infer_stream* stream) GRU_INFER_NOEXCEPT;

/* The same, with the largest block gru_infer_stream_run computes in one piece (0: the default,
 * 64 steps, fewer for batches over 64 so that batch * max_block <= 4096). Its buffers are
 * allocated here; a longer block runs in pieces of max_block steps, never allocating. */
GRU_INFER_C_API gru_infer_status gru_infer_stream_create_ex(const gru_infer_model* model, size_t batch,
                                                            size_t max_block, gru_infer_stream** out)
    GRU_INFER_NOEXCEPT;
/* The stream's max_block (0 for a NULL stream). */
GRU_INFER_C_API size_t gru_infer_stream_max_block(const gru_infer_stream* stream) GRU_INFER_NOEXCEPT;

/* One time step: x (batch, input_size) -> y (batch, output_size). Gives what predict on the steps
 * so far gives at its last step.
 * Denormals (x86-64): a step computes in the caller's MXCSR while its flags show that nothing on
 * this thread has met a denormal (DE and UE clear), and sets flush-to-zero + denormals-are-zero
 * for the call, restoring the caller's mode after, once one has (denormal arithmetic is slow);
 * bf16 models always do. A stream reads MXCSR on one step in 16 while it finds it clean, so a
 * denormal met is acted on within 16 steps. Longer calls (run, predict) always flush. */
GRU_INFER_C_API gru_infer_status gru_infer_stream_step(gru_infer_stream* stream, const float* x, float* y)
    GRU_INFER_NOEXCEPT;
/* The same for models that take ids: ids (batch). An id out of range fails before any state changes. */
GRU_INFER_C_API gru_infer_status gru_infer_stream_step_ids(gru_infer_stream* stream, const int64_t* ids,
                                                           float* y) GRU_INFER_NOEXCEPT;
/* A block of `steps` steps: x (batch, steps, input_size) -> y (batch, steps, output_size), every
 * step's output, what `steps` calls of gru_infer_stream_step give (state carried in and out).
 * The input projection of a block is one matrix product. */
GRU_INFER_C_API gru_infer_status gru_infer_stream_run(gru_infer_stream* stream, size_t steps, const float* x,
                                                      float* y) GRU_INFER_NOEXCEPT;
/* The same for models that take ids: ids (batch, steps). An id out of range fails before any state changes. */
GRU_INFER_C_API gru_infer_status gru_infer_stream_run_ids(gru_infer_stream* stream, size_t steps,
                                                          const int64_t* ids, float* y) GRU_INFER_NOEXCEPT;

/* Slots: one step of the batch rows slots[0..n) only (e.g. the streams of a server that have new
 * input), the other rows' state untouched; x (n, input_size) -> y (n, output_size). The weights
 * are read once for all n rows. Slots must be distinct and < batch, else INVALID_ARGUMENT and no
 * state changes. */
GRU_INFER_C_API gru_infer_status gru_infer_stream_step_slots(gru_infer_stream* stream, size_t n,
                                                             const size_t* slots, const float* x, float* y)
    GRU_INFER_NOEXCEPT;
GRU_INFER_C_API gru_infer_status gru_infer_stream_step_ids_slots(gru_infer_stream* stream, size_t n,
                                                                 const size_t* slots, const int64_t* ids,
                                                                 float* y) GRU_INFER_NOEXCEPT;
/* The state of those rows back to the default initial state (as at creation). */
GRU_INFER_C_API gru_infer_status gru_infer_stream_reset_slots(gru_infer_stream* stream, size_t n,
                                                              const size_t* slots) GRU_INFER_NOEXCEPT;
/* One row's state, state_size floats (the state layout of a batch of one). */
GRU_INFER_C_API gru_infer_status gru_infer_stream_get_slot_state(const gru_infer_stream* stream, size_t slot,
                                                                 float* state, size_t count) GRU_INFER_NOEXCEPT;
GRU_INFER_C_API gru_infer_status gru_infer_stream_set_slot_state(gru_infer_stream* stream, size_t slot,
                                                                 const float* state, size_t count)
    GRU_INFER_NOEXCEPT;

/* State back to the default initial state (as at creation). */
GRU_INFER_C_API gru_infer_status gru_infer_stream_reset(gru_infer_stream* stream) GRU_INFER_NOEXCEPT;
/* batch * state_size: the float count of get_state / set_state. */
GRU_INFER_C_API size_t gru_infer_stream_state_floats(const gru_infer_stream* stream) GRU_INFER_NOEXCEPT;
/* Copy the state out / in; `count` must equal gru_infer_stream_state_floats(stream). */
GRU_INFER_C_API gru_infer_status gru_infer_stream_get_state(const gru_infer_stream* stream, float* state,
                                                            size_t count) GRU_INFER_NOEXCEPT;
GRU_INFER_C_API gru_infer_status gru_infer_stream_set_state(gru_infer_stream* stream, const float* state,
                                                            size_t count) GRU_INFER_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* GRU_INFER_C_API_H */
