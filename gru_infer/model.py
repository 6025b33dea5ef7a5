"""The user-facing Model and Stream: NumPy in, NumPy out, batch-first everywhere.

All computation is in the C++ core (gru_infer._core); this module checks and converts inputs so
that a wrong shape or dtype raises a ValueError naming what was expected and what was given.
A Model by value (its native file bytes, pickling) is here too, at the end: unpickling builds a
Model, so the function a pickle names lives beside the class (gru_infer/serialization.py).
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Dict, List, Literal, Optional, Sequence, SupportsIndex, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import _core, quantization
from . import layers as L
from ._checks import _c_array, _flag, _numeric
from ._stream import Stream
from .output_reshape import reshape_output

Array = npt.NDArray[np.float32]
State = Union[Array, Tuple[Array, ...]]  # h_n / Stream.state: one array, or one per GRU layer
StateLike = Union[npt.ArrayLike, Sequence[npt.ArrayLike]]  # what h0 / Stream.state = accept


class Model:
    """A loaded model. Build one with gru_infer.load, gru_infer.from_torch or Model.from_layers."""

    def __init__(self, core: _core.Model):
        self._core = core
        self.info: Dict[str, Any] = {"source": core.source}  # set by importers: format, assumptions, ...
        desc = core.describe(with_weights=False)
        # Recurrent state blocks in core order: (num_directions, hidden) per GRU layer.
        self._state_blocks = [(2 if d["direction"] == "bidirectional" else 1, d["hidden_size"])
                              for d in desc if d["kind"] == "GRU"]
        self._num_parameters = sum(d["parameters"] for d in desc)
        self._fast = False  # the default of predict's and stream's fast_activations (with_options)

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_layers(cls, layers: Sequence[object], source: str = "") -> Model:
        """Build a model from layer specs (gru_infer.layers); weights are copied."""
        specs = L.validated_layers(layers)
        if not specs:
            raise ValueError("a model needs at least one layer, got none")
        core = _core.Model()
        core.source = source
        features = None
        for i, s in enumerate(specs):
            if isinstance(s, L.GRU):
                g, c = s.gate_activation, s.candidate_activation
                core.add_gru(s.input_size, s.hidden_size, s.direction, s.linear_before_reset, s.has_bias,
                             g.kind, g.alpha, g.beta, c.kind, c.alpha, c.beta, s.clip, s.merge_mode,
                             s.return_sequences, s.reverse_output_in_processing_order,
                             [(d.W, d.R, d.bW, d.bR) for d in s.directions], s.initial_state)
            elif isinstance(s, L.Dense):
                core.add_dense(s.weight, s.bias)
            elif isinstance(s, L.Embedding):
                core.add_embedding(s.table)
            elif isinstance(s, L.Affine):
                core.add_affine(s.scale, s.shift)
            elif features is None:
                raise ValueError(f"layer {i} ({type(s).__name__}) cannot be first: its size is unknown")
            elif isinstance(s, L.ActivationLayer):
                a = s.activation
                core.add_activation(features, a.kind, a.alpha, a.beta)
            elif isinstance(s, L.LastStep):
                core.add_last_step(features)
            elif isinstance(s, L.InputSkip):
                core.add_input_skip(features, s.start)
            features = core.output_size
        return cls(core)

    # ---- properties ---------------------------------------------------------------------

    @property
    def input_size(self) -> int:
        """Features per time step (for a model starting with an Embedding: 1 id per step)."""
        return self._core.input_size

    @property
    def output_size(self) -> int:
        return self._core.output_size

    @property
    def takes_ids(self) -> bool:
        return self._core.takes_ids

    @property
    def source(self) -> str:
        return self._core.source

    @property
    def fast_activations(self) -> bool:
        """Whether predict and stream use the opt-in rational sigmoid/tanh in GRU layers (max abs
        error 1e-4 per activation instead of 2e-7) unless told otherwise. Off by default; not saved.
        Read-only, so that a model shared between threads never changes under a running call: use
        `with_options(fast_activations=True)` (a model sharing these weights) or pass
        `fast_activations=` to predict / stream."""
        return self._fast

    @fast_activations.setter
    def fast_activations(self, on) -> None:
        raise AttributeError("Model.fast_activations is read-only (a model shared between threads must not change "
                             "while in use): use model.with_options(fast_activations=...), which shares the "
                             "weights, or predict(..., fast_activations=...) / stream(..., fast_activations=...)")

    def with_options(self, *, fast_activations: bool) -> Model:
        """A model with other run-time defaults that shares this one's weights (nothing is copied)."""
        other = object.__new__(Model)  # not copy.copy: that would pickle the weights by value
        other.__dict__.update(self.__dict__)
        other.info = dict(self.info)
        other._fast = _flag(fast_activations, "fast_activations")
        return other

    @property
    def weight_format(self) -> str:
        """How the weights are stored: "fp32", "fp16", "bf16", "int8", or "mixed" when layers differ
        (e.g. quantize(..., keep_fp32=[0])). Models without weight layers are "fp32"."""
        formats = {d["weight_format"] for d in self._core.describe(with_weights=False) if "weight_format" in d}
        return formats.pop() if len(formats) == 1 else ("fp32" if not formats else "mixed")

    def quantize(self, kind: str, calibration=None, keep_fp32: Sequence[int] = (),
                 input_scale: str = "auto") -> Model:
        """A new model with its GRU and Dense weights in reduced precision; this one is unchanged.

        kind: "fp16", "bf16" or "int8" (docs/quantization.md says which to choose). calibration:
        optional input like predict's x (or ids): int8 takes each layer's input scale from it
        (input_scale="auto" or "calibrated"; "dynamic" keeps the per-step scale), and the error is
        measured on it. keep_fp32: layer indices to leave in fp32 (negative ones count from the end).
        The result's info["quantization"] holds the kind, what was quantized and the error against
        this model (max and mean abs, per output) on the calibration data, or on the synthetic input
        N(0, 1) of shape (4, 1000, input_size), seed 0, when none is given.
        """
        return quantization.quantize(self, kind, calibration, keep_fp32, input_scale)

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def layers(self) -> List[object]:
        """The layers as specs (gru_infer.layers), with copies of their weights."""
        return [_spec_from_description(d) for d in self._core.describe()]

    def __repr__(self) -> str:
        kinds = ", ".join(d["kind"] for d in self._core.describe(with_weights=False))
        return (f"gru_infer.Model([{kinds}], input_size={self.input_size}, output_size={self.output_size}, "
                f"parameters={self.num_parameters})")

    # ---- running ------------------------------------------------------------------------

    @overload
    def predict(self, x: npt.ArrayLike, h0: Optional[StateLike] = None, lengths: Optional[npt.ArrayLike] = None,
                return_state: Literal[False] = False, fast_activations: Optional[bool] = None) -> Array: ...

    @overload
    def predict(self, x: npt.ArrayLike, h0: Optional[StateLike] = None, lengths: Optional[npt.ArrayLike] = None,
                *, return_state: Literal[True], fast_activations: Optional[bool] = None) -> Tuple[Array, State]: ...

    @overload
    def predict(self, x: npt.ArrayLike, h0: Optional[StateLike], lengths: Optional[npt.ArrayLike],
                return_state: bool, fast_activations: Optional[bool] = None) -> Union[Array, Tuple[Array, State]]: ...

    def predict(self, x: npt.ArrayLike, h0: Optional[StateLike] = None, lengths: Optional[npt.ArrayLike] = None,
                return_state: bool = False, fast_activations: Optional[bool] = None
                ) -> Union[Array, Tuple[Array, State]]:
        """Run whole sequences.

        x: (B, T, F) floats, or (T, F) for one sequence; for a model starting with an Embedding,
        integer ids (B, T) or (T,). h0: initial state in PyTorch's (num_layers*num_directions, B, H)
        layout ((L*D, H) for one sequence); a tuple of per-layer (D, B, H) arrays when the GRU
        layers differ in size; it sets every layer's state. None: each GRU layer's `initial_state`
        (zeros unless it has one). lengths: (B,) valid steps per sequence (PyTorch packed-sequence
        semantics: outputs past the end are zero, the final state is taken at the last valid step).

        fast_activations: rational sigmoid/tanh for this call (default: the model's, see
        with_options).

        Returns the output as float32 ((B, T, O), or (B, O) if the model ends on the last step; a
        model whose framework reshapes its output, as a traced `.squeeze(-1)`, returns the framework's
        shape: info["predict_reshape"]), and with return_state=True also the final state in the
        layout of h0.
        """
        fast = self._fast if fast_activations is None else _flag(fast_activations, "fast_activations")
        x, batched = self._sequence_input(x)
        B, T = x.shape[0], x.shape[1]
        if lengths is not None:
            lengths = self._lengths(lengths, B, T, batched)
        h0_flat = None if h0 is None else self._state_in(h0, B, batched, "h0")
        want_state = _flag(return_state, "return_state")
        y, hn = self._core.predict(x, lengths, h0_flat, want_state, fast)
        y = reshape_output(y, self.info.get("predict_reshape"), batched)
        if not want_state:
            return y
        return y, self._state_out(hn, B, batched)

    def stream(self, batch: int = 1, max_block: Optional[int] = None,
               fast_activations: Optional[bool] = None) -> Stream:
        """A stateful stream (gru_infer.Stream): one time step per `step` call, a block of steps
        per `run` call, or one step of some rows with `step(x, slots=ids)`. max_block: the most
        steps `run` computes in one piece (default 64, fewer for batches over 64); its buffers
        are allocated now, so no call allocates later. fast_activations: for every step of this
        stream (default: the model's, see with_options)."""
        fast = self._fast if fast_activations is None else _flag(fast_activations, "fast_activations")
        return Stream(self, batch, max_block, fast)

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Write the native file (docs/native_format.md), readable by gru_infer.load and the C++ library."""
        self._core.save(os.fspath(path))

    def to_bytes(self) -> bytes:
        """The native file's bytes (what save writes): gru_infer.load(b) reads them back."""
        return self._core.serialize()

    def __reduce_ex__(self, protocol: SupportsIndex) -> Tuple[Any, ...]:
        # Pickled by value, as its native bytes (reduce_model, below; gru_infer/serialization.py).
        return reduce_model(self, int(protocol))

    # ---- input checking -----------------------------------------------------------------

    def _sequence_input(self, x) -> Tuple[np.ndarray, bool]:
        if self.takes_ids:
            arr = _numeric(x, "ids", "iu")
            if arr.ndim not in (1, 2):
                raise ValueError(f"ids: expected shape (batch, steps) or (steps,), got {arr.shape}")
            batched = arr.ndim == 2
            self._check_batch_steps(arr if batched else arr[None])
            arr = _c_array(arr if batched else arr[None], np.int64)
        else:
            arr = _numeric(x, "x")
            F = self.input_size
            if arr.ndim not in (2, 3) or arr.shape[-1] != F:
                raise ValueError(f"x: expected shape (batch, steps, {F}) or (steps, {F}), got {arr.shape}")
            batched = arr.ndim == 3
            self._check_batch_steps(arr if batched else arr[None])
            arr = _c_array(arr if batched else arr[None], np.float32)
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            given = arr.shape if batched else arr.shape[1:]
            raise ValueError(f"input: expected at least one sequence of at least one step, got shape {given}")
        return arr, batched

    def _check_batch_steps(self, arr: np.ndarray) -> None:
        """Before copying the input (a broadcast view may be far larger than its memory)."""
        most = self._core.max_batch_steps  # the core's buffers stay under 2^47 bytes
        if arr.shape[0] * arr.shape[1] > most:
            raise ValueError(f"input: expected batch x steps of at most {most} for this model, "
                             f"got {arr.shape[0]} x {arr.shape[1]}")

    @staticmethod
    def _lengths(lengths, B: int, T: int, batched: bool) -> np.ndarray:
        arr = _numeric(lengths, "lengths", "iu")
        if arr.ndim == 0 and not batched:
            arr = arr.reshape(1)
        if arr.shape != (B,):
            raise ValueError(f"lengths: expected shape ({B},), got {arr.shape}")
        if arr.min() < 1 or arr.max() > T:
            raise ValueError(f"lengths: expected values in [1, {T}], got min {arr.min()} and max {arr.max()}")
        return _c_array(arr, np.int64)

    def _uniform_state(self) -> bool:
        return len(set(self._state_blocks)) <= 1

    def state_shape(self, batch: int) -> Union[Tuple[int, ...], List[Tuple[int, ...]]]:
        """Shape of h0 / h_n for a batch: (L*D, B, H), or a list of (D, B, H) per GRU layer."""
        if self._uniform_state():
            if not self._state_blocks:
                return (0, batch, 0)
            d, h = self._state_blocks[0]
            return (d * len(self._state_blocks), batch, h)
        return [(d, batch, h) for d, h in self._state_blocks]

    def _state_in(self, state: StateLike, B: int, batched: bool, name: str) -> np.ndarray:
        shape = self.state_shape(B)
        if isinstance(shape, tuple):
            arr = _numeric(state, name)
            want = shape if batched else (shape[0], shape[2])
            if arr.shape != want:
                raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")
            return _c_array(arr, np.float32).reshape(-1)
        if not isinstance(state, (list, tuple)) or len(state) != len(shape):
            raise ValueError(f"{name}: expected a sequence of {len(shape)} arrays of shapes {shape}")
        parts = []
        for i, (s, want) in enumerate(zip(state, shape)):
            arr = _numeric(s, f"{name}[{i}]")
            want = want if batched else (want[0], want[2])
            if arr.shape != want:
                raise ValueError(f"{name}[{i}]: expected shape {want}, got {arr.shape}")
            parts.append(np.asarray(arr, dtype=np.float32).reshape(-1))
        return _c_array(np.concatenate(parts), np.float32)

    def _state_out(self, flat: np.ndarray, B: int, batched: bool) -> State:
        shape = self.state_shape(B)
        if isinstance(shape, tuple):
            out = flat.reshape(shape)
            return out if batched else out[:, 0]
        parts, at = [], 0
        for s in shape:
            n = int(np.prod(s))
            p = flat[at:at + n].reshape(s)
            parts.append(p if batched else p[:, 0])
            at += n
        return tuple(parts)


