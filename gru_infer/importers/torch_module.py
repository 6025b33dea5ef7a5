"""Convert PyTorch models and state_dicts into the layer specs of `gru_infer.layers`.

torch is imported lazily, inside the functions, so `import gru_infer.torch_import` works without it.

Entry points (each returns `(layers, info)`, info = {"batch_first": bool | None, "source": "pytorch", ...}):
- `layers_from_torch(module)`: a live module. nn.GRU / nn.GRUCell / nn.Linear / activations directly;
  nn.Sequential and custom modules through a torch.fx trace that is interpreted node by node.
- `layers_from_state_dict(state_dict)`: GRU modules (or a GRUCell), optionally followed by Linear layers.
- `load_torch_file(path)`: a torch.save (state_dict or module) or torch.jit.save file, read without torch.
"""
from __future__ import annotations

import inspect
import operator
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .layers import (GRU, Activation, ActivationLayer, Dense, Embedding, GRUDirection, LastStep,
                     swap_rz_blocks)

__all__ = ["UnsupportedModelError", "layers_from_torch", "layers_from_state_dict", "load_torch_file"]

FROM_TORCH_HINT = "build the module and use gru_infer.from_torch(module)"


class UnsupportedModelError(ValueError):
    """The model uses a module, operation or pattern that has no exact equivalent in our layer list."""


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("this needs PyTorch, which is not installed: pip install torch") from None
    return torch


def _to_f32(value, name: str) -> np.ndarray:
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

def _param_suffix(layer: Optional[int], reverse: bool) -> str:
    """`_l0`, `_l1_reverse`, ... ; '' for GRUCell keys (layer None)."""
    return "" if layer is None else f"_l{layer}" + ("_reverse" if reverse else "")


def _gru_stack(params: Mapping, num_layers: Optional[int], bidirectional: bool, bias: bool,
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
            sfx = _param_suffix(layer, reverse)
            dirs.append(GRUDirection(
                W=swap_rz_blocks(params["weight_ih" + sfx], hidden),
                R=swap_rz_blocks(params["weight_hh" + sfx], hidden),
                bW=swap_rz_blocks(params["bias_ih" + sfx], hidden) if bias else zeros,
                bR=swap_rz_blocks(params["bias_hh" + sfx], hidden) if bias else zeros))
        specs.append(GRU(input_size=input_size if k == 0 else D * hidden, hidden_size=hidden,
                         directions=dirs, direction="bidirectional" if D == 2 else "forward",
                         linear_before_reset=True, has_bias=bias))
    return specs


def _gru_module_specs(gru) -> List[GRU]:
    if getattr(gru, "proj_size", 0):
        raise UnsupportedModelError("GRU with proj_size is not supported")
    params = {name: _to_f32(p, name) for name, p in gru.named_parameters()}
    return _gru_stack(params, gru.num_layers, gru.bidirectional, gru.bias, gru.input_size, gru.hidden_size)


def _gru_cell_spec(cell) -> GRU:
    params = {name: _to_f32(p, name) for name, p in cell.named_parameters()}
    return _gru_stack(params, None, False, cell.bias, cell.input_size, cell.hidden_size)[0]


# ----------------------------------------------------------------------------------------------
# Simple modules: Linear, activations, Dropout, Embedding

def _module_name(mod) -> str:
    cls = type(mod)
    return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn.") else f"{cls.__module__}.{cls.__qualname__}"


def _softmax_dim_ok(dim, ndim: int) -> bool:
    return dim is not None and (dim == -1 or dim == ndim - 1)


def _simple_module_layers(mod, ndim: int) -> Optional[list]:
    """Layers for a Linear/activation/Dropout module applied to an `ndim`-d value.

    None if the module is not one of these; raises for unsupported settings.
    """
    nn = _import_torch().nn
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Identity: "identity",
              nn.Softsign: "softsign"}
    if isinstance(mod, nn.Dropout):
        return []  # inference: dropout is the identity
    if isinstance(mod, nn.Linear):
        bias = None if mod.bias is None else _to_f32(mod.bias, "bias")
        return [Dense(_to_f32(mod.weight, "weight"), bias)]
    if type(mod) in simple:
        act = Activation(simple[type(mod)])
    elif isinstance(mod, (nn.Softmax, nn.LogSoftmax)):
        if not _softmax_dim_ok(mod.dim, ndim):
            raise UnsupportedModelError(f"{_module_name(mod)}(dim={mod.dim}) on a {ndim}-d value: only the "
                                        f"last dimension (dim=-1) is supported")
        act = Activation("softmax" if isinstance(mod, nn.Softmax) else "log_softmax")
    elif isinstance(mod, nn.LeakyReLU):
        act = Activation("leaky_relu", alpha=float(mod.negative_slope))
    elif isinstance(mod, nn.ELU):
        act = Activation("elu", alpha=float(mod.alpha))
    elif isinstance(mod, nn.Softplus):
        _check_softplus(mod.beta, mod.threshold)
        act = Activation("softplus")
    elif isinstance(mod, nn.Hardsigmoid):
        act = Activation("hard_sigmoid", alpha=1.0 / 6.0, beta=0.5)  # relu6(x + 3) / 6
    else:
        return None
    return [ActivationLayer(act)]


