/* The handle through which the Cython fast path (src/_stream.pyx) steps a stream that the
 * pybind11 module owns. Plain C, so both sides agree on it without sharing a C++ ABI. */
#ifndef GRU_INFER_STREAM_HANDLE_H
#define GRU_INFER_STREAM_HANDLE_H
#include <stddef.h>
#include <stdint.h>

#define GRU_INFER_STREAM_CAPSULE "gru_infer._core.stream_handle"

typedef struct gru_infer_stream_handle {
    void* stream;                                           /* gru_infer::Stream* */
    void (*step)(void* stream, const float* x, float* y);  /* x (batch, input), y (batch, output) */
    void (*step_ids)(void* stream, const int64_t* ids, float* y);
    int (*ids_valid)(void* stream, const int64_t* ids);     /* 1 if every id is in range */
    size_t batch, input_size, output_size;
    int takes_ids;
    /* x (batch, steps, input), y (batch, steps, output): a block (float models) */
    void (*run)(void* stream, size_t steps, const float* x, float* y);
    /* x (n, input), y (n, output): one step of rows slots[0..n), which slots_valid accepted */
    void (*step_slots)(void* stream, size_t n, const size_t* slots, const float* x, float* y);
    int (*slots_valid)(void* stream, size_t n, const size_t* slots); /* 1 if distinct and < batch */
} gru_infer_stream_handle;

#endif
