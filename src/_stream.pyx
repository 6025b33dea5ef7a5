# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""gru_infer.Stream: the per-step path from Python, in Cython.

A streaming step of a small GRU takes about 0.1-1 us in C++, so the Python call around it must
cost less than that. This class checks a float32 C-contiguous array of the right shape with a few
NumPy C-API calls and steps the C++ stream through a plain C handle (src/stream_handle.h) with
the GIL released; anything else goes through the slower checked conversion that names the
expected and the given shape.
"""
import numpy as np

cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t

cnp.import_array()

cdef extern from "stream_handle.h":
    const char* GRU_INFER_STREAM_CAPSULE
    ctypedef struct gru_infer_stream_handle:
        void* stream
        void (*step)(void*, const float*, float*) noexcept nogil
        void (*step_ids)(void*, const int64_t*, float*) noexcept nogil
        int (*ids_valid)(void*, const int64_t*) noexcept nogil
        size_t batch
        size_t input_size
        size_t output_size
        int takes_ids

from . import _core


cdef inline bint _is_array(object a, int typenum):
    return (type(a) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a) and cnp.PyArray_ISALIGNED(<cnp.ndarray>a))


cdef class Stream:
    """One time step per call, state carried over: step(x_t) equals the last step of predict(x[:t+1]).

    Create with model.stream(batch). step(x) takes (F,) (batch 1) or (B, F) floats, or for a
    model that starts with an Embedding an id or (B,) ids; returns (O,) or (B, O).
    """
    cdef object _model
    cdef object _core_stream
    cdef gru_infer_stream_handle* _h
    cdef Py_ssize_t _batch, _in, _out
    cdef bint _ids
    cdef bint _fast

    def __init__(self, model, batch=1, fast_activations=False):
        cdef object most = model._core.max_stream_batch  # its buffers stay under 2^47 bytes
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or not 1 <= batch <= most:
            raise ValueError(f"batch: expected an integer in [1, {most}] for this model, got {batch!r}")
        self._model = model
        if not isinstance(fast_activations, (bool, np.bool_)):
            raise ValueError(f"fast_activations: expected True or False, got {fast_activations!r}")
        self._fast = bool(fast_activations)
        self._core_stream = _core.Stream(model._core, int(batch), self._fast)
        self._h = <gru_infer_stream_handle*>PyCapsule_GetPointer(
            self._core_stream._handle(), GRU_INFER_STREAM_CAPSULE)
        self._batch = self._h.batch
        self._in = self._h.input_size
        self._out = self._h.output_size
        self._ids = self._h.takes_ids != 0

    @property
    def batch(self):
        return self._batch

    @property
    def fast_activations(self):
        """Whether this stream's GRU layers use the rational sigmoid/tanh (fixed at creation)."""
        return self._fast

    def step(self, x, out=None):
        """Advance one step. `out`, if given, is a writable C-contiguous float32 array of the
        output shape; it is written and returned."""
        cdef cnp.ndarray xa
        cdef bint single
        if self._ids:
            xa, single = self._checked_ids(x)
        elif _is_array(x, cnp.NPY_FLOAT32) and self._shape_ok(<cnp.ndarray>x, self._in):
            xa = <cnp.ndarray>x
            single = cnp.PyArray_NDIM(xa) == 1
        else:
            xa, single = self._converted(x)
        cdef cnp.ndarray ya = self._output(out, single)
        cdef const float* xp = <const float*>cnp.PyArray_DATA(xa)
        cdef const int64_t* ip = <const int64_t*>cnp.PyArray_DATA(xa)
        cdef float* yp = <float*>cnp.PyArray_DATA(ya)
        if self._ids:
            with nogil:
                self._h.step_ids(self._h.stream, ip, yp)
        else:
            with nogil:
                self._h.step(self._h.stream, xp, yp)
        return ya

    def reset(self):
        """State back to zeros."""
        self._core_stream.reset()

    @property
    def state(self):
        """Current state in the layout of predict's h_n: (L, B, H), or a tuple of (1, B, H) per layer."""
        return self._model._state_out(self._core_stream.state, self._batch, True)

    @state.setter
    def state(self, value):
        self._core_stream.state = self._model._state_in(value, self._batch, True, "state")

    # ---- checks -----------------------------------------------------------------------

    cdef inline bint _shape_ok(self, cnp.ndarray a, Py_ssize_t features):
        cdef int nd = cnp.PyArray_NDIM(a)
        cdef cnp.npy_intp* d = cnp.PyArray_DIMS(a)
        if nd == 1:
            return self._batch == 1 and d[0] == features
        return nd == 2 and d[0] == self._batch and d[1] == features

    cdef _expected_input(self):
        cdef tuple shape = (int(self._batch),) if self._ids else (int(self._batch), int(self._in))
        return f"{shape}" + (f" or {shape[1:]}" if self._batch == 1 else "")

    cdef tuple _converted(self, x):
        from .model import _numeric
        arr = _numeric(x, "x")
        single = arr.ndim == 1
        if arr.shape != (self._batch, self._in) and not (single and self._batch == 1 and arr.shape == (self._in,)):
            raise ValueError(f"x: expected shape {self._expected_input()}, got {arr.shape}")
        return np.require(arr, np.float32, "CA"), single  # C-contiguous and aligned

    cdef tuple _checked_ids(self, x):
        from .model import _numeric
        arr = _numeric(x, "ids", "iu")
        single = arr.ndim == 0
        if arr.shape != (self._batch,) and not (single and self._batch == 1):
            raise ValueError(f"ids: expected shape {self._expected_input()}, got {arr.shape}")
        arr = np.require(arr.reshape(self._batch), np.int64, "CA")
        if not self._h.ids_valid(self._h.stream, <const int64_t*>cnp.PyArray_DATA(arr)):
            self._core_stream.step(arr)  # raises the ValueError that names the bad id
        return arr, single

    cdef cnp.ndarray _output(self, out, bint single):
        cdef cnp.npy_intp dims[2]
        if out is None:
            dims[0] = self._out if single else self._batch
            dims[1] = self._out
            return cnp.PyArray_EMPTY(1 if single else 2, dims, cnp.NPY_FLOAT32, 0)
        if _is_array(out, cnp.NPY_FLOAT32) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out) and (
                (single and cnp.PyArray_NDIM(<cnp.ndarray>out) == 1 and cnp.PyArray_DIMS(<cnp.ndarray>out)[0] == self._out)
                or (not single and self._shape_ok(<cnp.ndarray>out, self._out) and cnp.PyArray_NDIM(<cnp.ndarray>out) == 2)):
            return <cnp.ndarray>out
        cdef tuple want = (int(self._out),) if single else (int(self._batch), int(self._out))
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out: expected a writable, aligned, C-contiguous float32 array of shape {want}, got {got}")