def _check_softplus(beta, threshold):
    if beta != 1 or threshold != 20:
        raise UnsupportedModelError(f"Softplus(beta={beta}, threshold={threshold}): only beta=1, threshold=20 "
                                    f"is supported")


def _embedding_layer(mod) -> Embedding:
    if mod.max_norm is not None:
        # max_norm renormalises looked-up rows (and mutates the weight) at call time
        raise UnsupportedModelError("nn.Embedding with max_norm is not supported")
    return Embedding(_to_f32(mod.weight, "weight"))


# ----------------------------------------------------------------------------------------------
# layers_from_torch

def layers_from_torch(module) -> Tuple[list, Dict[str, Any]]:
    """Convert a live PyTorch module to `(layers, info)`; see the module docstring.

    Dropout is ignored (eval semantics); parameters are converted to float32.
    """
    torch = _import_torch()
    nn = torch.nn
    info: Dict[str, Any] = {"batch_first": None, "source": "pytorch"}
    if isinstance(module, nn.GRU):
        info["batch_first"] = bool(module.batch_first)
        return _gru_module_specs(module), info  # the output sequence (element 0 of torch's tuple)
    if isinstance(module, nn.GRUCell):
        return [_gru_cell_spec(module)], info  # run over time; one step == one cell call
    if isinstance(module, nn.Embedding):
        return [_embedding_layer(module)], info
    simple = _simple_module_layers(module, ndim=3)
    if simple is not None:
        if not simple:
            raise UnsupportedModelError(f"{_module_name(module)} alone has no layers to convert")
        return simple, info
    if type(module).__module__.startswith("torch.nn.") and not isinstance(module, nn.Sequential):
        raise UnsupportedModelError(f"unsupported module {_module_name(module)}")
    layers, batch_first = _FxConverter(module).run()
    info["batch_first"] = batch_first
    return layers, info


