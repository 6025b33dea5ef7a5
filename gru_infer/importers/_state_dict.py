"""State_dict architecture inference: which GRU (and Linear) layers a dict of tensors describes.

A service shared by the importers of weights-only files (PyTorch files, safetensors, npz, RTNeural):
`layers_from_state_dict(tensors)` infers the modules from the keys and shapes and returns
`(layers, info)`, with what it had to assume in info["assumed"]. Also the PyTorch GRU parameter
layout (`gru_stack`), shared with the live-module importer.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import UnsupportedModelError
from ..layers import GRU, Dense, Embedding, GRUDirection, swap_rz_blocks
from ._state_dict_head import HEADS, check_head, with_head

FROM_TORCH_HINT = ("build the module and use gru_infer.from_torch(module) (a chain of GRU and Linear layers), "
                   "or gru_infer.torch.accelerate(module) (any module: its GRUs run in gru_infer, the rest in torch)")


def to_f32(value, name: str) -> np.ndarray:
    """A tensor (any dtype/device) or array-like as a float32 numpy array."""
    if hasattr(value, "detach"):  # a torch tensor; .float() also covers float16/bfloat16/float64
        return value.detach().cpu().float().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name!r}: expected a tensor or numeric array, got {type(value).__name__}"
                         f" (dtype {arr.dtype})")
    return arr.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# GRU stacks (shared by modules and state_dicts)

def param_suffix(layer: Optional[int], reverse: bool) -> str:
    """`_l0`, `_l1_reverse`, ... ; '' for GRUCell keys (layer None)."""
    return "" if layer is None else f"_l{layer}" + ("_reverse" if reverse else "")


def gru_stack(params: Mapping, num_layers: Optional[int], bidirectional: bool, bias: bool,
               input_size: int, hidden: int) -> List[GRU]:
    """One GRU spec per PyTorch layer. params maps 'weight_ih_l0' ... to float32 arrays.

    num_layers=None means GRUCell keys (no `_l{k}` suffix). PyTorch's gate blocks r, z, n are
    reordered to z, r, n.
    """
    D = 2 if bidirectional else 1
    zeros = np.zeros(3 * hidden, np.float32)
    specs = []
    for k in range(num_layers or 1):
        layer = None if num_layers is None else k
        dirs = []
        for reverse in (False, True)[:D]:
            sfx = param_suffix(layer, reverse)
            dirs.append(GRUDirection(
                W=swap_rz_blocks(params["weight_ih" + sfx], hidden),
                R=swap_rz_blocks(params["weight_hh" + sfx], hidden),
                bW=swap_rz_blocks(params["bias_ih" + sfx], hidden) if bias else zeros,
                bR=swap_rz_blocks(params["bias_hh" + sfx], hidden) if bias else zeros))
        specs.append(GRU(input_size=input_size if k == 0 else D * hidden, hidden_size=hidden,
                         directions=dirs, direction="bidirectional" if D == 2 else "forward",
                         linear_before_reset=True, has_bias=bias))
    return specs


# ----------------------------------------------------------------------------------------------
# state_dicts and files

GRU_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<name>(?:weight|bias)_(?:ih|hh))"
                      r"(?:_l(?P<layer>\d{1,9})(?P<rev>_reverse)?)?$")  # 9 digits: int() stays cheap

# What a state_dict cannot tell about a model with several modules (info["assumed"]).
ASSUME_KEY_ORDER = ("the modules run in the order of their keys (their registration order in __init__), each "
                    "feeding the next")
ASSUME_SHAPE_ORDER = ("the module order was inferred from the shapes (the file does not keep the key order): "
                      "the only order in which each module's input size matches the previous module's output")
ASSUME_EVERY_STEP = ("the Linear layer(s) are applied to every time step of the GRU output: a state_dict cannot "
                     "tell whether forward() uses all steps or only out[:, -1]")
ASSUME_NO_ACTIVATION = ("no activation between or after the Linear layers: activations (ReLU, Tanh, ...) have no "
                        "weights, so a state_dict does not record them; only a purely linear head is exact")


def _split_gru_keys(keys) -> Tuple[Dict[str, list], List[str]]:
    """Group GRU parameter keys by module prefix; return (prefix -> [match], other keys)."""
    groups: Dict[str, list] = {}
    other = []
    for key in keys:
        m = GRU_KEY.match(key)
        if m:
            groups.setdefault(m["prefix"], []).append(m)
        else:
            other.append(key)
    return groups, other


def _split_linear_keys(keys, sd: Mapping) -> Tuple[Dict[str, Dict[str, str]], List[str]]:
    """Group `<prefix>.weight` (2-D) and the optional `<prefix>.bias` into Linear layers; return
    (prefix -> {"weight": key, "bias": key}, the keys that are not Linear weights)."""
    groups: Dict[str, Dict[str, str]] = {}
    for key in keys:
        prefix, dot, leaf = key.rpartition(".")
        if dot and leaf in ("weight", "bias"):
            groups.setdefault(prefix + ".", {})[leaf] = key
    linears = {p: g for p, g in groups.items() if "weight" in g and np.ndim(sd[g["weight"]]) == 2}
    taken = {key for g in linears.values() for key in g.values()}
    return linears, [key for key in keys if key not in taken]


@dataclass
class _Module:
    prefix: str
    kind: str              # "GRU", "Linear" or "Embedding"
    layers: list
    input_size: int
    output_size: int


def _gru_module(sd: Mapping, prefix: str, matches: list) -> _Module:
    params = {m["name"] + param_suffix(None if m["layer"] is None else int(m["layer"]), bool(m["rev"])):
              to_f32(sd[m.string], m.string) for m in matches}
    specs = _stack_from_params(params, prefix)
    return _Module(prefix, "GRU", specs, specs[0].input_size, specs[-1].output_size)


def _linear_module(sd: Mapping, prefix: str, keys: Dict[str, str]) -> _Module:
    w = to_f32(sd[keys["weight"]], keys["weight"])
    b = None
    if "bias" in keys:
        b = to_f32(sd[keys["bias"]], keys["bias"])
        if b.shape != (w.shape[0],):
            raise ValueError(f"{keys['bias']!r}: expected shape ({w.shape[0]},) to match {keys['weight']!r} "
                             f"{tuple(w.shape)}, got {tuple(b.shape)}")
    return _Module(prefix, "Linear", [Dense(w, b)], w.shape[1], w.shape[0])


def _is_embedding(prefix: str, keys: Dict[str, str]) -> bool:
    """An nn.Embedding's `weight` (num_embeddings, dim): named so, and without a bias."""
    return "emb" in prefix.lower() and "bias" not in keys


