"""Read a Keras model config (Sequential or Functional, Keras 2 or 3) as a linear chain of layers.

Only what inference needs is kept: each layer's class, name, config, which of its outputs the next
layer consumes (a GRU with return_state=True has several), and the model inputs that feed a GRU's
`initial_state`. Anything that is not a single chain (branches, shared layers, several outputs) is
refused with a ValueError.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ...errors import UnsupportedModelError
from ...layers import Activation
from .. import _untrusted

Version = Optional[Tuple[int, ...]]

MASK_REFUSAL = ("masking is not supported: Keras carries the GRU state through masked steps and repeats the "
                "previous output, which differs from gru_infer's `lengths` (outputs past a sequence's end are "
                "zero); remove the masking and pass lengths to predict instead")


@dataclass
class KerasLayer:
    class_name: str
    name: str
    config: Dict[str, Any]
    output_index: int = 0                      # which output of this layer the next one consumes
    initial_state_inputs: List[str] = field(default_factory=list)
    weight_key: Optional[str] = None           # where its tensors are in the weights file


def parse_version(text: Optional[str]) -> Version:
    """'3.15.1' -> (3, 15, 1); '2.2.4-tf' -> (2, 2, 4); None if absent or unreadable."""
    if not text:
        return None
    m = re.match(r"\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def load_json(text, label: str) -> Any:
    """JSON from the file (bytes or str), nesting bounded (`_untrusted.load_json`)."""
    if not isinstance(text, (bytes, str)):
        raise ValueError(f"{label}: expected a JSON string, found {type(text).__name__}")
    return _untrusted.load_json(text, label)


def dtype_name(config: Dict[str, Any]) -> str:
    """The layer's dtype policy name: 'float32', 'float64', 'bfloat16', 'mixed_float16', ..."""
    d = config.get("dtype")
    if isinstance(d, dict):
        d = (d.get("config") or {}).get("name")
    return str(d) if d else "float32"


# ---- activations ---------------------------------------------------------------------------

_SIMPLE_ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
                       "softsign": "softsign", "softplus": "softplus", "log_softmax": "log_softmax"}


