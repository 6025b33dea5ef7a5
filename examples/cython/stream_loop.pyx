# cython: language_level=3, boundscheck=False, wraparound=False
"""A user's Cython module stepping a gru_infer.Stream with no Python in the loop: the per-step
calls go through the stream's table of C function pointers (gru_infer/stream_api.pxd)."""
from gru_infer.stream_api cimport gru_infer_stream_api, get_stream_api


def run(stream, const float[:, :, ::1] x, float[:, :, ::1] y):
    """Step `stream` over x (steps, batch, features), writing y (steps, batch, outputs)."""
    cdef gru_infer_stream_api* api = get_stream_api(stream)
    if x.shape[1] != <Py_ssize_t>api.batch or x.shape[2] != <Py_ssize_t>api.input_size:
        raise ValueError(f"x: expected (steps, {api.batch}, {api.input_size}), got {tuple(x.shape)[:3]}")
    if y.shape[0] != x.shape[0] or y.shape[1] != x.shape[1] or y.shape[2] != <Py_ssize_t>api.output_size:
        raise ValueError(f"y: expected ({x.shape[0]}, {api.batch}, {api.output_size}), got {tuple(y.shape)[:3]}")
    cdef Py_ssize_t t
    cdef int status = 0
    with nogil:
        for t in range(x.shape[0]):
            status = api.step(api.stream, &x[t, 0, 0], &y[t, 0, 0])
            if status != 0:
                break
    if status != 0:
        raise ValueError("the stream refused a float step (its model takes ids)")


def run_all(stream, const float[:, :, ::1] x, float[:, :, ::1] y):
    """The same as run, in one call to the table's run (time-major x and y, shapes as in run)."""
    cdef gru_infer_stream_api* api = get_stream_api(stream)
    if (x.shape[1] != <Py_ssize_t>api.batch or x.shape[2] != <Py_ssize_t>api.input_size
            or y.shape[0] != x.shape[0] or y.shape[1] != x.shape[1] or y.shape[2] != <Py_ssize_t>api.output_size):
        raise ValueError("x and y: expected (steps, batch, features) and (steps, batch, outputs) of this stream")
    cdef int status
    with nogil:
        status = api.run(api.stream, x.shape[0], &x[0, 0, 0], &y[0, 0, 0])
    if status != 0:
        raise ValueError("the stream refused a float step (its model takes ids)")


def get_state(stream, float[::1] out):
    """Copy the stream's state into out (state_floats values) through the table."""
    cdef gru_infer_stream_api* api = get_stream_api(stream)
    if api.get_state(api.stream, &out[0], out.shape[0]) != 0:
        raise ValueError(f"out: expected {api.state_floats} floats, got {out.shape[0]}")


def set_state(stream, const float[::1] state):
    cdef gru_infer_stream_api* api = get_stream_api(stream)
    if api.set_state(api.stream, &state[0], state.shape[0]) != 0:
        raise ValueError(f"state: expected {api.state_floats} floats, got {state.shape[0]}")


def reset(stream):
    cdef gru_infer_stream_api* api = get_stream_api(stream)
    with nogil:
        api.reset(api.stream)
