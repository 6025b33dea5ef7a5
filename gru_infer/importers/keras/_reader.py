"""Convert Keras model files into the layer specs of `gru_infer.layers`, without Keras or TensorFlow.

Entry point: `layers_from_keras(path) -> (layers, info)`. It reads with zipfile, json and h5py only.

Files (recognised by content, not by name):
- Keras 3 `.keras` zip (config.json, metadata.json, model.weights.h5).
- legacy `.h5` from `model.save("x.h5")`, written by Keras 3, tf.keras 2.x or Keras <= 2.2: weights are
  matched by the suffix of each `weight_names` entry (`kernel`, `recurrent_kernel`, `bias`, with or
  without `:0`, with or without a `gru_cell` scope).
- weights-only files, which carry no config: Keras 3 `model.save_weights("x.weights.h5")` and tf.keras
  `save_weights("x.h5")` (layer groups at the root). Their layers are inferred from the tensor tree and
  shapes: GRU (reset_after from the bias shape: (2, 3H) True, (3H,) False), Bidirectional(GRU)
  (merge_mode concat), Dense (linear), TimeDistributed(Dense), Embedding, with Keras defaults
  everywhere else: GRU activation tanh, recurrent_activation sigmoid (hard_sigmoid 0.2x+0.5 for files
  of Keras < 2.3), no go_backwards, return_sequences True where another recurrent layer or a
  TimeDistributed follows and False (Keras' default) on the last recurrent layer. Every such
  assumption is listed in info["assumed"]. A weights-only file with an Activation, Masking or any
  other layer whose behaviour is not in the tensors is refused. In a Keras 3 weights file the layer
  order is not stored; it is taken from the order the groups were written in the file.

Layers: InputLayer, GRU, Bidirectional(GRU) with merge_mode concat/sum/mul/ave, Dense,
TimeDistributed(Dense), Activation, Dropout and SpatialDropout1D (identity at inference), Embedding
(first layer, mask_zero=False), in a Sequential or a linear Functional model. GRU options: units,
activation, recurrent_activation, use_bias, reset_after, go_backwards, return_sequences,
return_state (the next layer may use the output or, for a GRU, the final state), stateful.
hard_sigmoid follows the Keras version that wrote the file (< 3: clip(0.2x+0.5), >= 3: clip(x/6+0.5)).

Refused (UnsupportedModelError, a ValueError): Masking and Embedding(mask_zero=True) (Keras carries the
state through masked steps, which differs from gru_infer's `lengths`); Bidirectional merge_mode=None
(two outputs); other layer classes; branching or shared layers; several outputs; time_major;
quantized layers; activations with no exact equivalent (selu, gelu, swish, ...).

Tensors are converted to float32 (float16, float64 and bfloat16 files included).

A GRU's `initial_state` (a Functional model input passed as `GRU(...)(x, initial_state=[h])`) is the
`h0` argument of `Model.predict` / the stream state: nothing is read from the file for it.

info keys:
- "source": "keras"; "format": "keras_v3" | "h5_model" | "keras_v3_weights" | "h5_weights".
- "keras_version": the version string the file records (None if absent).
- "stateful": True if a GRU was stateful (the caller should run the model as a stream).
- "return_state_layers": names of GRU layers with return_state=True.
- "initial_state_inputs": {GRU layer name: [model input names]} for GRUs called with initial_state.
- "inputs": the model's input names in order (Functional), else [].
- "assumed": what a weights-only file could not say and was assumed ([] for full model files).
- "layer_names": the Keras names of the converted layers, in order.
"""
from __future__ import annotations

import os
import re
import zipfile
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .keras_config import (MASK_REFUSAL, KerasLayer, Version, default_recurrent_activation, dtype_name,
                           keras_activation, load_json, model_chain, parse_version)
from .keras_weights import (Weight, keras3_vars, legacy_layer_weights, object_address, open_h5, string_attr,
                            string_list_attr)
from .layers import GRU, Activation, ActivationLayer, Dense, Embedding, GRUDirection
from .torch_import import UnsupportedModelError