def _embedding_module(sd: Mapping, prefix: str, keys: Dict[str, str]) -> _Module:
    table = to_f32(sd[keys["weight"]], keys["weight"])
    return _Module(prefix, "Embedding", [Embedding(table)], 1, table.shape[1])


def _chain_error(order: List[_Module]) -> Optional[str]:
    """Why `order` does not chain (each module's input size = the previous output size), or None."""
    for prev, mod in zip(order, order[1:]):
        if mod.input_size != prev.output_size:
            what = {"GRU": "GRU input size", "Linear": "Linear input size (weight is (out, in))"}.get(mod.kind, "input")
            gives = "gives vectors of" if prev.kind == "Embedding" else "outputs"
            return (f"{mod.kind} {mod.prefix!r} has {what} {mod.input_size}, but {prev.kind} {prev.prefix!r} "
                    f"before it {gives} {prev.output_size}")
    return None


CHAIN_REFUSAL = ("the modules do not form one chain [Embedding ->] GRU -> Linear -> ... (an attention block, a "
                 "branch or several heads has no exact equivalent in gru_infer's layers)")


def _orders_by_shape(grus: List[_Module], linears: List[_Module], limit: int = 2) -> List[List[_Module]]:
    """Up to `limit` orders (all GRUs, then all Linears) in which the shapes chain."""
    found: List[List[_Module]] = []

    def extend(order, rest_grus, rest_linears):
        if len(found) >= limit:
            return
        if not rest_grus and not rest_linears:
            found.append(order)
            return
        for i, mod in enumerate(rest_grus or rest_linears):
            if not order or mod.input_size == order[-1].output_size:
                if rest_grus:
                    extend(order + [mod], rest_grus[:i] + rest_grus[i + 1:], rest_linears)
                else:
                    extend(order + [mod], [], rest_linears[:i] + rest_linears[i + 1:])

    extend([], grus, linears)
    return found


