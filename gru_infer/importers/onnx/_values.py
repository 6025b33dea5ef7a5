"""The symbolic values the ONNX graph walker (`_walker`) gives to tensors, and small helpers.

Every tensor of the graph is given a symbolic value instead of numbers:

- `Const`: a known array (initializers, Constant nodes, and any node whose inputs are all known,
  evaluated with onnx's reference evaluator, e.g. the opset-7 exporter slicing raw weights).
- `ShapeVec`: an integer vector computed from `Shape` (entries are ints or the symbolic batch/time
  axes), as used by exporters to build Reshape targets and zero initial states.
- `Zeros`: an all-zero tensor whose shape depends on the input (Expand / ConstantOfShape of 0).
- `Chain`: data computed from the model input. It carries the layers that compute it (a tuple of
  layer specs) and its axes, each labelled batch, time, GRU direction, hidden, features, ...
- `StateRows`: rows picked out of GRU final states (Y_h), e.g. PyTorch's h_n and h_n[-1].
- `StateIn` / `LengthsIn`: the graph inputs that feed GRU initial_h and sequence_lens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...errors import OnnxImportError
from ...layers import Activation

# ----------------------------------------------------------------------------------------------
# Symbolic values

@dataclass(frozen=True)
class Axis:
    """One axis of a Chain. kind: 'in0'/'in1' (the input's first two axes until a GRU says which is
    batch and which is time), 'B', 'T', 'T1' (time reduced to its last step), 'D' (GRU directions),
    'H' (hidden units of one direction), 'F' (features), '1' (an inserted unit axis).
    size: the length when fixed; for batch/time the graph input's static length, if any."""
    kind: str
    size: Optional[int]


@dataclass(frozen=True)
class Const:
    array: np.ndarray


@dataclass(frozen=True)
class ShapeVec:
    """An integer tensor derived from Shape: numpy object array of ints and Axis entries."""
    entries: np.ndarray


@dataclass(frozen=True)
class Zeros:
    """All zeros, of a shape that depends on the input (only its zero-ness matters)."""


@dataclass(frozen=True)
class Chain:
    axes: Tuple[Axis, ...]
    layers: Tuple[Any, ...]
    is_state: bool = False   # a GRU's Y_h with its direction axis still present


@dataclass(frozen=True)
class StateRows:
    """Rows of GRU final states. rows: ((Y_h chain, direction index), ...).
    has_row_axis False once a single row was selected with a scalar index: shape (B, H)."""
    rows: Tuple[Tuple[Chain, int], ...]
    has_row_axis: bool = True


@dataclass(frozen=True)
class StateIn:
    """The graph input feeding initial_h. perm: current axis -> input axis;
    rows: (input axis, start, stop) if a Slice picked rows out of it."""
    name: str
    perm: Tuple[int, ...]
    dims: Tuple[Optional[int], ...]
    rows: Optional[Tuple[int, int, int]] = None


@dataclass(frozen=True)
class LengthsIn:
    name: str


@dataclass
class GRUMeta:
    node: str
    h0: Optional[Tuple[str, int, int, Optional[int], int]] = None  # (input, row axis, start, stop, D)
    lengths: Optional[str] = None


# ----------------------------------------------------------------------------------------------
# Small helpers

def tensor_array(tensor, what: str) -> np.ndarray:
    """A TensorProto as a numpy array (float16/bfloat16/float64 become float32); ValueError if broken."""
    from onnx import numpy_helper
    try:
        arr = numpy_helper.to_array(tensor)
    except Exception as e:  # wrong data length, unknown data type, ...
        raise ValueError(f"{what}: cannot read tensor {tensor.name!r} ({type(e).__name__}: {e})") from None
    if arr.dtype.kind == "f" or str(arr.dtype) == "bfloat16":
        arr = arr.astype(np.float32)
    return arr


def attrs(node) -> Dict[str, Any]:
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode("utf-8", "replace") for s in v]
        out[a.name] = v
    return out


def default_opset(model) -> int:
    """The opset the model imports for the default ONNX domain; 0 when it imports none."""
    return next((int(i.version) for i in model.opset_import if i.domain in ("", "ai.onnx")), 0)


def droppable(ax: Axis) -> bool:
    """Unit axes that carry no data layout: a unidirectional GRU's direction axis, a selected last
    time step, an inserted axis."""
    return ax.kind in ("D", "T1", "1") and ax.size == 1


_ACTIVATION_NAMES = {  # ONNX GRU activation name (lower case) -> our kind
    "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "affine": "affine", "leakyrelu": "leaky_relu",
    "thresholdedrelu": "thresholded_relu", "scaledtanh": "scaled_tanh", "hardsigmoid": "hard_sigmoid",
    "elu": "elu", "softsign": "softsign", "softplus": "softplus",
}
# Which of alpha/beta each function consumes, and defaults when the lists run out. These are
# onnxruntime's (rnn_helpers.cc): functions not listed in the defaults get 0.
_ACTIVATION_ARGS = {"affine": (True, True), "leakyrelu": (True, False), "thresholdedrelu": (True, False),
                    "scaledtanh": (True, True), "hardsigmoid": (True, True), "elu": (True, False)}
_ACTIVATION_DEFAULTS = {"leakyrelu": (0.01, 0.0), "hardsigmoid": (0.2, 0.5), "elu": (1.0, 0.0)}


def gru_activations(names: Sequence[str], alphas: Sequence[float], betas: Sequence[float]) -> List[Activation]:
    """ONNX RNN activation attributes -> Activations. alpha/beta are consumed in order, each list
    only by the functions that take that parameter."""
    alphas, betas = list(alphas), list(betas)
    out = []
    for name in names:
        key = str(name).lower()
        if key not in _ACTIVATION_NAMES:
            raise OnnxImportError(f"unknown GRU activation {name!r}; expected one of "
                                  f"{sorted(set(_ACTIVATION_NAMES))} (case-insensitive)")
        use_a, use_b = _ACTIVATION_ARGS.get(key, (False, False))
        da, db = _ACTIVATION_DEFAULTS.get(key, (0.0, 0.0))
        alpha = (alphas.pop(0) if alphas else da) if use_a else 0.0
        beta = (betas.pop(0) if betas else db) if use_b else 0.0
        out.append(Activation(_ACTIVATION_NAMES[key], float(alpha), float(beta)))
    return out
