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
from typing import Any, Dict, List, Tuple

from ...errors import UnsupportedModelError
from .._untrusted import ZipReader
from ._config import (
    KerasLayer,
    dtype_name,
    load_json,
    model_chain,
    parse_version,
)
from ._convert import convert
from ._infer import infer_from_keras3_tree, infer_from_legacy_weights
from ._magic import HDF5_MAGIC
from ._weights import (
    KERAS3_VARS,
    Weight,
    keras3_vars,
    legacy_layer_weights,
    open_h5,
    read_attr,
    string_attr,
)

__all__ = ["layers_from_keras"]


def layers_from_keras(path, config=None) -> Tuple[list, Dict[str, Any]]:
    """Read a Keras model or weights file as `(layers, info)`; see the module docstring.

    config: for a weights-only file, the model's architecture saved apart (`model.to_json()` or
    `model.to_yaml()` written to a file): the layers then come from it, not from inference.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no Keras file at {path!r}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        read = _from_keras_zip
    elif head == HDF5_MAGIC:
        read = _from_h5
    else:
        raise ValueError(f"{path}: not a Keras file: expected a .keras zip or an HDF5 (.h5) file, got a file "
                         f"starting with {head!r}")
    if config is not None:
        if read is not _from_h5:
            raise ValueError(f"{path}: config= is for weights-only files (save_weights); a .keras file holds "
                             f"its own config")
        read = lambda p: _from_h5(p, config)  # noqa: E731
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
            reader = ZipReader(z, path)
            names = set(z.namelist())
            if "config.json" not in names:
                raise ValueError(f"{path}: a zip without config.json, so not a .keras model "
                                 f"(members: {sorted(names)[:10]})")
            if "model.weights.h5" not in names:
                other = sorted(n for n in names if n.startswith("model.weights"))
                raise UnsupportedModelError(f"{path}: expected model.weights.h5 in the .keras zip, found "
                                            f"{other or 'none'} (the npz and sharded weight variants are not "
                                            f"supported)")
            config_text = reader.read("config.json")
            metadata_text = reader.read("metadata.json") if "metadata.json" in names else None
            weights_bytes = reader.read("model.weights.h5")
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
        layers, info = convert(chain, weights_of, version, path)
    info.update(format="keras_v3", keras_version=version_text, inputs=cinfo["inputs"], assumed=[])
    return layers, info


def _from_h5(path: str, config=None):
    with open_h5(path, path) as f:
        if "model_config" in f.attrs:
            if config is not None:
                raise ValueError(f"{path}: config= is for weights-only files; this file holds its own model_config")
            return _from_h5_model(f, path)
        if config is not None:
            return _from_weights_and_config(f, path, config)
        version_text = string_attr(f, "keras_version")
        if "layers" in f and not hasattr(f["layers"], "shape"):
            chain, weights, assumed = infer_from_keras3_tree(f["layers"], path)
            fmt, version = "keras_v3_weights", parse_version(version_text) or (3,)
        elif "layer_names" in f.attrs or "model_weights" in f:
            group = f["model_weights"] if "model_weights" in f else f
            version_text = version_text or string_attr(group, "keras_version")
            version = parse_version(version_text)
            chain, weights, assumed = infer_from_legacy_weights(group, version, path)
            fmt = "h5_weights"
        else:
            raise ValueError(f"{path}: an HDF5 file without Keras content: expected a 'model_config' attribute "
                             f"(model.save), a 'layers' group (Keras 3 save_weights) or a 'layer_names' "
                             f"attribute (tf.keras save_weights); found members {list(f.keys())[:10]}")
        try:
            layers, info = convert(chain, lambda layer: weights[layer.weight_key], version, path)
        except ValueError as e:
            raise type(e)(f"{e}. Note: a weights-only file has no config; assumed: {'; '.join(assumed)}") from None
    info.update(format=fmt, keras_version=version_text, inputs=[], assumed=assumed)
    return layers, info


def _from_h5_model(f, path: str):
    config = load_json(read_attr(f, "model_config", f"{path}: model_config"), f"{path}: model_config")
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

    layers, info = convert(chain, weights_of, version, path)
    info.update(format="h5_model", keras_version=version_text, inputs=cinfo["inputs"], assumed=[])
    return layers, info


def _from_weights_and_config(f, path: str, config_path):
    """A save_weights file (legacy layout or Keras 3 tree) with its architecture from a separate file."""
    from ._separate_config import load_config_file
    label = os.fspath(config_path)
    chain, cinfo = model_chain(load_config_file(config_path), label)
    version_text = string_attr(f, "keras_version")
    if "layers" in f and not hasattr(f["layers"], "shape"):  # Keras 3 model.save_weights
        version = parse_version(version_text) or (3,)
        _assign_keras3_keys(cinfo, f, path)
        weights_of = lambda layer: _keras3_layer_weights(f, layer, path)  # noqa: E731
        fmt = "keras_v3_weights+config"
    elif "layer_names" in f.attrs or "model_weights" in f:  # tf.keras / Keras 2 save_weights
        group = f["model_weights"] if "model_weights" in f else f
        version_text = version_text or string_attr(group, "keras_version")
        version = parse_version(version_text)

        def weights_of(layer: KerasLayer) -> List[Weight]:
            where = f"{path}: {layer.name}"
            if layer.name not in group:
                if layer.class_name in ("InputLayer", "Activation", "Dropout", "SpatialDropout1D"):
                    return []
                raise ValueError(f"{where}: no weights for config layer {layer.name!r} ({layer.class_name}); the "
                                 f"weights file has {list(group.keys())[:10]}: the config and weights do not match")
            return legacy_layer_weights(group[layer.name], where, _bfloat16_hint(layer.config))
        fmt = "h5_weights+config"
    else:
        raise ValueError(f"{path}: not a Keras weights file (no 'layers' group and no 'layer_names' attribute)")
    layers, info = convert(chain, weights_of, version, path)
    info.update(format=fmt, keras_version=version_text, inputs=cinfo["inputs"], assumed=[], config=label)
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


def _keras3_layer_weights(f, layer: KerasLayer, label: str) -> List[Weight]:
    if layer.class_name not in KERAS3_VARS:
        return []
    if layer.weight_key not in f:
        raise ValueError(f"{label}: missing group {layer.weight_key!r} for layer {layer.name!r} (the file is "
                         f"truncated or does not match config.json)")
    group = f[layer.weight_key]
    hint = _bfloat16_hint(layer.config)
    return [w for p in KERAS3_VARS[layer.class_name]
            for w in keras3_vars(group, p, f"{label}/{layer.weight_key}", hint)]


def _bfloat16_hint(config: dict) -> bool:
    inner = config.get("layer")
    configs = [config]
    if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
        configs.append(inner["config"])
    return any("bfloat16" in dtype_name(c) for c in configs)