def _trace(module):
    """fx-trace `module`; forward args after the first that default to a constant are fixed to it."""
    fx = _import_torch().fx
    params = list(inspect.signature(module.forward).parameters.values())[1:]
    concrete = {p.name: p.default for p in params
                if p.default is not inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    try:
        gm = fx.symbolic_trace(module, concrete_args=concrete or None)
    except Exception as e:  # TraceError, data-dependent control flow, ...
        raise UnsupportedModelError(f"could not trace {type(module).__name__}.forward with torch.fx "
                                    f"({type(e).__name__}: {e})") from e
    gm.graph.eliminate_dead_code()  # e.g. the unused half of `out, h = self.gru(x)`
    return gm


# Values flowing through the traced graph. The chain of layers is built in order, so at any time
# exactly one value (`tip`) is the output of the layers so far; only the tip can be consumed.

@dataclass(eq=False)
class _Seq:
    """A (B, T, F) or (T, B, F) sequence; batch_first None until a GRU fixes the layout."""
    batch_first: Optional[bool]
    is_input: bool = False


@dataclass(eq=False)
class _Vec:
    """A (B, F) value (after LastStep or a GRU's final state)."""


@dataclass(eq=False)
class _GRUResult:
    """The (output, h_n) tuple of a GRU module."""
    name: str
    num_layers: int
    num_dirs: int
    batch_first: bool


@dataclass(eq=False)
class _HN:
    gru: _GRUResult


@dataclass(eq=False)
class _HNPart:
    """h_n[index]: turned into a chain value only when used, so cat((h[-2], h[-1])) can work."""
    hn: _HN
    index: int
    node: str


@dataclass(eq=False)
class _Meta:
    """Shapes, sizes, devices, dtypes: may be read from any value without consuming it."""


@dataclass(eq=False)
class _Zeros:
    """A zero tensor (e.g. an explicit zero h0)."""


@dataclass(eq=False)
class _Other:
    """An extra forward argument."""
    name: str


def _full(s) -> bool:
    return isinstance(s, slice) and s == slice(None)


def _normalize_index(idx, ndim: int) -> Optional[tuple]:
    """Expand `...` and trailing `:` so the index has one entry per dimension; None if not simple."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    if idx.count(Ellipsis) > 1:
        return None
    if Ellipsis in idx:
        i = idx.index(Ellipsis)
        idx = idx[:i] + (slice(None),) * (ndim - len(idx) + 1) + idx[i + 1:]
    if len(idx) > ndim:
        return None
    return idx + (slice(None),) * (ndim - len(idx))


def _is_int(x) -> bool:
    return type(x) is int


def _arg(node, pos: int, name: str, default=None):
    return node.args[pos] if len(node.args) > pos else node.kwargs.get(name, default)


def _target_name(target) -> str:
    mod = getattr(target, "__module__", None) or ""
    mod = {"_operator": "operator", "torch._C._nn": "torch.nn.functional",
           "torch._C._VariableFunctions": "torch"}.get(mod, mod)
    name = getattr(target, "__name__", repr(target))
    return f"{mod}.{name}" if mod else name


class _FxConverter:
    def __init__(self, module):
        self.module = module
        self.gm = _trace(module)
        self.modules = dict(self.gm.named_modules())
        self.layers: list = []
        self.vals: Dict[Any, Any] = {}
        self.tip = None
        self.batch_first: Optional[bool] = None  # the module input's layout = the first GRU's
        self._build_tables()

    def _build_tables(self):
        torch = _import_torch()
        F = torch.nn.functional
        act = Activation
        # function -> callable(node, value) returning an Activation (args checked there)
        self.fn_acts: Dict[Callable, Callable] = {
            torch.relu: lambda n, v: act("relu"), F.relu: lambda n, v: act("relu"),
            torch.tanh: lambda n, v: act("tanh"), F.tanh: lambda n, v: act("tanh"),
            torch.sigmoid: lambda n, v: act("sigmoid"), F.sigmoid: lambda n, v: act("sigmoid"),
            torch.softmax: self._softmax("softmax"), F.softmax: self._softmax("softmax"),
            torch.log_softmax: self._softmax("log_softmax"), F.log_softmax: self._softmax("log_softmax"),
            F.leaky_relu: lambda n, v: act("leaky_relu", alpha=float(_arg(n, 1, "negative_slope", 0.01))),
            F.elu: lambda n, v: act("elu", alpha=float(_arg(n, 1, "alpha", 1.0))),
            F.softplus: self._softplus, F.softsign: lambda n, v: act("softsign"),
            F.hardsigmoid: lambda n, v: act("hard_sigmoid", alpha=1.0 / 6.0, beta=0.5),
        }
        self.method_acts = {"relu": self.fn_acts[torch.relu], "tanh": self.fn_acts[torch.tanh],
                            "sigmoid": self.fn_acts[torch.sigmoid], "softmax": self._softmax("softmax"),
                            "log_softmax": self._softmax("log_softmax")}
        self.fn_dropout = {F.dropout, F.alpha_dropout}

    # -- helpers ---------------------------------------------------------------------------
    def _fail(self, node, what: str):
        raise UnsupportedModelError(f"{what} at node {node.name!r}")

    def _softmax(self, kind):
        def make(node, val):
            dim, dtype = _arg(node, 1, "dim"), node.kwargs.get("dtype")
            ndim = 2 if isinstance(val, _Vec) else 3
            if dtype is not None or not _is_int(dim) or not _softmax_dim_ok(dim, ndim):
                self._fail(node, f"{kind}(dim={dim!r}) on a {ndim}-d value: only dim=-1 (the last dimension) "
                                 f"is supported")
            return Activation(kind)
        return make

    def _softplus(self, node, val):
        _check_softplus(_arg(node, 1, "beta", 1.0), _arg(node, 2, "threshold", 20.0))
        return Activation("softplus")

    def _value(self, arg):
        return self.vals[arg] if hasattr(arg, "op") else arg  # fx Node -> its value

    def _take(self, node, arg):
        """Consume `arg` as the input of the next layer; it must be the output of the chain so far."""
        val = self._value(arg)
        if isinstance(val, _HNPart):
            val = self._final_state(node, [val])
        if isinstance(val, _GRUResult):
            self._fail(node, f"{node.name!r} receives the (output, h_n) tuple of GRU {val.name!r}; select "
                             f"the output or h_n first")
        if isinstance(val, _HN):
            self._fail(node, f"h_n of GRU {val.gru.name!r} is used whole; only h_n[-1] (the last layer's "
                             f"final state) is supported")
        if isinstance(val, _Other):
            self._fail(node, f"forward argument {val.name!r} is used; only a single input is supported")
        if not isinstance(val, (_Seq, _Vec)):
            self._fail(node, f"unsupported input {arg} (not a tensor of the layer chain)")
        if val is not self.tip:
            self._fail(node, f"the value {arg} is used after a later layer already consumed it; only a "
                             f"single chain of layers (no branches or skip connections) is supported")
        return val

    def _push(self, layers: list, out):
        self.layers.extend(layers)
        self.tip = out
        return out

    def _final_state(self, node, parts: List[_HNPart]):
        """h_n[-1] (unidirectional) or cat(h_n[-2], h_n[-1]) (bidirectional) -> final state."""
        hn = parts[0].hn
        g = hn.gru
        last_layer = [(g.num_layers - 1) * g.num_dirs + d for d in range(g.num_dirs)]
        if [p.index for p in parts] != last_layer or any(p.hn is not hn for p in parts):
            where = ", ".join(repr(p.node) for p in parts)
            if g.num_dirs == 2 and len(parts) == 1 and parts[0].index == last_layer[-1]:
                what = (f"h_n[-1] of bidirectional GRU {g.name!r} is the backward direction's state only; "
                        f"use torch.cat((h_n[-2], h_n[-1]), dim=1) for the final state of both directions")
            else:
                what = (f"h_n entries {[p.index for p in parts]} of GRU {g.name!r} cannot be mapped; "
                        f"supported: h_n[-1] (unidirectional) or torch.cat((h_n[-2], h_n[-1]), dim=1)")
            raise UnsupportedModelError(f"{what} (at node {where})")
        if hn is not self.tip:
            self._fail(node, f"h_n of GRU {g.name!r} is used together with a later layer's output")
        # The engine's final-state output of the last spec is exactly h_n of the last layer.
        self.layers[-1].return_sequences = False
        self.tip = _Vec()
        return self.tip

    def _activation(self, node, x_arg, make):
        val = self._take(node, x_arg)
        act = make(node, val)
        return self._push([ActivationLayer(act)], _Seq(val.batch_first) if isinstance(val, _Seq) else _Vec())

    def _flatten(self, node, x_arg, start, end):
        val = self._take(node, x_arg)
        if isinstance(val, _Vec) and start in (1, -1) and end in (1, -1):
            return val  # flatten(1) of a (B, F) value is a no-op
        self._fail(node, f"flatten(start_dim={start}, end_dim={end}) is only supported on a (batch, features) value")

    def _last_step(self, node, val, index):
        """out[:, -1] (batch-first) or out[-1] (seq-first) -> LastStep; anything else is an error."""
        bf = val.batch_first
        idx = _normalize_index(index, 3)
        time_dim = 1 if bf else 0
        if bf is None or idx is None or not (_is_int(idx[time_dim]) and idx[time_dim] == -1 and all(
                _full(s) for i, s in enumerate(idx) if i != time_dim)):
            layout = {True: "a batch-first", False: "a seq-first", None: "an unknown-layout"}[bf]
            supported = {True: "out[:, -1]", False: "out[-1]", None: "none before the first GRU"}[bf]
            self._fail(node, f"indexing {index!r} of {layout} sequence (supported: {supported})")
        self._take(node, node.args[0])
        return self._push([LastStep()], _Vec())

    def _hn_part(self, node, hn: _HN, index):
        g = hn.gru
        n = g.num_layers * g.num_dirs
        idx = _normalize_index(index, 3)
        if idx is None or not _is_int(idx[0]) or not -n <= idx[0] < n or not all(_full(s) for s in idx[1:]):
            self._fail(node, f"indexing h_n of GRU {g.name!r} with {index!r}: only h_n[-1] is supported")
        return _HNPart(hn, idx[0] % n, node.name)

    # -- node handlers ---------------------------------------------------------------------
    def run(self) -> Tuple[list, Optional[bool]]:
        for node in self.gm.graph.nodes:
            self.vals[node] = getattr(self, "_" + node.op)(node)
        if not self.layers:
            raise UnsupportedModelError(f"{type(self.module).__name__} has no layers to convert")
        return self.layers, self.batch_first

    def _placeholder(self, node):
        if self.tip is None:
            self.tip = _Seq(None, is_input=True)
            return self.tip
        return _Other(node.name)

    def _get_attr(self, node):
        self._fail(node, f"direct use of parameter or buffer {node.target!r}")

    def _output(self, node):
        (result,) = node.args
        if isinstance(result, (tuple, list)):
            self._fail(node, "the module returns several values; only one output tensor is supported")
        val = self._value(result)
        if isinstance(val, _GRUResult) and val is self.tip:
            return val  # returning the GRU's (output, h_n) tuple: like a bare nn.GRU, we give the output
        self._take(node, result)

    def _call_module(self, node):
        nn = _import_torch().nn
        mod = self.modules[node.target]
        where = f"{_module_name(mod)} ({node.target!r})"
        if isinstance(mod, nn.GRU):
            return self._gru(node, mod)
        if isinstance(mod, nn.GRUCell):
            self._fail(node, f"{where} inside a module is not supported (convert the GRUCell itself)")
        if isinstance(mod, nn.Embedding):
            val = self._take(node, node.args[0])
            if not (isinstance(val, _Seq) and val.is_input):
                self._fail(node, f"{where} must be the first layer")
            return self._push([_embedding_layer(mod)], _Seq(None))
        if isinstance(mod, nn.Flatten):
            return self._flatten(node, node.args[0], mod.start_dim, mod.end_dim)
        val = self._take(node, node.args[0])
        if len(node.args) > 1 or node.kwargs:
            self._fail(node, f"{where} called with extra arguments")
        layers = _simple_module_layers(mod, 2 if isinstance(val, _Vec) else 3)
        if layers is None:
            self._fail(node, f"unsupported module {where}")
        return self._push(layers, _Seq(val.batch_first) if isinstance(val, _Seq) else val)

    def _gru(self, node, mod):
        h0 = _arg(node, 1, "hx")
        if h0 is not None and not isinstance(self._value(h0), _Zeros):
            src = self._value(h0)
            what = f"the forward argument {src.name!r}" if isinstance(src, _Other) else f"node {h0}"
            self._fail(node, f"the initial state h0 of GRU {node.target!r} comes from {what}; only a zero "
                             f"initial state (no h0) is supported")
        val = self._take(node, node.args[0])
        if not isinstance(val, _Seq):
            self._fail(node, f"GRU {node.target!r} receives a (batch, features) value, not a sequence")
        bf = bool(mod.batch_first)
        if val.batch_first is not None and val.batch_first != bf:
            self._fail(node, f"GRU {node.target!r} has batch_first={bf} but its input sequence is "
                             f"{'batch-first' if val.batch_first else 'seq-first'}")
        if self.batch_first is None:
            self.batch_first = bf
        specs = _gru_module_specs(mod)
        res = _GRUResult(node.target, mod.num_layers, 2 if mod.bidirectional else 1, bf)
        return self._push(specs, res)

    def _call_function(self, node):
        torch = _import_torch()
        fn = node.target
        x = node.args[0] if node.args else None
        val = self._value(x)
        if fn is operator.getitem:
            return self._getitem(node, val, node.args[1])
        if fn is getattr:
            if node.args[1] in ("shape", "device", "dtype"):
                return _Meta()
            self._fail(node, f"unsupported attribute .{node.args[1]}")
        if isinstance(val, _Meta) and fn in (operator.add, operator.sub, operator.mul, operator.floordiv):
            return _Meta()
        if fn in (torch.zeros,):
            return _Zeros()
        if fn in self.fn_acts:
            return self._activation(node, x, self.fn_acts[fn])
        if fn in self.fn_dropout:
            return self._take(node, x)
        if fn is torch.flatten:
            return self._flatten(node, x, _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1))
        if fn is torch.squeeze:
            return self._squeeze(node, val, _arg(node, 1, "dim"))
        if fn is torch.cat:
            return self._cat(node)
        self._fail(node, f"unsupported operation {_target_name(fn)}")

    def _call_method(self, node):
        name = node.target
        x = node.args[0]
        val = self._value(x)
        if name in ("size", "dim"):
            return _Meta()
        if name == "new_zeros" or isinstance(val, _Zeros) and name in ("to", "requires_grad_", "detach", "float",
                                                                       "contiguous"):
            return _Zeros()
        if isinstance(val, _Meta) and name == "__getitem__":
            return _Meta()
        if name in self.method_acts:
            return self._activation(node, x, self.method_acts[name])
        if name == "contiguous":
            return self._take(node, x)
        if name == "flatten":
            return self._flatten(node, x, _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1))
        if name == "squeeze":
            return self._squeeze(node, val, _arg(node, 1, "dim"))
        self._fail(node, f"unsupported method Tensor.{name}")

    def _getitem(self, node, val, index):
        if isinstance(val, _Meta):
            return _Meta()
        if isinstance(val, _GRUResult) and index in (0, 1):
            self._take_tuple(node, val)
            self.tip = _Seq(val.batch_first) if index == 0 else _HN(val)
            return self.tip
        if isinstance(val, _Seq):
            return self._last_step(node, val, index)
        if isinstance(val, _HN):
            return self._hn_part(node, val, index)
        self._fail(node, f"unsupported indexing {index!r}")

    def _take_tuple(self, node, val):
        if val is not self.tip:
            self._fail(node, f"both the output and h_n of GRU {val.name!r} are used, or the GRU's result is "
                             f"used after a later layer; only a single chain of layers is supported")

    def _squeeze(self, node, val, dim):
        # h_n of a 1-layer unidirectional GRU is (1, B, H): squeeze(0) is h_n[0]
        if isinstance(val, _HN) and val.gru.num_layers * val.gru.num_dirs == 1 and dim == 0:
            return _HNPart(val, 0, node.name)
        self._fail(node, f"squeeze(dim={dim!r}) is only supported on h_n of a 1-layer unidirectional GRU")

    def _cat(self, node):
        tensors, dim = node.args[0], _arg(node, 1, "dim", 0)
        parts = [self._value(t) for t in tensors] if isinstance(tensors, (list, tuple)) else []
        if dim in (1, -1) and parts and all(isinstance(p, _HNPart) for p in parts):
            return self._final_state(node, parts)
        self._fail(node, "unsupported operation torch.cat (only torch.cat((h_n[-2], h_n[-1]), dim=1) of a "
                         "bidirectional GRU is supported)")


# ----------------------------------------------------------------------------------------------
# state_dicts and files

_GRU_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<name>(?:weight|bias)_(?:ih|hh))"
                      r"(?:_l(?P<layer>\d+)(?P<rev>_reverse)?)?$")

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
        m = _GRU_KEY.match(key)
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
    kind: str              # "GRU" or "Linear"
    layers: list
    input_size: int
    output_size: int


def _gru_module(sd: Mapping, prefix: str, matches: list) -> _Module:
    params = {m["name"] + _param_suffix(None if m["layer"] is None else int(m["layer"]), bool(m["rev"])):
              _to_f32(sd[m.string], m.string) for m in matches}
    specs = _stack_from_params(params, prefix)
    return _Module(prefix, "GRU", specs, specs[0].input_size, specs[-1].output_size)


def _linear_module(sd: Mapping, prefix: str, keys: Dict[str, str]) -> _Module:
    w = _to_f32(sd[keys["weight"]], keys["weight"])
    b = None
    if "bias" in keys:
        b = _to_f32(sd[keys["bias"]], keys["bias"])
        if b.shape != (w.shape[0],):
            raise ValueError(f"{keys['bias']!r}: expected shape ({w.shape[0]},) to match {keys['weight']!r} "
                             f"{tuple(w.shape)}, got {tuple(b.shape)}")
    return _Module(prefix, "Linear", [Dense(w, b)], w.shape[1], w.shape[0])


def _chain_error(order: List[_Module]) -> Optional[str]:
    """Why `order` does not chain (each module's input size = the previous output size), or None."""
    for prev, mod in zip(order, order[1:]):
        if mod.input_size != prev.output_size:
            what = "GRU input size" if mod.kind == "GRU" else "Linear input size (weight is (out, in))"
            return (f"{mod.kind} {mod.prefix!r} has {what} {mod.input_size}, but {prev.kind} {prev.prefix!r} "
                    f"before it outputs {prev.output_size}")
    return None


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


def layers_from_state_dict(state_dict: Mapping, module_order: str = "keys") -> Tuple[list, Dict[str, Any]]:
    """Convert a state_dict: one or more GRU modules (nn.GRU of any depth/direction/bias, or nn.GRUCell),
    optionally followed by Linear layers (`<prefix>.weight` (out, in) and `<prefix>.bias`).

    Keys carry their module's prefix (e.g. `encoder.rnn.`). A state_dict holds weights only, so for a
    model with several modules some things are assumed and listed in info["assumed"]: the modules run
    in key order (module_order="keys") each feeding the next; a Linear head is applied to every time
    step; nothing runs between the modules (activations are not stored in a state_dict, so only a
    purely linear head is exact). module_order="shapes" is for files that do not keep the key order
    (safetensors stores keys sorted): the GRUs then the Linears are put in the only order in which
    their shapes chain, and several possible orders are an error.

    Returns (layers, info); info = {"source": "pytorch", "batch_first": None (a state_dict does not
    record it), "prefix": the first GRU's prefix, "modules": [(prefix, "GRU" | "Linear"), ...] in run
    order, "assumed": [str, ...] (empty for a single GRU module)}.
    """
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"expected a state_dict (a mapping of names to tensors), got {type(state_dict).__name__}")
    if module_order not in ("keys", "shapes"):
        raise ValueError(f"module_order must be 'keys' or 'shapes', got {module_order!r}")
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
    linears = [_linear_module(sd, p, ks) for p, ks in linear_keys.items()]
    names = lambda mods: [m.prefix for m in mods]  # noqa: E731

    if module_order == "keys":
        position = {key: i for i, key in enumerate(sd)}
        first_key = {p: min(position[m.string] for m in ms) for p, ms in groups.items()}
        first_key.update({p: min(position[k] for k in ks.values()) for p, ks in linear_keys.items()})
        order = sorted(grus + linears, key=lambda m: first_key[m.prefix])
        if order[0].kind != "GRU" or any(a.kind == "Linear" and b.kind == "GRU" for a, b in zip(order, order[1:])):
            raise ValueError(f"the state_dict's modules come in the order {[(m.prefix, m.kind) for m in order]}; "
                             f"only GRU modules followed by Linear layers can be imported from a state_dict; "
                             f"{FROM_TORCH_HINT}")
        problem = _chain_error(order)
        if problem:
            several = f"holds several GRU modules (prefixes {names(grus)}) and " if len(grus) > 1 else ""
            raise ValueError(f"the state_dict {several}does not chain in key order: {problem}. The order of the "
                             f"modules in forward() is unknown from the weights alone: {FROM_TORCH_HINT}")
        assumed = [ASSUME_KEY_ORDER] if len(order) > 1 else []
    else:
        orders = _orders_by_shape(grus, linears)
        if len(orders) != 1:
            what = "no order" if not orders else f"several orders (e.g. {names(orders[0])} and {names(orders[1])})"
            raise ValueError(f"the key order is unknown, and {what} of the GRU modules {names(grus)} and the "
                             f"Linear layers {names(linears)} chain by shape (GRUs first, then Linears); "
                             f"{FROM_TORCH_HINT}")
        order = orders[0]
        assumed = [ASSUME_SHAPE_ORDER] if len(order) > 1 else []
    if linears:
        assumed += [ASSUME_EVERY_STEP, ASSUME_NO_ACTIVATION]
    layers = [layer for mod in order for layer in mod.layers]
    return layers, {"batch_first": None, "source": "pytorch", "prefix": order[0].prefix,
                    "modules": [(m.prefix, m.kind) for m in order], "assumed": assumed}


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
        missing = sorted(set(range(max(found) + 1)) - found)
        if missing:
            raise ValueError(f"GRU layer(s) {missing} missing from the state_dict: found keys for layers "
                             f"{sorted(found)} (e.g. no {key(f'weight_ih_l{missing[0]}')!r})")
        num_layers, bidirectional = max(found) + 1, any(k.endswith("_reverse") for k in params)
    bias = any(k.startswith("bias") for k in params)

    # hidden and input sizes from layer 0, forward direction
    sfx0 = _param_suffix(None if cell else 0, False)
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
            sfx = _param_suffix(None if cell else k, reverse)
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
    return _gru_stack(params, num_layers, bidirectional, bias, input_size, H)


def load_torch_file(path) -> Tuple[list, Dict[str, Any]]:
    """Load a PyTorch file of a GRU model without torch and without running code from the file.

    Reads the zip archives of `torch.save(module.state_dict())`, `torch.save(module)` and
    `torch.jit.save` with `read_torch_zip`, then infers the layers from the tensors like
    `layers_from_state_dict` (keys of a whole module are its state_dict keys). The legacy non-zip
    format (`_use_new_zipfile_serialization=False`) needs torch and goes through
    `torch.load(weights_only=True)`. info is layers_from_state_dict's plus "path" and "saved"
    ("state_dict", "module", "torchscript" or "legacy_state_dict").
    """
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        from .torch_zip_reader import read_torch_zip_with_kind
        tensors, saved = read_torch_zip_with_kind(path)
    else:
        tensors, saved = _load_legacy_torch_file(path), "legacy_state_dict"
    layers, info = layers_from_state_dict(tensors)
    info.update(path=str(path), saved=saved)
    return layers, info


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy torch.save file is this number


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"the file references {module}.{name}")