__all__ = ["layers_from_keras"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
IDENTITY_LAYERS = ("Dropout", "SpatialDropout1D")   # identity at inference


def layers_from_keras(path) -> Tuple[list, Dict[str, Any]]:
    """Read a Keras model or weights file as `(layers, info)`; see the module docstring."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no Keras file at {path!r}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        read = _from_keras_zip
    elif head == _HDF5_MAGIC:
        read = _from_h5
    else:
        raise ValueError(f"{path}: not a Keras file: expected a .keras zip or an HDF5 (.h5) file, got a file "
                         f"starting with {head!r}")
    try:
        layers, info = read(path)
    except (KeyError, TypeError, AttributeError, IndexError, OSError, RuntimeError) as e:
        # a config or tree of the wrong structure (hostile or from an unknown Keras version)
        raise ValueError(f"{path}: malformed Keras file ({type(e).__name__}: {e})") from e
    info["path"] = path
    return layers, info


# ---- file formats --------------------------------------------------------------------------

def _from_keras_zip(path: str):
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "config.json" not in names:
                raise ValueError(f"{path}: a zip without config.json, so not a .keras model "
                                 f"(members: {sorted(names)[:10]})")
            if "model.weights.h5" not in names:
                other = sorted(n for n in names if n.startswith("model.weights"))
                raise UnsupportedModelError(f"{path}: expected model.weights.h5 in the .keras zip, found "
                                            f"{other or 'none'} (the npz and sharded weight variants are not "
                                            f"supported)")
            config_text = z.read("config.json")
            metadata_text = z.read("metadata.json") if "metadata.json" in names else None
            weights_bytes = z.read("model.weights.h5")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ValueError(f"{path}: not a readable .keras zip ({e}); the file may be truncated") from None
    config = load_json(config_text, f"{path}: config.json")
    version_text = None
    if metadata_text is not None:
        metadata = load_json(metadata_text, f"{path}: metadata.json")
        version_text = metadata.get("keras_version") if isinstance(metadata, dict) else None
    version = parse_version(version_text) or (3,)  # a .keras zip is Keras 3 by construction
    chain, cinfo = model_chain(config, f"{path}: config.json")
    with open_h5(weights_bytes, f"{path}: model.weights.h5") as f:
        _assign_keras3_keys(cinfo, f, f"{path}: model.weights.h5")
        weights_of = lambda layer: _keras3_layer_weights(f, layer, f"{path}: model.weights.h5")  # noqa: E731
        layers, info = _convert(chain, weights_of, version, path)
    info.update(format="keras_v3", keras_version=version_text, inputs=cinfo["inputs"], assumed=[])
    return layers, info


def _from_h5(path: str):
    with open_h5(path, path) as f:
        if "model_config" in f.attrs:
            return _from_h5_model(f, path)
        version_text = string_attr(f, "keras_version")
        if "layers" in f and not hasattr(f["layers"], "shape"):
            chain, weights, assumed = _infer_from_keras3_tree(f["layers"], path)
            fmt, version = "keras_v3_weights", parse_version(version_text) or (3,)
        elif "layer_names" in f.attrs or "model_weights" in f:
            group = f["model_weights"] if "model_weights" in f else f
            version_text = version_text or string_attr(group, "keras_version")
            version = parse_version(version_text)
            chain, weights, assumed = _infer_from_legacy_weights(group, version, path)
            fmt = "h5_weights"
        else:
            raise ValueError(f"{path}: an HDF5 file without Keras content: expected a 'model_config' attribute "
                             f"(model.save), a 'layers' group (Keras 3 save_weights) or a 'layer_names' "
                             f"attribute (tf.keras save_weights); found members {list(f.keys())[:10]}")
        try:
            layers, info = _convert(chain, lambda layer: weights[layer.weight_key], version, path)
        except ValueError as e:
            raise type(e)(f"{e}. Note: a weights-only file has no config; assumed: {'; '.join(assumed)}") from None
    info.update(format=fmt, keras_version=version_text, inputs=[], assumed=assumed)
    return layers, info


def _from_h5_model(f, path: str):
    config = load_json(f.attrs["model_config"], f"{path}: model_config")
    if "model_weights" not in f:
        raise ValueError(f"{path}: has a model_config but no 'model_weights' group (the file is truncated?)")
    group = f["model_weights"]
    version_text = string_attr(f, "keras_version") or string_attr(group, "keras_version")
    version = parse_version(version_text)
    chain, cinfo = model_chain(config, f"{path}: model_config")

    def weights_of(layer: KerasLayer) -> List[Weight]:
        label = f"{path}: model_weights/{layer.name}"
        if layer.name not in group:
            raise ValueError(f"{label}: missing (the file is truncated or does not match its model_config)")
        return legacy_layer_weights(group[layer.name], label, _bfloat16_hint(layer.config))

    layers, info = _convert(chain, weights_of, version, path)
    info.update(format="h5_model", keras_version=version_text, inputs=cinfo["inputs"], assumed=[])
    return layers, info


# ---- Keras 3 weight tree -------------------------------------------------------------------

def _snake_case(name: str) -> str:
    """keras.src.utils.naming.to_snake_case: 'TimeDistributed' -> 'time_distributed'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _assign_keras3_keys(cinfo: dict, f, label: str) -> None:
    """Keras 3 stores `model.layers[i]` under layers/<snake_case class name, made unique per class>.

    A Sequential model's `layers` omits its InputLayer; a Functional model's includes every input.
    Recent Keras also writes the layer's name on its `vars` group: when present it must agree.
    """
    used: Dict[str, int] = {}
    for layer in cinfo["config_layers"]:
        if cinfo["model_class"] == "Sequential" and layer.class_name == "InputLayer":
            continue
        base = _snake_case(layer.class_name)
        used[base] = used.get(base, -1) + 1
        layer.weight_key = f"layers/{base}" + (f"_{used[base]}" if used[base] else "")
        vars_group = f.get(layer.weight_key + "/vars") if layer.weight_key in f else None
        stored = string_attr(vars_group, "name") if vars_group is not None else None
        if stored is not None and stored != layer.name:
            raise ValueError(f"{label}: {layer.weight_key} holds layer {stored!r} but the config puts "
                             f"{layer.name!r} there; the weights do not belong to this config")


_KERAS3_VARS = {"GRU": ["cell/vars"], "Bidirectional": ["forward_layer/cell/vars", "backward_layer/cell/vars"],
                "Dense": ["vars"], "Embedding": ["vars"], "TimeDistributed": ["layer/vars"]}


def _keras3_layer_weights(f, layer: KerasLayer, label: str) -> List[Weight]:
    if layer.class_name not in _KERAS3_VARS:
        return []
    if layer.weight_key not in f:
        raise ValueError(f"{label}: missing group {layer.weight_key!r} for layer {layer.name!r} (the file is "
                         f"truncated or does not match config.json)")
    group = f[layer.weight_key]
    hint = _bfloat16_hint(layer.config)
    return [w for p in _KERAS3_VARS[layer.class_name]
            for w in keras3_vars(group, p, f"{label}/{layer.weight_key}", hint)]


def _bfloat16_hint(config: dict) -> bool:
    inner = config.get("layer")
    configs = [config]
    if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
        configs.append(inner["config"])
    return any("bfloat16" in dtype_name(c) for c in configs)


# ---- weights-only files: infer the layers --------------------------------------------------

def _gru_config_from_weights(ws: List[Weight], name: str, version: Version, assumed: List[str]) -> dict:
    """A GRU config with Keras defaults, sized and shaped by its tensors (kernel, recurrent_kernel[, bias])."""
    if len(ws) not in (2, 3):
        raise UnsupportedModelError(f"layer {name!r}: tensors {[w.label for w in ws]} are not a GRU's (kernel, "
                                    f"recurrent_kernel[, bias])")
    if ws[1].array.ndim != 2 or ws[1].array.shape[1] != 3 * ws[1].array.shape[0]:
        raise ValueError(f"{ws[1].label}: recurrent_kernel has shape {ws[1].array.shape}, expected (H, 3H) for a "
                         f"GRU (LSTM and SimpleRNN are not supported)")
    units = ws[1].array.shape[0]
    default_reset_after = not (version is not None and version < (2, 3))
    reset_after = ws[2].array.ndim == 2 if len(ws) == 3 else default_reset_after
    recurrent = default_recurrent_activation(version)
    assumed.append(f"{name}: GRU activation tanh, recurrent_activation {recurrent}, go_backwards False"
                   + ("" if len(ws) == 3 else f", reset_after {reset_after} (no bias to tell)"))
    return {"name": name, "units": units, "use_bias": len(ws) == 3, "reset_after": reset_after,
            "activation": "tanh", "recurrent_activation": recurrent, "go_backwards": False,
            "return_sequences": False}


def _inferred_layer(kind: str, name: str, ws: List[Weight], version: Version, assumed: List[str]) -> KerasLayer:
    """A KerasLayer for a weights-only layer of `kind` (GRU, Bidirectional, Dense, TimeDistributed, Embedding)."""
    if kind == "GRU":
        return KerasLayer("GRU", name, _gru_config_from_weights(ws, name, version, assumed))
    if kind == "Bidirectional":
        half = len(ws) // 2
        if len(ws) % 2:
            raise UnsupportedModelError(f"layer {name!r}: {len(ws)} tensors cannot be a Bidirectional(GRU)")
        cfg = _gru_config_from_weights(ws[:half], name, version, assumed)
        assumed.append(f"{name}: Bidirectional merge_mode concat")
        return KerasLayer("Bidirectional", name, {"name": name, "merge_mode": "concat",
                                                  "layer": {"class_name": "GRU", "config": cfg}})
    if kind in ("Dense", "TimeDistributed"):
        if len(ws) not in (1, 2) or ws[0].array.ndim != 2:
            raise UnsupportedModelError(f"layer {name!r}: tensors {[w.array.shape for w in ws]} are not a Dense's")
        assumed.append(f"{name}: Dense activation linear")
        dense = {"name": name, "units": ws[0].array.shape[1], "use_bias": len(ws) == 2, "activation": "linear"}
        if kind == "Dense":
            return KerasLayer("Dense", name, dense)
        return KerasLayer("TimeDistributed", name, {"name": name, "layer": {"class_name": "Dense", "config": dense}})
    if kind == "Embedding":
        return KerasLayer("Embedding", name, {"name": name, "mask_zero": False})
    raise AssertionError(kind)


def _set_return_sequences(chain: List[KerasLayer], assumed: List[str]) -> None:
    """A recurrent layer returns sequences when a recurrent layer or a TimeDistributed follows it."""
    for i, layer in enumerate(chain):
        if layer.class_name not in ("GRU", "Bidirectional"):
            continue
        later = {l.class_name for l in chain[i + 1:]}
        seq = bool(later & {"GRU", "Bidirectional", "TimeDistributed"})
        cfg = layer.config if layer.class_name == "GRU" else layer.config["layer"]["config"]
        cfg["return_sequences"] = seq
        assumed.append(f"{layer.name}: return_sequences {seq}")


_SKIPPED_WEIGHTLESS = {"input_layer", "input", "dropout", "spatial_dropout1d"}
_KERAS3_KIND = {"gru": "GRU", "bidirectional": "Bidirectional", "dense": "Dense",
                "time_distributed": "TimeDistributed", "embedding": "Embedding"}


def _weightless_refusal(path: str, name: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"{path}: layer {name!r} has no tensors, so a weights-only file cannot say what it does (an Activation? "
        f"a Masking?); load the full model file (.keras or model.save('x.h5')) instead")


def _infer_from_keras3_tree(layers_group, path: str):
    """(chain, weights by key, assumed) for a Keras 3 `.weights.h5` (groups layers/<class>[_N])."""
    try:
        items = sorted(layers_group.items(), key=lambda kv: object_address(kv[1]))
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(f"{path}: cannot list the 'layers' group ({e})") from None
    chain, weights = [], {}
    assumed = ["the layer order is the order the layer groups were written in the file"]
    for key, group in items:
        base = re.sub(r"_\d+$", "", key)
        name = string_attr(group["vars"], "name") if "vars" in group else None
        name = name or key
        if base in _SKIPPED_WEIGHTLESS:
            continue
        if base not in _KERAS3_KIND:
            if base in ("activation", "masking"):
                raise _weightless_refusal(path, name)
            raise UnsupportedModelError(f"{path}: layers/{key}: a {base!r} layer is not supported (supported: "
                                        f"{sorted(_KERAS3_KIND)} and dropout)")
        kind = _KERAS3_KIND[base]
        ws = [w for p in _KERAS3_VARS[kind] for w in keras3_vars(group, p, f"{path}: layers/{key}")]
        layer = _inferred_layer(kind, name, ws, (3,), assumed)
        layer.weight_key = key
        weights[key] = ws
        chain.append(layer)
    _set_return_sequences(chain, assumed)
    return chain, weights, assumed


_GRU_ROLES = (["kernel", "recurrent_kernel", "bias"], ["kernel", "recurrent_kernel"])


def _infer_from_legacy_weights(group, version: Version, path: str):
    """(chain, weights by name, assumed) for a tf.keras `save_weights("x.h5")` file (ordered layer_names)."""
    names = string_list_attr(group, "layer_names", path)
    if names is None:
        raise ValueError(f"{path}: missing the 'layer_names' attribute")
    chain, weights, assumed = [], {}, []
    for name in names:
        if name not in group:
            raise ValueError(f"{path}: layer group {name!r} listed in layer_names is missing (truncated file?)")
        ws = legacy_layer_weights(group[name], f"{path}: {name}")
        roles = [w.role for w in ws]
        base = re.sub(r"_\d+$", "", name)
        if not ws:
            if base in _SKIPPED_WEIGHTLESS:
                continue
            raise _weightless_refusal(path, name)
        if roles in _GRU_ROLES:
            kind = "GRU"
        elif roles[:len(roles) // 2] in _GRU_ROLES and roles[:len(roles) // 2] * 2 == roles:
            kind = "Bidirectional"
        elif roles in (["kernel", "bias"], ["kernel"]):
            kind = "TimeDistributed" if base == "time_distributed" else "Dense"
        elif roles == ["embeddings"]:
            kind = "Embedding"
        else:
            raise UnsupportedModelError(f"{path}: layer {name!r} with tensors {roles} is not a GRU, "
                                        f"Bidirectional(GRU), Dense or Embedding")
        layer = _inferred_layer(kind, name, ws, version, assumed)
        layer.weight_key = name
        weights[name] = ws
        chain.append(layer)
    _set_return_sequences(chain, assumed)
    return chain, weights, assumed


# ---- conversion of the chain ---------------------------------------------------------------

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

    def same_math(self, other: "_GRUOptions") -> bool:
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


def _convert(chain: List[KerasLayer], weights_of: Callable[[KerasLayer], List[Weight]], version: Version,
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