def layers_from_state_dict(state_dict: Mapping, module_order: str = "keys",
                           head: Optional[str] = None) -> Tuple[list, Dict[str, Any]]:
    """Convert a state_dict: one or more GRU modules (nn.GRU of any depth/direction/bias, or nn.GRUCell),
    optionally followed by Linear layers (`<prefix>.weight` (out, in) and `<prefix>.bias`).

    Keys carry their module's prefix (e.g. `encoder.rnn.`). A state_dict holds weights only, so for a
    model with several modules some things are assumed and listed in info["assumed"]: the modules run
    in key order (module_order="keys") each feeding the next; a Linear head is applied to every time
    step; nothing runs between the modules (activations are not stored in a state_dict, so only a
    purely linear head is exact). module_order="shapes" is for files that do not keep the key order
    (safetensors stores keys sorted): the GRUs then the Linears are put in the only order in which
    their shapes chain, and several possible orders are an error. `head` says which output of the last
    GRU the Linear layers read (`_state_dict_head.HEADS`); None: every step, refused after a
    bidirectional GRU (where the usual heads differ).

    Returns (layers, info); info = {"source": "pytorch", "batch_first": None (a state_dict does not
    record it), "prefix": the first GRU's prefix, "modules": [(prefix, "GRU" | "Linear"), ...] in run
    order, "assumed": [str, ...] (empty for a single GRU module)}.
    """
    names = lambda mods: [m.prefix for m in mods]  # noqa: E731
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"expected a state_dict (a mapping of names to tensors), got {type(state_dict).__name__}")
    if module_order not in ("keys", "shapes"):
        raise ValueError(f"module_order must be 'keys' or 'shapes', got {module_order!r}")
    check_head(head)
    sd = {str(k): v for k, v in state_dict.items()}
    groups, other = _split_gru_keys(sd)
    if not groups:
        raise ValueError(f"no GRU weights (keys like 'weight_ih_l0' or 'weight_ih') in the state_dict; "
                         f"keys: {sorted(sd)}")
    linear_keys, unknown = _split_linear_keys(other, sd)
    if unknown:
        raise ValueError(f"the state_dict has keys that are neither GRU nor Linear weights: {sorted(unknown)}. "
                         f"Only GRU modules followed by Linear layers can be imported from a state_dict; for a "
                         f"model with other layers, {FROM_TORCH_HINT}")
    grus = [_gru_module(sd, p, ms) for p, ms in groups.items()]
    embeddings = [_embedding_module(sd, p, ks) for p, ks in linear_keys.items() if _is_embedding(p, ks)]
    linears = [_linear_module(sd, p, ks) for p, ks in linear_keys.items() if not _is_embedding(p, ks)]
    if len(embeddings) > 1:
        raise UnsupportedModelError(f"the state_dict has several embedding tables {names(embeddings)}; only one, "
                                    f"as the first layer, is supported")

    if module_order == "keys":
        position = {key: i for i, key in enumerate(sd)}
        first_key = {p: min(position[m.string] for m in ms) for p, ms in groups.items()}
        first_key.update({p: min(position[k] for k in ks.values()) for p, ks in linear_keys.items()})
        order = embeddings + sorted(grus + linears, key=lambda m: first_key[m.prefix])
        body = order[len(embeddings):]
        if body[0].kind != "GRU" or any(a.kind == "Linear" and b.kind == "GRU" for a, b in zip(body, body[1:])):
            raise UnsupportedModelError(
                f"the state_dict's modules come in the order {[(m.prefix, m.kind) for m in order]}; only "
                f"GRU modules followed by Linear layers (after an optional Embedding) can be imported from a "
                f"state_dict; {FROM_TORCH_HINT}")
        problem = _chain_error(order)
        if problem:
            several = f"holds several GRU modules (prefixes {names(grus)}) and " if len(grus) > 1 else ""
            raise UnsupportedModelError(
                f"the state_dict {several}does not chain in key order: {problem}: {CHAIN_REFUSAL}. The order "
                f"of the modules in forward() is unknown from the weights alone: {FROM_TORCH_HINT}")
        assumed = [ASSUME_KEY_ORDER] if len(order) > 1 else []
    else:
        orders = _orders_by_shape(grus, linears)
        orders = [embeddings + o for o in orders if not _chain_error(embeddings + o)]
        if len(orders) != 1:
            what = "no order" if not orders else f"several orders (e.g. {names(orders[0])} and {names(orders[1])})"
            raise UnsupportedModelError(
                f"the key order is unknown, and {what} of the GRU modules {names(grus)} and the Linear layers "
                f"{names(linears)} chain by shape (GRUs first, then Linears); {FROM_TORCH_HINT}")
        order = orders[0]
        assumed = [ASSUME_SHAPE_ORDER] if len(order) > 1 else []
    if linears:
        assumed += [ASSUME_EVERY_STEP] if head is None else []
        assumed += [ASSUME_NO_ACTIVATION]
    if embeddings:
        assumed.append(f"{embeddings[0].prefix}weight (no bias, named so) is an nn.Embedding table: the model "
                       f"takes integer ids")
    last_gru = max(i for i, m in enumerate(order) if m.kind == "GRU")
    after = order[last_gru + 1] if last_gru + 1 < len(order) else None
    layers = [layer for mod in order[:last_gru] for layer in mod.layers]
    layers += with_head(order[last_gru].layers, head, order[last_gru].prefix, after and after.prefix,
                        after.input_size if after else 0)
    layers += [layer for mod in order[last_gru + 1:] for layer in mod.layers]
    info = {"batch_first": None, "source": "pytorch", "prefix": order[0].prefix,
            "modules": [(m.prefix, m.kind) for m in order], "assumed": assumed}
    if head is not None:
        info["head"] = f"{head}: {HEADS[head][0]}: {HEADS[head][1]}"
    return layers, info