def _starts_with_legacy_magic(path) -> bool:
    """Whether the file's first pickle is the legacy magic number (read without allowing any global)."""
    with open(path, "rb") as f:
        try:
            return _NoGlobalsUnpickler(f).load() == LEGACY_MAGIC
        except Exception:  # anything else, however broken, is simply not a legacy torch file
            return False


def _load_legacy_torch_file(path) -> Mapping:
    """The pre-1.6 torch.save format (not a zip): only torch can read it; weights_only keeps it safe."""
    if not _starts_with_legacy_magic(path):
        raise ValueError(f"{str(path)!r} is not a model file gru_infer reads: a pickle, but neither a torch.save zip "
                         f"archive nor PyTorch's legacy format (which starts with a pickled magic number)")
    try:
        torch = _import_torch()
    except ImportError:
        raise ValueError(f"{path}: not a zip archive, so not a torch.save file of PyTorch >= 1.6; reading the "
                         f"legacy format needs PyTorch (pip install torch)") from None
    not_plain = (f"{path}: not a plain state_dict. Loading it would need weights_only=False, which can "
                 f"execute arbitrary code from the file; save `module.state_dict()` instead "
                 f"(torch.save(model.state_dict(), path)), or pass the module to gru_infer.from_torch(module)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{not_plain}. ({str(e).splitlines()[0]})") from e
    except (RuntimeError, EOFError) as e:
        raise ValueError(f"{path}: not a readable PyTorch file ({type(e).__name__}: {e})") from e
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}")
    non_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if non_tensors:
        raise ValueError(f"{path}: the dict has non-tensor entries {non_tensors}; if it is a training "
                         f"checkpoint, save only the model's state_dict")
    return obj
