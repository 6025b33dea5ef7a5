# cython: language_level=3
"""Step a gru_infer.Stream from Cython with no Python in the loop.

    from gru_infer.stream_api cimport gru_infer_stream_api, get_stream_api

    cdef gru_infer_stream_api* api = get_stream_api(stream)   # stream = model.stream(batch)
    with nogil:
        for t in range(T):
            api.step(api.stream, &x[t, 0], &y[t, 0])

Compile with include_dirs=[gru_infer.get_include()]. The table is valid while `stream` lives.
See gru_infer/include/gru_infer/stream_api.h for what each function does and returns.
"""
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t, uint32_t

cdef extern from "gru_infer/stream_api.h" nogil:
    const char* GRU_INFER_STREAM_API_CAPSULE
    const uint32_t GRU_INFER_STREAM_API_VERSION

    ctypedef struct gru_infer_stream_api:
        uint32_t version
        uint32_t size
        void* stream
        size_t batch
        size_t input_size
        size_t output_size
        size_t state_floats
        int takes_ids
        int (*step)(void* stream, const float* x, float* y) noexcept nogil
        int (*step_ids)(void* stream, const int64_t* ids, float* y) noexcept nogil
        int (*run)(void* stream, size_t steps, const float* x, float* y) noexcept nogil
        void (*reset)(void* stream) noexcept nogil
        int (*get_state)(const void* stream, float* state, size_t count) noexcept nogil
        int (*set_state)(void* stream, const float* state, size_t count) noexcept nogil


cdef inline gru_infer_stream_api* get_stream_api(object stream) except NULL:
    """The table of a gru_infer.Stream; raises if its gru_infer is older than this header."""
    cdef gru_infer_stream_api* api = <gru_infer_stream_api*>PyCapsule_GetPointer(
        stream.capsule, GRU_INFER_STREAM_API_CAPSULE)
    if api.version < GRU_INFER_STREAM_API_VERSION:
        raise ValueError(f"gru_infer stream table: this module was compiled for version "
                         f"{GRU_INFER_STREAM_API_VERSION}, the installed gru_infer has {api.version}")
    return api
