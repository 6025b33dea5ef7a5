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
} gru_infer_stream_handle;

#endif