def activation_name(value) -> str:
    """Keras stores an activation as a string or, in Keras 3, sometimes as a serialized function."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        inner = value.get("config")
        value = inner if isinstance(inner, str) else value.get("class_name")
    if not isinstance(value, str):
        raise UnsupportedModelError(f"activation {value!r}: only built-in activations given by name are supported")
    return value


def keras_activation(value, version: Version, where: str) -> Optional[Activation]:
    """Our Activation for a Keras activation; None for 'linear'.

    hard_sigmoid depends on the Keras version that wrote the file: Keras 2 / tf.keras <= 2.15 use
    clip(0.2x + 0.5, 0, 1), Keras 3 uses relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1).
    """
    name = activation_name(value)
    if name == "linear":
        return None
    if name in _SIMPLE_ACTIVATIONS:
        return Activation(_SIMPLE_ACTIVATIONS[name])
    if name == "elu":
        return Activation("elu", alpha=1.0)
    if name == "leaky_relu":  # Keras 3 only; its default negative_slope
        return Activation("leaky_relu", alpha=0.2)
    if name in ("gelu", "swish", "silu", "selu", "mish", "relu6"):  # fixed definitions in Keras 2 and 3
        return {"gelu": Activation("gelu"), "swish": Activation("silu"), "silu": Activation("silu"),
                "selu": Activation("selu", alpha=1.6732632423543772, beta=1.0507009873554805),
                "mish": Activation("mish"), "relu6": Activation("clip", alpha=0.0, beta=6.0)}[name]
    if name in ("hard_silu", "hard_swish") and version is not None and version >= (3,):
        return Activation("hard_swish")  # Keras 3: x * relu6(x + 3) / 6
    if name == "hard_sigmoid":
        if version is None:
            raise UnsupportedModelError(f"{where}: 'hard_sigmoid' differs between Keras 2 (0.2x+0.5) and Keras 3 "
                                        f"(x/6+0.5), and the file does not record the Keras version")
        return Activation("hard_sigmoid", alpha=0.2, beta=0.5) if version < (3,) else \
            Activation("hard_sigmoid", alpha=1.0 / 6.0, beta=0.5)
    raise UnsupportedModelError(f"{where}: activation {name!r} is not supported (supported: linear, elu, "
                                f"hard_sigmoid, leaky_relu, gelu, swish/silu, selu, mish, relu6, hard_silu (Keras 3), "
                                f"{', '.join(sorted(_SIMPLE_ACTIVATIONS))})")


def default_recurrent_activation(version: Version) -> str:
    """Keras < 2.3 defaulted GRU recurrent_activation to hard_sigmoid; 2.3+, tf.keras 2 and Keras 3 to sigmoid."""
    return "hard_sigmoid" if version is not None and version < (2, 3) else "sigmoid"


# ---- model config -> chain -----------------------------------------------------------------

def model_chain(model_config: Any, label: str) -> Tuple[List[KerasLayer], Dict[str, Any]]:
    """(chain, info) for a Sequential or Functional model config.

    info: 'model_class'; 'inputs' (model input names in order, Functional only); 'config_layers'
    (every layer in config order, the same objects as in the chain, plus unconnected input layers).
    """
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        raise ValueError(f"{label}: expected a model config with a 'class_name', got {type(model_config).__name__}")
    cls = model_config["class_name"]
    config = model_config.get("config")
    if cls == "Sequential":
        layers = config if isinstance(config, list) else (config or {}).get("layers")
        if not isinstance(layers, list):
            raise ValueError(f"{label}: Sequential config without a 'layers' list")
        chain = [_layer(c, label) for c in layers]
        return chain, {"model_class": cls, "inputs": [], "config_layers": chain}
    if cls in ("Functional", "Model"):
        chain, all_layers = _functional_chain(config or {}, label)
        inputs = [r[0] for r in _refs(config.get("input_layers"))]
        return chain, {"model_class": cls, "inputs": inputs, "config_layers": all_layers}
    raise UnsupportedModelError(f"{label}: model class {cls!r} is not supported (only Sequential and Functional "
                                f"models; a subclassed model's config cannot be read without its code)")


def _layer(c: Any, label: str) -> KerasLayer:
    if not isinstance(c, dict) or not isinstance(c.get("class_name"), str) or not isinstance(c.get("config"), dict):
        raise ValueError(f"{label}: a layer entry must have 'class_name' and a 'config' dict, got {str(c)[:200]}")
    name = c.get("name") or c["config"].get("name") or c["class_name"]
    return KerasLayer(c["class_name"], str(name), c["config"])


def _refs(value) -> List[Tuple[str, int, int]]:
    """Tensor references [name, node, index] in input_layers/output_layers (flat or nested)."""
    if not isinstance(value, list) or not value:
        return []
    if isinstance(value[0], str):
        value = [value]
    return [(str(v[0]), int(v[1]), int(v[2])) for v in value]


def _keras3_tensor_refs(obj) -> List[Tuple[str, int, int]]:
    """All `__keras_tensor__` references in a Keras 3 node's args/kwargs, in order."""
    out = []
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            h = (obj.get("config") or {}).get("keras_history")
            out.append((str(h[0]), int(h[1]), int(h[2])))
        else:
            for v in obj.values():
                out += _keras3_tensor_refs(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _keras3_tensor_refs(v)
    return out


def _keras2_refs(obj) -> List[Tuple[str, int, int]]:
    """[name, node, index] lists nested in a Keras 2 kwargs value."""
    if isinstance(obj, list) and len(obj) >= 3 and isinstance(obj[0], str) and \
            all(isinstance(v, int) for v in obj[1:3]):
        return [(obj[0], obj[1], obj[2])]
    if isinstance(obj, (list, tuple)):
        return [r for v in obj for r in _keras2_refs(v)]
    return []


def _inbound(c: dict, name: str, label: str):
    """(main input ref, initial_state refs) of a Functional layer; None for an input layer."""
    nodes = c.get("inbound_nodes") or []
    if not nodes:
        return None
    if len(nodes) != 1:
        raise UnsupportedModelError(f"{label}: layer {name!r} is called {len(nodes)} times (a shared layer); "
                                    f"only a single chain of layers is supported")
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        main = _keras3_tensor_refs(node.get("args", []))
        kwargs = dict(node.get("kwargs") or {})
        if _keras3_tensor_refs(kwargs.get("mask")):
            raise UnsupportedModelError(f"{label}: layer {name!r} receives a mask; {MASK_REFUSAL}")
        states = _keras3_tensor_refs(kwargs.pop("initial_state", []))
        other = _keras3_tensor_refs(kwargs)
    else:  # Keras 2: [[name, node, index, kwargs], ...]; an RNN's initial states follow its input
        entries = [e for e in node if isinstance(e, list) and e and isinstance(e[0], str)]
        refs = [(str(e[0]), int(e[1]), int(e[2])) for e in entries]
        main, states = refs[:1], refs[1:]
        kwargs = dict(entries[0][3]) if entries and len(entries[0]) > 3 and isinstance(entries[0][3], dict) else {}
        states += _keras2_refs(kwargs.pop("initial_state", []))
        if kwargs.get("mask") is not None:
            raise UnsupportedModelError(f"{label}: layer {name!r} receives a mask; {MASK_REFUSAL}")
        other = _keras2_refs(list(kwargs.values()))
    if len(main) != 1 or other:
        raise UnsupportedModelError(f"{label}: layer {name!r} takes {len(main) + len(other)} tensor inputs; only "
                                    f"a single chain of layers (plus GRU initial states) is supported: a layer that "
                                    f"merges branches (attention, Concatenate, Add, ...) has no exact equivalent in "
                                    f"gru_infer, so such a model runs in Keras, not here")
    return main[0], states


def _functional_chain(config: dict, label: str) -> Tuple[List[KerasLayer], List[KerasLayer]]:
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError(f"{label}: Functional config without a 'layers' list")
    layers = {}
    inbound = {}
    for c in entries:
        layer = _layer(c, label)
        if layer.name in layers:
            raise ValueError(f"{label}: two layers are named {layer.name!r}")
        layers[layer.name] = layer
        inbound[layer.name] = _inbound(c, layer.name, label)
    outputs = _refs(config.get("output_layers"))
    if len(outputs) != 1:
        raise UnsupportedModelError(f"{label}: the model has {len(outputs)} outputs; only one output is supported")
    # Walk back from the output to the input along each layer's main input.
    chain: List[KerasLayer] = []
    name, node, index = outputs[0]
    while True:
        if name not in layers:
            raise ValueError(f"{label}: reference to unknown layer {name!r}")
        if node != 0:
            raise UnsupportedModelError(f"{label}: layer {name!r} is used at call #{node}; shared layers are "
                                        f"not supported")
        layer = layers[name]
        layer.output_index = index
        chain.append(layer)
        if inbound[name] is None:
            break
        (name, node, index), states = inbound[name]
        for s in states:
            if s[0] not in layers or inbound[s[0]] is not None:
                raise UnsupportedModelError(f"{label}: the initial state of {layer.name!r} comes from layer {s[0]!r}; "
                                            f"only model inputs can be initial states")
        layer.initial_state_inputs = [s[0] for s in states]
    chain.reverse()
    used = {l.name for l in chain} | {s for l in chain for s in l.initial_state_inputs}
    unused = [n for n in layers if n not in used]
    if unused:
        raise UnsupportedModelError(f"{label}: layers {unused} are not on the path from the input to the output; "
                                    f"only a single chain of layers is supported")
    return chain, list(layers.values())
