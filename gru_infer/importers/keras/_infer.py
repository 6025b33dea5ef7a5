"""Keras weights-only files (no config): infer the layer chain from the tensor tree and shapes.

What is assumed is listed in info["assumed"]; see the package docstring (`_reader`) for the rules.
"""
from __future__ import annotations

import re
from typing import List

from ...errors import UnsupportedModelError
from ._config import (
    KerasLayer,
    Version,
    default_recurrent_activation,
)
from ._weights import (
    KERAS3_VARS,
    Weight,
    keras3_vars,
    legacy_layer_weights,
    object_address,
    string_attr,
    string_list_attr,
)


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


def infer_from_keras3_tree(layers_group, path: str):
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
        ws = [w for p in KERAS3_VARS[kind] for w in keras3_vars(group, p, f"{path}: layers/{key}")]
        layer = _inferred_layer(kind, name, ws, (3,), assumed)
        layer.weight_key = key
        weights[key] = ws
        chain.append(layer)
    _set_return_sequences(chain, assumed)
    return chain, weights, assumed


_GRU_ROLES = (["kernel", "recurrent_kernel", "bias"], ["kernel", "recurrent_kernel"])


def infer_from_legacy_weights(group, version: Version, path: str):
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
