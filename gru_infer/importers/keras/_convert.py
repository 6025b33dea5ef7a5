"""Convert a chain of Keras layers (config plus weights) into gru_infer layers."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ...errors import UnsupportedModelError
from ...layers import GRU, Activation, ActivationLayer, Dense, Embedding, GRUDirection
from ._config import (
    MASK_REFUSAL,
    KerasLayer,
    Version,
    default_recurrent_activation,
    dtype_name,
    keras_activation,
)
from ._weights import Weight

IDENTITY_LAYERS = ("Dropout", "SpatialDropout1D")   # identity at inference


def _check_not_quantized(layer: KerasLayer, where: str) -> None:
    name = dtype_name(layer.config)
    if name.startswith(("int8", "int4", "float8")) or layer.config.get("quantization_config"):
        raise UnsupportedModelError(f"{where}: quantized layers (dtype policy {name!r}) are not supported")


def _take(ws: List[Weight], role: str, shape: Tuple[int, ...], where: str) -> np.ndarray:
    """Pop the next tensor, checking its name (when the file has names) and shape."""
    if not ws:
        raise ValueError(f"{where}: missing tensor {role!r} (expected shape {shape})")
    w = ws.pop(0)
    if w.role is not None and w.role != role:
        raise ValueError(f"{where}: expected tensor {role!r}, found {w.label!r}")
    if tuple(w.array.shape) != tuple(shape):
        raise ValueError(f"{w.label}: {role} has shape {tuple(w.array.shape)}, expected {tuple(shape)}")
    return w.array


def _no_more(ws: List[Weight], where: str) -> None:
    if ws:
        raise ValueError(f"{where}: unexpected extra tensors {[w.label for w in ws]}")


def _units(cfg: dict, where: str) -> int:
    units = cfg.get("units")
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise ValueError(f"{where}: expected a positive integer 'units' in the config, got {units!r}"
                         + (" (a Keras 1 config?)" if "output_dim" in cfg else ""))
    return units


class _GRUOptions:
    """What the engine needs from one Keras GRU config."""

    def __init__(self, cfg: dict, version: Version, where: str):
        self.units = _units(cfg, where)
        self.use_bias = bool(cfg.get("use_bias", True))
        self.reset_after = bool(cfg.get("reset_after", False))  # absent in configs older than the option
        self.go_backwards = bool(cfg.get("go_backwards", False))
        self.return_sequences = bool(cfg.get("return_sequences", False))
        self.return_state = bool(cfg.get("return_state", False))
        self.stateful = bool(cfg.get("stateful", False))
        if cfg.get("time_major"):
            raise UnsupportedModelError(f"{where}: time_major=True is not supported (predict takes batch-first input)")
        self.gate = keras_activation(cfg.get("recurrent_activation", default_recurrent_activation(version)),
                                     version, f"{where} recurrent_activation") or Activation("identity")
        self.candidate = keras_activation(cfg.get("activation", "tanh"), version,
                                          f"{where} activation") or Activation("identity")
        for what, act in (("recurrent_activation", self.gate), ("activation", self.candidate)):
            if act.kind in ("softmax", "log_softmax"):
                raise UnsupportedModelError(f"{where}: {what} {act.kind} is not supported inside a GRU")

    def same_math(self, other: _GRUOptions) -> bool:
        keys = ("units", "use_bias", "reset_after", "return_sequences", "gate", "candidate")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def _gru_direction(opts: _GRUOptions, ws: List[Weight], features: Optional[int],
                   where: str) -> Tuple[GRUDirection, int]:
    """One direction's weights: Keras kernel (I, 3H) -> W (3H, I); gate order z, r, h is already ours."""
    H = opts.units
    if not ws or ws[0].array.ndim != 2:
        raise ValueError(f"{where}: missing or malformed kernel (expected shape (input, {3 * H}))")
    I = ws[0].array.shape[0] if features is None else features
    kernel = _take(ws, "kernel", (I, 3 * H), where)
    recurrent = _take(ws, "recurrent_kernel", (H, 3 * H), where)
    zeros = np.zeros(3 * H, np.float32)
    bW = bR = zeros
    if opts.use_bias and opts.reset_after:
        bias = _take(ws, "bias", (2, 3 * H), where)
        bW, bR = bias[0], bias[1]
    elif opts.use_bias:  # reset_after=False: one input bias, no recurrent bias
        bW = _take(ws, "bias", (3 * H,), where)
    return GRUDirection(W=kernel.T, R=recurrent.T, bW=bW, bR=bR), I


