"""Framework-neutral description of a model: the list of layers every importer produces.

Importers (PyTorch, Keras, ONNX, ...) translate what they read into these plain objects;
`gru_infer.Model.from_layers` hands them to the C++ core. Conventions, fixed for all importers:

- GRU weights are per direction, in gate order **z, r, n** (update, reset, candidate), like ONNX
  and Keras. PyTorch's r, z, n is reordered at import (`swap_rz_blocks`).
- `W` is (3H, I), `R` is (3H, H), `bW` and `bR` are (3H,): the input and recurrent biases are kept
  apart because with `linear_before_reset` the candidate's recurrent bias sits inside r * (...).
- Tensors are float32 and C-contiguous once `validated()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

ACTIVATIONS = (
    "identity", "sigmoid", "tanh", "relu", "softmax", "hard_sigmoid", "leaky_relu", "elu",
    "softsign", "softplus", "affine", "scaled_tanh", "thresholded_relu", "log_softmax",
    "gelu", "gelu_tanh", "silu", "clip", "hard_swish", "mish", "selu", "celu",
)
DIRECTIONS = ("forward", "reverse", "bidirectional")
MERGE_MODES = ("concat", "sum", "mul", "ave")


def as_f32(a, name: str, shape: Tuple[int, ...]) -> np.ndarray:
    """Return `a` as a C-contiguous float32 array of exactly `shape`, or raise ValueError."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu" or arr.dtype == object:
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(arr.shape)}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def swap_rz_blocks(a: np.ndarray, hidden: int) -> np.ndarray:
    """Reorder the first axis from PyTorch's (r, z, n) gate blocks to our (z, r, n)."""
    a = np.asarray(a)
    return np.concatenate([a[hidden:2 * hidden], a[:hidden], a[2 * hidden:3 * hidden]], axis=0)


@dataclass
class Activation:
    """Element-wise (or, for softmax, last-axis) activation. alpha/beta as in ONNX."""
    kind: str
    alpha: float = 0.0
    beta: float = 0.0

    def validated(self) -> Activation:
        if self.kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.kind!r}; expected one of {ACTIVATIONS}")
        if self.kind == "celu" and self.alpha == 0:
            raise ValueError("celu: alpha must not be 0")
        if self.kind == "clip" and not self.alpha <= self.beta:
            raise ValueError(f"clip: expected min (alpha) <= max (beta), got {self.alpha} and {self.beta}")
        return self


@dataclass
class GRUDirection:
    W: np.ndarray   # (3H, I), gates z, r, n
    R: np.ndarray   # (3H, H)
    bW: np.ndarray  # (3H,)
    bR: np.ndarray  # (3H,)


