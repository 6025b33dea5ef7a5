"""Import RTNeural's JSON model files (docs/importers.md, RTNeural).

Two forms exist:
- Keras form, written by RTNeural's `model_utils.save_model`:
  `{"in_shape": [null, null, F], "layers": [{"type", "activation", "shape", "weights"}, ...]}` with
  types "gru" (weights: kernel (I, 3H), recurrent_kernel (H, 3H), bias (2, 3H)), "dense" and
  "time-distributed-dense" (kernel (I, O), bias (O,)); "shape" is the layer's output shape (a
  3-entry shape means the GRU returns the whole sequence). An empty activation means linear.
- PyTorch form: `json.dump(model.state_dict())` with tensors as nested lists (RTNeural's
  `gru_torch.py`), read like a state_dict: GRU modules in key order, then Linear layers on every step.
- The guitar-amp forms built on these (`_guitar_amp`): Automated-GuitarAmpModelling's SimpleRNN
  (`model_data` + `state_dict`) and AIDA-X's `.aidax` (the Keras form plus in_skip / out_gain / metadata).

A GRU's `activation` is honoured: it is the Keras layer's candidate activation, which the model
was trained with (RTNeural's own loader ignores it and always runs tanh, RTNeural#124).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..layers import Activation, ActivationLayer, Dense
from ._guitar_amp import aida_tail, is_simple_rnn, layers_from_simple_rnn
from ._keras_layout import gru_from_keras_weights
from ._state_dict import layers_from_state_dict
from ._state_dict_head import no_head
from ._untrusted import load_json

FORMAT = "rtneural"

__all__ = ["FORMAT", "sniff", "read", "layers_from_rtneural_json"]


def sniff(head: bytes, path: str) -> bool:
    """A JSON object (RTNeural files are JSON)."""
    return head.lstrip()[:1] == b"{"


def read(path, **options) -> Tuple[list, Dict[str, Any]]:
    return layers_from_rtneural_json(path, **options)

_ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "softmax": "softmax", "elu": "elu",
                "softsign": "softsign", "softplus": "softplus"}
_GRU_CANDIDATE = {"": "tanh", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid"}
ASSUME_GATES = ("GRU gates use sigmoid: the file does not store the recurrent activation (RTNeural hard-codes "
                "sigmoid; it is the Keras 3 / TF2 default)")
ASSUME_EMPTY_GRU_ACTIVATION = "a GRU with an empty activation uses tanh, as RTNeural's loader does"


def _array(value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(f"{what}: expected a rectangular nested list of numbers") from None
    return arr


def _keras_form(model: dict) -> Tuple[list, List[str]]:
    layers: list = []
    assumed = [ASSUME_GATES]
    in_shape = model.get("in_shape")
    features = in_shape[-1] if isinstance(in_shape, list) and in_shape else None
    if not isinstance(model["layers"], list) or not model["layers"]:
        raise ValueError("'layers' must be a non-empty list")
    for i, spec in enumerate(model["layers"]):
        where = f"layer {i}"
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: expected an object with type/activation/shape/weights")
        kind, act, shape, weights = (spec.get("type"), spec.get("activation", ""), spec.get("shape"),
                                     spec.get("weights"))
        where = f"layer {i} ({kind!r})"
        if not isinstance(weights, list) or not isinstance(shape, list) or not shape:
            raise ValueError(f"{where}: expected 'weights' (a list) and 'shape' (the output shape)")
        arrays = [_array(w, f"{where} weights[{j}]") for j, w in enumerate(weights)]
        if kind == "gru":
            if len(arrays) not in (2, 3):
                raise ValueError(f"{where}: expected weights [kernel, recurrent_kernel, bias], got {len(arrays)}")
            if act not in _GRU_CANDIDATE:
                raise ValueError(f"{where}: GRU activation {act!r} is not supported "
                                 f"(expected one of {sorted(_GRU_CANDIDATE)})")
            if act == "" and ASSUME_EMPTY_GRU_ACTIVATION not in assumed:
                assumed.append(ASSUME_EMPTY_GRU_ACTIVATION)
            gru = gru_from_keras_weights(*arrays, name=where)
            gru.candidate_activation = Activation(_GRU_CANDIDATE[act])
            gru.return_sequences = len(shape) == 3
            new = [gru]
            in_size, out_size = gru.input_size, gru.hidden_size
        elif kind in ("dense", "time-distributed-dense"):
            if len(arrays) not in (1, 2) or arrays[0].ndim != 2 or arrays[-1].shape[-1:] != arrays[0].shape[1:]:
                raise ValueError(f"{where}: expected weights [kernel (in, out), bias (out)], got shapes "
                                 f"{[a.shape for a in arrays]}")
            new = [Dense(arrays[0].T, arrays[1] if len(arrays) == 2 else None)]
            if act not in ("", "linear"):
                if act not in _ACTIVATIONS:
                    raise ValueError(f"{where}: activation {act!r} is not supported "
                                     f"(expected '' or one of {sorted(_ACTIVATIONS)})")
                new.append(ActivationLayer(Activation(_ACTIVATIONS[act], alpha=1.0 if act == "elu" else 0.0)))
            in_size, out_size = arrays[0].shape
        else:
            raise ValueError(f"{where}: layer type {kind!r} is not supported; gru_infer reads 'gru', 'dense' and "
                             f"'time-distributed-dense' layers")
        if features is not None and in_size != features:
            raise ValueError(f"{where}: takes {in_size} inputs but the previous layer (or in_shape) gives {features}")
        if shape[-1] != out_size:
            raise ValueError(f"{where}: 'shape' says {shape[-1]} outputs, the weights give {out_size}")
        layers += new
        features = out_size
    return layers, assumed


def layers_from_rtneural_json(path, head: Optional[str] = None) -> Tuple[list, Dict[str, Any]]:
    """Import an RTNeural JSON model file, in either form (see the module docstring).

    Returns (layers, info); info = {"source": "rtneural", "form": "keras" | "pytorch", "path",
    "assumed": [what the file does not say]}; the PyTorch form also has the keys of
    `layers_from_state_dict` ("prefix", "modules", "batch_first": None). `head` (PyTorch form only): see
    layers_from_state_dict.
    """
    with open(path, "rb") as f:
        model = load_json(f.read(), f"{path}")
    try:
        if is_simple_rnn(model):
            no_head(head, "a SimpleRNN model (model_data states the head)")
            layers, info = layers_from_simple_rnn(model)
        elif isinstance(model, dict) and "layers" in model:
            no_head(head, "RTNeural's Keras form (its layers are listed)")
            layers, assumed = _keras_form(model)
            layers, aida = aida_tail(model, layers)
            info = {"form": "aida-x" if aida else "keras", "assumed": assumed, **aida}
        elif isinstance(model, dict) and model:
            state_dict = {k: _array(v, f"{k!r}") for k, v in model.items()}
            layers, info = layers_from_state_dict(state_dict, head=head)
            info["form"] = "pytorch"
        else:
            raise ValueError("expected RTNeural's Keras form ({'in_shape', 'layers': [...]}) or a PyTorch "
                             f"state_dict as a JSON object, got {type(model).__name__}")
    except ValueError as e:
        raise type(e)(f"{path}: {e}") from None
    info.update(source="rtneural", path=str(path))
    return layers, info
