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
from cpython.pycapsule cimport (PyCapsule_Destructor, PyCapsule_GetContext, PyCapsule_GetPointer, PyCapsule_New,
                                PyCapsule_SetContext)
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
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
        void (*run)(void*, size_t, const float*, float*) noexcept nogil
        void (*step_slots)(void*, size_t, const size_t*, const float*, float*) noexcept nogil
        int (*slots_valid)(void*, size_t, const size_t*) noexcept nogil

from . import _core
from ._checks import _numeric


cdef void _release_stream(object capsule) noexcept:
    Py_XDECREF(<PyObject*>PyCapsule_GetContext(capsule))


def _rebuild_stream(model, batch, state, max_block=None, fast_activations=False):
    """Unpickle a Stream: a new stream of `model` carrying on from `state` (flat, core order)."""
    cdef Stream s = Stream(model, batch, max_block, fast_activations)
    s._core_stream.state = state
    return s


cdef inline bint _is_array(object a, int typenum):
    return (type(a) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a) and cnp.PyArray_ISALIGNED(<cnp.ndarray>a))


cdef class Stream:
    """One time step per call, state carried over: step(x_t) equals the last step of predict(x[:t+1]).

    Create with model.stream(batch, max_block=None). step(x) takes (F,) (batch 1) or (B, F)
    floats, or for a model that starts with an Embedding an id or (B,) ids; returns (O,) or (B, O).
    step(x, slots=ids) steps only the rows `ids` (x has one row per id); run(x_block) steps a
    block of T steps at once: (T, F) for batch 1 or (B, T, F), returning (T, O) or (B, T, O).
    """
    cdef object _model
    cdef object _core_stream
    cdef gru_infer_stream_handle* _h
    cdef Py_ssize_t _batch, _in, _out
    cdef bint _ids
    cdef bint _fast

    def __init__(self, model, batch=1, max_block=None, fast_activations=False):
        cdef object most = model._core.max_stream_batch  # its buffers stay under 2^47 bytes
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or not 1 <= batch <= most:
            raise ValueError(f"batch: expected an integer in [1, {most}] for this model, got {batch!r}")
        if max_block is not None and (isinstance(max_block, bool) or not isinstance(max_block, (int, np.integer))
                                      or max_block < 1):
            raise ValueError(f"max_block: expected a positive integer or None, got {max_block!r}")
        if not isinstance(fast_activations, (bool, np.bool_)):
            raise ValueError(f"fast_activations: expected True or False, got {fast_activations!r}")
        self._model = model
        self._fast = bool(fast_activations)
        self._core_stream = _core.Stream(model._core, int(batch), 0 if max_block is None else int(max_block),
                                         self._fast)
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
    def max_block(self):
        """The most steps run() computes in one piece (a longer block is run in pieces)."""
        return self._core_stream.max_block

    @property
    def model(self):
        return self._model

    @property
    def capsule(self):
        """A PyCapsule holding this stream's gru_infer_stream_api table (gru_infer/stream_api.pxd,
        gru_infer/include/gru_infer/stream_api.h): C function pointers to step, run, reset and get
        or set the state without the GIL. The capsule keeps this stream alive; the table is valid
        while the stream lives."""
        cdef void* table = PyCapsule_GetPointer(self._core_stream._api(), b"gru_infer.stream_api")
        capsule = PyCapsule_New(table, b"gru_infer.stream_api", <PyCapsule_Destructor>_release_stream)
        Py_INCREF(self)
        PyCapsule_SetContext(capsule, <void*>self)
        return capsule

    def __reduce__(self):
        # By value: the model (its native bytes, gru_infer.serialization) and the current state.
        return _rebuild_stream, (self._model, self._batch, self._core_stream.state, self.max_block, self._fast)

    @property
    def fast_activations(self):
        """Whether this stream's GRU layers use the rational sigmoid/tanh (fixed at creation)."""
        return self._fast

    def step(self, x, out=None, slots=None):
        """Advance one step. `out`, if given, is a writable C-contiguous float32 array of the
        output shape; it is written and returned. With `slots` (distinct row indices), only
        those rows advance: x is (len(slots), F) (ids: (len(slots),)), the output
        (len(slots), O); the other rows keep their state."""
        cdef cnp.ndarray xa
        cdef bint single
        if slots is not None:
            return self._step_slots(x, out, slots)
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

    def run(self, x, out=None):
        """Advance a block of T steps: x (T, F) for batch 1 or (B, T, F) floats (ids: (T,) or
        (B, T)); returns every step's output, (T, O) or (B, T, O): what T calls of step return.
        The input projection of the block is one matrix product; a block longer than max_block
        runs in pieces. `out`, if given, is a writable C-contiguous float32 array of that shape."""
        if self._ids or not _is_array(x, cnp.NPY_FLOAT32):
            arr = _numeric(x, "ids" if self._ids else "x", "iu" if self._ids else "biuf")
        else:
            arr = x
        nd = arr.ndim + (1 if self._ids else 0)  # dimensions counted as for float features
        single = nd == 2
        if self._ids:
            ok = (single and self._batch == 1) or (nd == 3 and arr.shape[0] == self._batch)
        else:
            ok = ((single and self._batch == 1 and arr.shape[1] == self._in)
                  or (nd == 3 and arr.shape[0] == self._batch and arr.shape[2] == self._in))
        if not ok:
            want = "(T,)" if self._ids else f"(T, {self._in})"
            full = f"({self._batch}, T)" if self._ids else f"({self._batch}, T, {self._in})"
            alts = f"{want} or {full}" if self._batch == 1 else full
            raise ValueError(f"{'ids' if self._ids else 'x'}: expected shape {alts}, got {arr.shape}")
        steps = arr.shape[0] if single else arr.shape[1]
        want_out = (steps, self._out) if single else (self._batch, steps, self._out)
        if out is None:
            ya = np.empty(want_out, dtype=np.float32)
        elif (_is_array(out, cnp.NPY_FLOAT32) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
              and out.shape == want_out):
            ya = out
        else:
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(f"out: expected a writable C-contiguous float32 array of shape {want_out}, got {got}")
        if steps == 0:
            return ya
        if self._ids:
            self._core_stream.run(arr, ya)  # the binding checks and runs its own copy of the ids
            return ya
        cdef cnp.ndarray xa = arr if _is_array(arr, cnp.NPY_FLOAT32) else np.ascontiguousarray(arr, dtype=np.float32)
        cdef const float* xp = <const float*>cnp.PyArray_DATA(xa)
        cdef float* yp = <float*>cnp.PyArray_DATA(<cnp.ndarray>ya)
        cdef size_t n = steps
        with nogil:
            self._h.run(self._h.stream, n, xp, yp)
        return ya

    def reset(self, slots=None):
        """State back to its start, each GRU layer's `initial_state` or zeros (with `slots`: only those rows')."""
        if slots is None:
            self._core_stream.reset()
        else:
            self._core_stream.reset_slots(self._slots(slots))

    @property
    def state(self):
        """Current state in the layout of predict's h_n: (L, B, H), or a tuple of (1, B, H) per layer."""
        return self._model._state_out(self._core_stream.state, self._batch, True)

    @state.setter
    def state(self, value):
        self._core_stream.state = self._model._state_in(value, self._batch, True, "state")

    def get_state(self, slots=None):
        """The state of all rows (as `state`), or of the rows `slots` in the layout of a batch of
        len(slots): (L, len(slots), H), or a tuple of (1, len(slots), H) per layer."""
        if slots is None:
            return self.state
        ids = self._slots(slots)
        return self._model._state_out(self._core_stream.get_slot_states(ids), len(ids), True)

    def set_state(self, value, slots=None):
        """Write the state of all rows, or of the rows `slots` (layout as get_state(slots))."""
        if slots is None:
            self.state = value
            return
        ids = self._slots(slots)
        self._core_stream.set_slot_states(ids, self._model._state_in(value, len(ids), True, "state"))

    # ---- slots ------------------------------------------------------------------------

    cdef _slots(self, slots):
        """slots as a C-contiguous uintp array of our own, checked (distinct, in range), or a
        ValueError. Always a copy: C++ trusts the checked slots while the caller's array could be
        changed by another thread (or by x.__array__) before and during the step."""
        cdef cnp.ndarray own
        if (_is_array(slots, cnp.NPY_INTP) or _is_array(slots, cnp.NPY_UINTP)) and cnp.PyArray_NDIM(<cnp.ndarray>slots) == 1:
            own = (<cnp.ndarray>slots).astype(np.uintp)  # a new array (astype copies)
            if self._h.slots_valid(self._h.stream, cnp.PyArray_DIMS(own)[0], <const size_t*>cnp.PyArray_DATA(own)):
                return own
            slots = own.view(slots.dtype)  # the messages below name what was checked
        arr = np.asarray(slots) if isinstance(slots, (list, tuple)) and len(slots) == 0 else _numeric(slots, "slots", "iu")
        if arr.ndim != 1:
            raise ValueError(f"slots: expected a 1-d array of row indices, got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= self._batch):
            bad = arr[(arr < 0) | (arr >= self._batch)][0]
            raise ValueError(f"slots: slot {int(bad)} is outside [0, {self._batch})")
        if len(np.unique(arr)) != arr.size:
            raise ValueError("slots: each slot may appear only once per call")
        return np.array(arr, dtype=np.uintp, order="C")  # a copy, even of a uintp array

    cdef _step_slots(self, x, out, slots):
        ids = self._slots(slots)
        n = len(ids)
        if self._ids:
            arr = _numeric(x, "ids", "iu")
            if arr.shape != (n,):
                raise ValueError(f"ids: expected shape ({n},) (one id per slot), got {arr.shape}")
            xa = np.ascontiguousarray(arr, dtype=np.int64)
        else:
            arr = _numeric(x, "x")
            if arr.shape != (n, self._in):
                raise ValueError(f"x: expected shape ({n}, {self._in}) (one row per slot), got {arr.shape}")
            xa = np.ascontiguousarray(arr, dtype=np.float32)
        if out is None:
            ya = np.empty((n, self._out), dtype=np.float32)
        elif (_is_array(out, cnp.NPY_FLOAT32) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
              and out.shape == (n, self._out)):
            ya = out
        else:
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(f"out: expected a writable C-contiguous float32 array of shape {(n, self._out)}, got {got}")
        if not n:
            return ya
        if self._ids:
            self._core_stream.step_slots(ids, xa, ya)
            return ya
        cdef size_t count = n
        cdef const size_t* sp = <const size_t*>cnp.PyArray_DATA(<cnp.ndarray>ids)
        cdef const float* xp = <const float*>cnp.PyArray_DATA(<cnp.ndarray>xa)
        cdef float* yp = <float*>cnp.PyArray_DATA(<cnp.ndarray>ya)
        with nogil:
            self._h.step_slots(self._h.stream, count, sp, xp, yp)
        return ya

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
        arr = _numeric(x, "x")
        single = arr.ndim == 1
        if arr.shape != (self._batch, self._in) and not (single and self._batch == 1 and arr.shape == (self._in,)):
            raise ValueError(f"x: expected shape {self._expected_input()}, got {arr.shape}")
        return np.require(arr, np.float32, "CA"), single  # C-contiguous and aligned

    cdef tuple _checked_ids(self, x):
        arr = _numeric(x, "ids", "iu")
        single = arr.ndim == 0
        if arr.shape != (self._batch,) and not (single and self._batch == 1):
            raise ValueError(f"ids: expected shape {self._expected_input()}, got {arr.shape}")
        arr = np.array(arr.reshape(self._batch), dtype=np.int64, order="C")  # our own copy: checked, then trusted
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