@dataclass
class GRU:
    input_size: int
    hidden_size: int
    directions: List[GRUDirection]
    direction: str = "forward"              # forward | reverse | bidirectional
    linear_before_reset: bool = True        # PyTorch / Keras reset_after=True / ONNX lbr=1
    has_bias: bool = True                   # informational: bW/bR are zeros when False
    gate_activation: Activation = field(default_factory=lambda: Activation("sigmoid"))
    candidate_activation: Activation = field(default_factory=lambda: Activation("tanh"))
    clip: float = 0.0                       # ONNX clip; 0 = none
    merge_mode: str = "concat"              # how bidirectional outputs combine
    return_sequences: bool = True           # False: output only the final state (B, D*H)
    # Keras go_backwards: a reverse-only layer returns its outputs in processing order.
    reverse_output_in_processing_order: bool = False
    # The state sequences and streams start from when predict / a stream gets no h0: (D, H), one row
    # per direction (forward first), for every batch row; None = zeros (ONNX: a constant initial_h).
    initial_state: Optional[np.ndarray] = None

    @property
    def num_directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def output_size(self) -> int:
        return self.hidden_size * (2 if self.direction == "bidirectional" and self.merge_mode == "concat" else 1)

    def validated(self) -> GRU:
        I, H = int(self.input_size), int(self.hidden_size)
        if I < 1 or H < 1:
            raise ValueError(f"GRU sizes must be positive, got input_size={I}, hidden_size={H}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"GRU direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.merge_mode not in MERGE_MODES:
            raise ValueError(f"GRU merge_mode must be one of {MERGE_MODES}, got {self.merge_mode!r}")
        if len(self.directions) != self.num_directions:
            raise ValueError(f"GRU with direction={self.direction!r} needs {self.num_directions} weight sets, "
                             f"got {len(self.directions)}")
        dirs = [GRUDirection(as_f32(d.W, "GRU W", (3 * H, I)), as_f32(d.R, "GRU R", (3 * H, H)),
                             as_f32(d.bW, "GRU bW", (3 * H,)), as_f32(d.bR, "GRU bR", (3 * H,)))
                for d in self.directions]
        h0 = None if self.initial_state is None else as_f32(self.initial_state, "GRU initial_state",
                                                            (self.num_directions, H))
        return GRU(I, H, dirs, self.direction, bool(self.linear_before_reset), bool(self.has_bias),
                   self.gate_activation.validated(), self.candidate_activation.validated(),
                   float(self.clip), self.merge_mode, bool(self.return_sequences),
                   bool(self.reverse_output_in_processing_order), h0)


@dataclass
class Dense:
    """y = x @ weight.T + bias over the last axis (weight is (out, in), PyTorch's layout)."""
    weight: np.ndarray
    bias: Optional[np.ndarray] = None

    def validated(self) -> Dense:
        w = np.asarray(self.weight)
        if w.ndim != 2:
            raise ValueError(f"Dense weight: expected 2 dimensions (out, in), got shape {w.shape}")
        out = w.shape[0]
        b = np.zeros(out, np.float32) if self.bias is None else as_f32(self.bias, "Dense bias", (out,))
        return Dense(as_f32(w, "Dense weight", w.shape), b)


@dataclass
class ActivationLayer:
    activation: Activation

    def validated(self) -> ActivationLayer:
        return ActivationLayer(self.activation.validated())


@dataclass
class Embedding:
    """Integer ids (B, T) -> vectors (B, T, F); only valid as the first layer."""
    table: np.ndarray  # (num_embeddings, F)

    def validated(self) -> Embedding:
        t = np.asarray(self.table)
        if t.ndim != 2:
            raise ValueError(f"Embedding table: expected 2 dimensions, got shape {t.shape}")
        return Embedding(as_f32(t, "Embedding table", t.shape))


@dataclass
class LastStep:
    """Select time step T-1 of a (B, T, F) sequence: (B, F). Like `out[:, -1]` in PyTorch."""

    def validated(self) -> LastStep:
        return self


@dataclass
class InputSkip:
    """y = x + model_input[..., start:start + F], F = this layer's width (that of the layer before):
    a skip connection from the model's input, like the guitar-amp SimpleRNN's `lin(gru(x)) + x[..., :skip]`.
    Needs float model input and a time axis; streams like every other layer."""
    start: int = 0

    def validated(self) -> InputSkip:
        if int(self.start) < 0:
            raise ValueError(f"InputSkip start must be >= 0, got {self.start}")
        return InputSkip(int(self.start))


@dataclass
class Affine:
    """y = x * scale + shift per feature (last axis): BatchNormalization at inference."""
    scale: np.ndarray
    shift: np.ndarray

    @classmethod
    def from_batch_norm(cls, gamma, beta, mean, var, eps: float) -> Affine:
        """Inference-time BatchNormalization: gamma * (x - mean) / sqrt(var + eps) + beta."""
        mean = np.asarray(mean, np.float64)
        var = np.asarray(var, np.float64)
        n = mean.shape[0]
        gamma = np.ones(n) if gamma is None else np.asarray(gamma, np.float64)
        beta = np.zeros(n) if beta is None else np.asarray(beta, np.float64)
        scale = gamma / np.sqrt(var + float(eps))
        return cls(scale.astype(np.float32), (beta - mean * scale).astype(np.float32))

    def validated(self) -> Affine:
        s = np.asarray(self.scale)
        if s.ndim != 1:
            raise ValueError(f"Affine scale: expected 1 dimension, got shape {s.shape}")
        return Affine(as_f32(s, "Affine scale", s.shape), as_f32(self.shift, "Affine shift", s.shape))


Layer = object  # one of GRU, Dense, ActivationLayer, Embedding, LastStep, InputSkip, Affine


def validated_layers(layers: Sequence[Layer]) -> List[Layer]:
    known = (GRU, Dense, ActivationLayer, Embedding, LastStep, InputSkip, Affine)
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, known):
            raise ValueError(f"layer {i}: expected one of {[k.__name__ for k in known]}, got {type(layer).__name__}")
        out.append(layer.validated())
    return out


def describe_layer(layer: Layer) -> str:
    """One line about a layer spec (`gru-infer info` prints one per layer)."""
    if isinstance(layer, GRU):
        return (f"GRU {layer.input_size} -> {layer.hidden_size}, {layer.direction}, "
                f"{'linear_before_reset' if layer.linear_before_reset else 'reset before matmul'}, "
                f"{'bias' if layer.has_bias else 'no bias'}"
                + ("" if layer.return_sequences else ", final state only"))
    if isinstance(layer, Dense):
        return f"Dense {layer.weight.shape[1]} -> {layer.weight.shape[0]}"
    if isinstance(layer, ActivationLayer):
        return f"Activation {layer.activation.kind}"
    if isinstance(layer, Embedding):
        return f"Embedding {layer.table.shape[0]} x {layer.table.shape[1]}"
    if isinstance(layer, Affine):
        return f"Affine {len(layer.scale)} features (x * scale + shift)"
    if isinstance(layer, InputSkip):
        return f"InputSkip (+ the model input's features from {layer.start})"
    return type(layer).__name__