def _spec_from_description(d: dict) -> object:
    kind = d["kind"]
    if kind == "GRU":
        act = lambda a: L.Activation(a["kind"], a["alpha"], a["beta"])  # noqa: E731
        return L.GRU(d["input_size"], d["hidden_size"], [L.GRUDirection(*w) for w in d["weights"]],
                     d["direction"], d["linear_before_reset"], d["has_bias"], act(d["gate_activation"]),
                     act(d["candidate_activation"]), d["clip"], d["merge_mode"], d["return_sequences"],
                     d["reverse_output_in_processing_order"], d["initial_state"])
    if kind == "Dense":
        return L.Dense(d["weight"], d["bias"])
    if kind == "Activation":
        a = d["activation"]
        return L.ActivationLayer(L.Activation(a["kind"], a["alpha"], a["beta"]))
    if kind == "Embedding":
        return L.Embedding(d["table"])
    if kind == "InputSkip":
        return L.InputSkip(d["start"])
    if kind == "Affine":
        return L.Affine(d["scale"], d["shift"])
    if kind == "LastStep":
        return L.LastStep()
    raise ValueError(f"unknown layer kind {kind!r} from the core")


# ---- by value: native bytes and pickling (gru_infer/serialization.py) ----------------------

NATIVE_MAGIC = b"GRUINFER"

BytesLike = Union[bytes, bytearray, memoryview]


def _contiguous_bytes(data: BytesLike) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError:
        raise ValueError(f"model bytes: expected bytes, bytearray or memoryview, got {type(data).__name__}") from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")


def model_from_native_bytes(data: BytesLike) -> Model:
    """A Model from native file bytes (bytes, bytearray, memoryview): the weights are copied."""
    model = Model(_core.Model.from_bytes(_contiguous_bytes(data)))
    model.info = {"source": model.source, "format": "native"}
    return model


def reduce_model(model: Model, protocol: int) -> Tuple[Any, ...]:
    data = model.to_bytes()
    payload: Any = pickle.PickleBuffer(data) if protocol >= 5 else data
    return _rebuild_model, (payload, dict(model.info), model.fast_activations)


def _rebuild_model(data: BytesLike, info: Dict[str, Any], fast_activations: bool) -> Model:
    """Unpickle a Model. Pickles of gru_infer 0.2.0 name it gru_infer.serialization._rebuild_model,
    which stays that same function."""
    model = model_from_native_bytes(data)
    model.info = info
    return model.with_options(fast_activations=fast_activations) if fast_activations else model