def _inner_config(cfg: dict, key: str, classes: Tuple[str, ...], where: str) -> dict:
    inner = cfg.get(key)
    if not isinstance(inner, dict) or inner.get("class_name") not in classes:
        found = inner.get("class_name") if isinstance(inner, dict) else inner
        raise UnsupportedModelError(f"{where}: wraps {found!r}; only {' / '.join(classes)} is supported")
    if not isinstance(inner.get("config"), dict):
        raise ValueError(f"{where}: the wrapped layer has no config")
    return inner["config"]


def _gru_layer(layer: KerasLayer, ws: List[Weight], version: Version, features: Optional[int], where: str) -> GRU:
    cfg = layer.config
    if layer.class_name == "GRU":
        opts = _GRUOptions(cfg, version, where)
        d, I = _gru_direction(opts, ws, features, where)
        _no_more(ws, where)
        return_sequences = opts.return_sequences
        if layer.output_index == 1 and opts.return_state:
            return_sequences = False  # the next layer uses the final state
        elif layer.output_index != 0:
            raise ValueError(f"{where}: output #{layer.output_index} is used, but the layer has no such output")
        return GRU(I, opts.units, [d], "reverse" if opts.go_backwards else "forward", opts.reset_after,
                   opts.use_bias, opts.gate, opts.candidate, return_sequences=return_sequences,
                   reverse_output_in_processing_order=opts.go_backwards)
    merge = cfg.get("merge_mode", "concat")
    if merge is None:
        raise UnsupportedModelError(f"{where}: merge_mode=None returns the two directions as two outputs; only "
                                    f"concat, sum, mul and ave are supported")
    if merge not in ("concat", "sum", "mul", "ave"):
        raise UnsupportedModelError(f"{where}: merge_mode {merge!r} is not supported")
    fcfg = _inner_config(cfg, "layer", ("GRU",), where)
    bcfg = _inner_config(cfg, "backward_layer", ("GRU",), where) if cfg.get("backward_layer") else \
        dict(fcfg, go_backwards=not fcfg.get("go_backwards", False))
    fwd, bwd = _GRUOptions(fcfg, version, where + " forward"), _GRUOptions(bcfg, version, where + " backward")
    if fwd.go_backwards or not bwd.go_backwards:
        raise UnsupportedModelError(f"{where}: a wrapped GRU with go_backwards=True is not supported")
    if not fwd.same_math(bwd):
        raise UnsupportedModelError(f"{where}: the forward and backward GRUs differ in size, bias or activations")
    if fwd.return_state and layer.output_index != 0:
        raise UnsupportedModelError(f"{where}: using the Bidirectional layer's states as the output is not supported")
    if len(ws) % 2:
        raise ValueError(f"{where}: expected the same tensors for both directions, found {[w.label for w in ws]}")
    forward, backward = ws[:len(ws) // 2], ws[len(ws) // 2:]
    d_f, I = _gru_direction(fwd, forward, features, where + " forward")
    d_b, _ = _gru_direction(bwd, backward, I, where + " backward")
    _no_more(forward + backward, where)
    return GRU(I, fwd.units, [d_f, d_b], "bidirectional", fwd.reset_after, fwd.use_bias, fwd.gate, fwd.candidate,
               merge_mode=merge, return_sequences=fwd.return_sequences)


def _dense_layers(cfg: dict, ws: List[Weight], version: Version, features: Optional[int], where: str) -> list:
    units = _units(cfg, where)
    if features is None:
        raise UnsupportedModelError(f"{where}: a Dense first layer is not supported (the model must start with "
                                    f"a GRU or an Embedding)")
    kernel = _take(ws, "kernel", (features, units), where)
    bias = _take(ws, "bias", (units,), where) if cfg.get("use_bias", True) else None
    _no_more(ws, where)
    out = [Dense(kernel.T, bias)]
    act = keras_activation(cfg.get("activation", "linear"), version, f"{where} activation")
    return out + ([ActivationLayer(act)] if act else [])


def convert(chain: List[KerasLayer], weights_of: Callable[[KerasLayer], List[Weight]], version: Version,
             path: str) -> Tuple[list, Dict[str, Any]]:
    out: list = []
    features: Optional[int] = None   # size of the last axis so far
    sequence = True                  # whether the value so far still has a time axis
    info: Dict[str, Any] = {"source": "keras", "stateful": False, "return_state_layers": [],
                            "initial_state_inputs": {}, "layer_names": []}
    for layer in chain:
        cls, cfg = layer.class_name, layer.config
        where = f"{path}: layer {layer.name!r} ({cls})"
        _check_not_quantized(layer, where)
        if cls == "InputLayer" or cls in IDENTITY_LAYERS:
            continue
        if layer.output_index != 0 and cls not in ("GRU", "Bidirectional"):
            raise ValueError(f"{where}: output #{layer.output_index} is used, but the layer has one output")
        if cls == "Masking" or (cls == "Embedding" and cfg.get("mask_zero")):
            raise UnsupportedModelError(f"{where}: {MASK_REFUSAL}")
        if layer.initial_state_inputs and cls not in ("GRU", "Bidirectional"):
            raise UnsupportedModelError(f"{where}: takes an initial state but is not a GRU")
        ws = list(weights_of(layer))
        if cls == "Embedding":
            if out:
                raise UnsupportedModelError(f"{where}: an Embedding is only supported as the first layer")
            if len(ws) != 1 or ws[0].array.ndim != 2:
                raise ValueError(f"{where}: expected one (input_dim, output_dim) tensor, found "
                                 f"{[(w.label, w.array.shape) for w in ws]}")
            table = _take(ws, "embeddings", ws[0].array.shape, where)
            out.append(Embedding(table))
            features = table.shape[1]
        elif cls in ("GRU", "Bidirectional"):
            if not sequence:
                raise UnsupportedModelError(f"{where}: its input has no time axis (the previous GRU has "
                                            f"return_sequences=False)")
            spec = _gru_layer(layer, ws, version, features, where)
            out.append(spec)
            features, sequence = spec.output_size, spec.return_sequences
            inner = cfg if cls == "GRU" else cfg["layer"]["config"]
            info["stateful"] |= bool(inner.get("stateful", False))
            if inner.get("return_state"):
                info["return_state_layers"].append(layer.name)
            if layer.initial_state_inputs:
                info["initial_state_inputs"][layer.name] = list(layer.initial_state_inputs)
        elif cls == "Dense":
            out += _dense_layers(cfg, ws, version, features, where)
            features = _units(cfg, where)
        elif cls == "TimeDistributed":
            inner = _inner_config(cfg, "layer", ("Dense",), where)
            if not sequence:
                raise UnsupportedModelError(f"{where}: its input has no time axis")
            out += _dense_layers(inner, ws, version, features, where)
            features = _units(inner, where)
        elif cls == "Activation":
            if features is None:
                raise UnsupportedModelError(f"{where}: an Activation first layer is not supported")
            act = keras_activation(cfg.get("activation"), version, where)
            if act:
                out.append(ActivationLayer(act))
        else:
            raise UnsupportedModelError(f"{where}: layer class {cls!r} is not supported (supported: InputLayer, GRU, "
                                        f"Bidirectional, Dense, TimeDistributed(Dense), Activation, Embedding, "
                                        f"{', '.join(IDENTITY_LAYERS)})")
        info["layer_names"].append(layer.name)
    if not out:
        raise ValueError(f"{path}: the model has no layers gru_infer can run")
    return out, info