def _stack_from_params(params: Dict[str, np.ndarray], prefix: str) -> List[GRU]:
    """Infer the GRU configuration from un-prefixed keys and check every shape."""
    def key(name):  # the user's key, for messages
        return prefix + name

    cell_keys = [k for k in params if "_l" not in k]
    if cell_keys and len(cell_keys) != len(params):
        raise ValueError(f"the state_dict mixes GRUCell keys {[key(k) for k in cell_keys]} with GRU layer keys")
    cell = bool(cell_keys)
    if cell:
        if any(k.endswith("_reverse") for k in params):
            raise ValueError("'_reverse' keys need a layer suffix ('_l0_reverse')")
        num_layers, bidirectional = None, False
    else:
        found = {int(re.search(r"_l(\d+)", k).group(1)) for k in params}
        # n distinct layer indices are 0..n-1 unless one is missing below n: never build range(max + 1)
        # (a key "weight_ih_l10000000" would make it 10 million entries)
        missing = [i for i in range(len(found)) if i not in found]
        if missing:
            raise ValueError(f"GRU layer(s) {missing[:5]}{'...' if len(missing) > 5 else ''} missing from the "
                             f"state_dict: found keys for layers {sorted(found)[:10]} (e.g. no "
                             f"{key(f'weight_ih_l{missing[0]}')!r})")
        num_layers, bidirectional = max(found) + 1, any(k.endswith("_reverse") for k in params)
    bias = any(k.startswith("bias") for k in params)

    # hidden and input sizes from layer 0, forward direction
    sfx0 = param_suffix(None if cell else 0, False)
    for name in ("weight_hh" + sfx0, "weight_ih" + sfx0):
        if name not in params:
            raise ValueError(f"missing key {key(name)!r}")
    r0, w0 = params["weight_hh" + sfx0], params["weight_ih" + sfx0]
    if r0.ndim != 2 or r0.shape[0] != 3 * r0.shape[1]:
        raise ValueError(f"{key('weight_hh' + sfx0)!r}: expected shape (3*hidden, hidden), got {tuple(r0.shape)}")
    H = r0.shape[1]
    if w0.ndim != 2:
        raise ValueError(f"{key('weight_ih' + sfx0)!r}: expected shape (3*hidden, input), got {tuple(w0.shape)}")
    input_size = w0.shape[1]

    D = 2 if bidirectional else 1
    expected = {}
    for k in range(num_layers or 1):
        for reverse in (False, True)[:D]:
            sfx = param_suffix(None if cell else k, reverse)
            expected["weight_ih" + sfx] = (3 * H, input_size if k == 0 else D * H)
            expected["weight_hh" + sfx] = (3 * H, H)
            if bias:
                expected["bias_ih" + sfx] = expected["bias_hh" + sfx] = (3 * H,)
    for name, shape in expected.items():
        if name not in params:
            raise ValueError(f"missing key {key(name)!r} (expected shape {shape})")
        if tuple(params[name].shape) != shape:
            hint = f" (layers after the first take the {D}*{H} outputs of the previous layer)" \
                if name.startswith("weight_ih_l") and not name.startswith("weight_ih_l0") else ""
            raise ValueError(f"{key(name)!r}: expected shape {shape}, got {tuple(params[name].shape)}{hint}")
    unexpected = sorted(set(params) - set(expected))
    if unexpected:
        raise ValueError(f"unexpected keys {[key(k) for k in unexpected]} for a GRU with hidden_size={H}, "
                         f"num_layers={num_layers or 1}, bidirectional={bidirectional}, bias={bias}")
    return gru_stack(params, num_layers, bidirectional, bias, input_size, H)


