"""Interpret a torch.fx trace of a custom module (or nn.Sequential) as a chain of gru_infer layers.

Used by `torch_module.layers_from_torch` for modules it cannot convert directly.
"""
from __future__ import annotations

import inspect
import operator
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._optional import require
from ..errors import UnsupportedModelError
from ..layers import Activation, ActivationLayer, LastStep
from ._torch_modules import (
    SELU,
    batch_norm_affine,
    check_softplus,
    embedding_layer,
    gelu,
    gru_module_specs,
    module_name,
    simple_module_layers,
    softmax_dim_ok,
)


def _trace(module):
    """fx-trace `module`; forward args after the first that default to a constant are fixed to it."""
    fx = require("torch").fx
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
class _SeqCF:
    """A batch-first sequence transposed to (B, F, T), as BatchNorm1d takes it."""


@dataclass(eq=False)
class _Vec:
    """A (B, F) value (after LastStep or a GRU's final state)."""


@dataclass(eq=False)
class _HNSide:
    """h_n of a GRU whose output feeds the chain: only returnable next to the output, `return out, h`."""
    gru: _GRUResult


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
    """Shapes, sizes, devices, dtypes: may be read from any value without consuming it. axis: for
    x.size(k) / x.shape[k] of a chain value, k (so that x.size(0) is known to be the batch)."""
    axis: Optional[int] = None
    of_shape: bool = False  # x.shape itself (indexing it gives a size)


@dataclass(eq=False)
class _Reshaped:
    """The chain's output viewed in another shape by the head (.squeeze(-1), .flatten(1), .view(B, -1)):
    the same numbers as the engine's (B, F) / (B, T, F) output; `op` names the reshape
    (`gru_infer.output_reshape.RESHAPES`) predict applies. Only returnable."""
    val: Any
    note: str
    op: str


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


class FxConverter:
    def __init__(self, module):
        self.module = module
        self.gm = _trace(module)
        self.modules = dict(self.gm.named_modules())
        self.layers: list = []
        self.vals: Dict[Any, Any] = {}
        self.tip = None
        self.batch_first: Optional[bool] = None  # the module input's layout = the first GRU's
        self.info: Dict[str, Any] = {}             # extra info for layers_from_torch
        self.grus: List[str] = []                  # GRU modules in call order
        self.state_arg: Optional[Tuple[str, str]] = None  # (forward argument, GRU) for forward(x, h)
        self.outputs_taken: set = set()            # GRU results whose output (element 0) was taken
        self._build_tables()

    def _build_tables(self):
        torch = require("torch")
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
            F.gelu: lambda n, v: gelu(_arg(n, 1, "approximate", "none")),
            F.silu: lambda n, v: act("silu"), F.hardswish: lambda n, v: act("hard_swish"),
            F.mish: lambda n, v: act("mish"), F.selu: lambda n, v: SELU, torch.selu: lambda n, v: SELU,
            F.celu: lambda n, v: act("celu", alpha=float(_arg(n, 1, "alpha", 1.0))),
            F.hardtanh: lambda n, v: act("clip", alpha=float(_arg(n, 1, "min_val", -1.0)),
                                         beta=float(_arg(n, 2, "max_val", 1.0))),
            F.relu6: lambda n, v: act("clip", alpha=0.0, beta=6.0),
            torch.clamp: self._clamp, torch.clip: self._clamp,
        }
        self.method_acts = {"relu": self.fn_acts[torch.relu], "tanh": self.fn_acts[torch.tanh],
                            "sigmoid": self.fn_acts[torch.sigmoid], "softmax": self._softmax("softmax"),
                            "log_softmax": self._softmax("log_softmax"), "clamp": self._clamp,
                            "clip": self._clamp}
        self.fn_dropout = {F.dropout, F.alpha_dropout}

    # -- helpers ---------------------------------------------------------------------------
    def _fail(self, node, what: str):
        raise UnsupportedModelError(f"{what} at node {node.name!r}")

    def _softmax(self, kind):
        def make(node, val):
            dim, dtype = _arg(node, 1, "dim"), node.kwargs.get("dtype")
            ndim = 2 if isinstance(val, _Vec) else 3
            if dtype is not None or not _is_int(dim) or not softmax_dim_ok(dim, ndim):
                self._fail(node, f"{kind}(dim={dim!r}) on a {ndim}-d value: only dim=-1 (the last dimension) "
                                 f"is supported")
            return Activation(kind)
        return make

    def _clamp(self, node, val):
        lo, hi = _arg(node, 1, "min"), _arg(node, 2, "max")
        if not all(v is None or isinstance(v, (int, float)) for v in (lo, hi)) or lo is None and hi is None:
            self._fail(node, f"clamp(min={lo!r}, max={hi!r}): only constant numbers are supported")
        return Activation("clip", alpha=float("-inf") if lo is None else float(lo),
                          beta=float("inf") if hi is None else float(hi))

    def _softplus(self, node, val):
        check_softplus(_arg(node, 1, "beta", 1.0), _arg(node, 2, "threshold", 20.0))
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
        if isinstance(val, _Reshaped):
            self._fail(node, f"the head's output, reshaped to {val.note}, is used by a later operation; only a "
                             f"reshape of the final output is supported")
        if isinstance(val, _HNSide):
            self._fail(node, f"both the output and h_n of GRU {val.gru.name!r} are used; only a single chain of "
                             f"layers (or returning (output, h_n) as they are) is supported")
        if not isinstance(val, (_Seq, _Vec, _SeqCF)):
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
        if isinstance(val, _Seq) and val.batch_first and start == 1 and end == -1:
            return _Reshaped(val, "(batch, time * features)", "merge_time_features")
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
        if self.state_arg and len(self.grus) > 1:
            arg, gru = self.state_arg
            raise UnsupportedModelError(
                f"the initial state of GRU {gru!r} comes from the forward argument {arg!r}, but the module has "
                f"{len(self.grus)} GRU modules ({', '.join(map(repr, self.grus))}); predict's h0 covers every GRU "
                f"layer, so only a module with a single nn.GRU (any number of layers) can take h0 this way")
        if self.state_arg:
            self.info["forward_state"] = (f"forward's argument {self.state_arg[0]!r} is GRU {self.state_arg[1]!r}'s "
                                          f"initial state: pass it as predict(x, h0=...)"
                                          + ("; the returned state is predict(..., return_state=True)'s h_n"
                                             if self.info.get("returns_state") else ""))
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
            vals = [self._value(r) for r in result]
            if len(vals) == 2 and isinstance(vals[1], (_HNSide, _HN)) and len(self.grus) == 1:
                self.info["returns_state"] = True
                if not self.state_arg:
                    self.info["forward_state"] = ("forward returns (output, h_n): h_n is "
                                                  "predict(..., return_state=True)'s second result")
                if isinstance(vals[1], _HN) and vals[1] is self.tip:
                    self._fail(node, "the module returns (h_n, h_n)")
                result = result[0]
            else:
                self._fail(node, "the module returns several values; only one output tensor (or (output, h_n) of "
                                 "a module with one GRU) is supported")
        val = self._value(result)
        if isinstance(val, _Reshaped) and val.val is self.tip:
            self.info["output_reshape"] = (f"the module returns its output reshaped to {val.note}; so does "
                                           f"predict (info['predict_reshape']; a saved native file keeps the "
                                           f"engine's (batch, [time,] features) shape)")
            self.info["predict_reshape"] = val.op
            return val
        if isinstance(val, _SeqCF):
            self._fail(node, "the module returns a (batch, features, time) transposed sequence")
        if isinstance(val, _GRUResult) and val is self.tip:
            return val  # returning the GRU's (output, h_n) tuple: like a bare nn.GRU, we give the output
        self._take(node, result)

    def _call_module(self, node):
        nn = require("torch").nn
        mod = self.modules[node.target]
        where = f"{module_name(mod)} ({node.target!r})"
        if isinstance(mod, nn.GRU):
            return self._gru(node, mod)
        if isinstance(mod, nn.GRUCell):
            self._fail(node, f"{where} inside a module is not supported (convert the GRUCell itself)")
        if isinstance(mod, nn.Embedding):
            val = self._take(node, node.args[0])
            if not (isinstance(val, _Seq) and val.is_input):
                self._fail(node, f"{where} must be the first layer")
            return self._push([embedding_layer(mod)], _Seq(None))
        if isinstance(mod, nn.Flatten):
            return self._flatten(node, node.args[0], mod.start_dim, mod.end_dim)
        val = self._take(node, node.args[0])
        if len(node.args) > 1 or node.kwargs:
            self._fail(node, f"{where} called with extra arguments")
        if isinstance(val, _SeqCF) and not isinstance(mod, nn.BatchNorm1d):
            self._fail(node, f"{where} on a (batch, features, time) value: after transpose(1, 2) only "
                             f"BatchNorm1d is supported")
        try:
            if isinstance(val, _SeqCF):
                return self._push([batch_norm_affine(mod, 2)], val)  # per feature of every step
            layers = simple_module_layers(mod, 2 if isinstance(val, _Vec) else 3)
        except UnsupportedModelError as e:
            self._fail(node, f"module {node.target!r}: {e}")
        if layers is None:
            self._fail(node, f"unsupported module {where}")
        return self._push(layers, _Seq(val.batch_first) if isinstance(val, _Seq) else val)

    def _gru(self, node, mod):
        h0 = _arg(node, 1, "hx")
        self.grus.append(node.target)
        if h0 is not None and not isinstance(self._value(h0), _Zeros):
            src = self._value(h0)
            if isinstance(src, _Other) and self.state_arg is None and len(self.grus) == 1:
                self.state_arg = (src.name, node.target)  # forward(x, h): h is predict's h0
            else:
                what = f"the forward argument {src.name!r}" if isinstance(src, _Other) else f"node {h0}"
                self._fail(node, f"the initial state h0 of GRU {node.target!r} comes from {what}; only a zero "
                                 f"initial state, or a forward argument as the state of a module's only GRU, "
                                 f"is supported")
        val = self._take(node, node.args[0])
        if not isinstance(val, _Seq):
            self._fail(node, f"GRU {node.target!r} receives a (batch, features) value, not a sequence")
        bf = bool(mod.batch_first)
        if val.batch_first is not None and val.batch_first != bf:
            self._fail(node, f"GRU {node.target!r} has batch_first={bf} but its input sequence is "
                             f"{'batch-first' if val.batch_first else 'seq-first'}")
        if self.batch_first is None:
            self.batch_first = bf
        specs = gru_module_specs(mod)
        res = _GRUResult(node.target, mod.num_layers, 2 if mod.bidirectional else 1, bf)
        return self._push(specs, res)

    def _call_function(self, node):
        torch = require("torch")
        fn = node.target
        x = node.args[0] if node.args else None
        val = self._value(x)
        if fn is operator.getitem:
            return self._getitem(node, val, node.args[1])
        if fn is getattr:
            if node.args[1] in ("shape", "device", "dtype"):
                return _Meta(of_shape=node.args[1] == "shape")
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
        if fn is torch.reshape:
            return self._reshape(node, x, [self._value(d) for d in _arg(node, 1, "shape")])
        if fn is torch.transpose:
            return self._transpose(node, x, "transpose", node.args[1:])
        self._fail(node, f"unsupported operation {_target_name(fn)}")

    def _call_method(self, node):
        name = node.target
        x = node.args[0]
        val = self._value(x)
        if name in ("size", "dim"):
            k = _arg(node, 1, "dim")
            return _Meta(axis=k if name == "size" and _is_int(k) else None, of_shape=name == "size" and k is None)
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
        if name in ("view", "reshape"):
            dims = node.args[1:] if len(node.args) > 2 or not isinstance(_arg(node, 1, "shape"), (tuple, list)) \
                else _arg(node, 1, "shape")
            return self._reshape(node, x, [self._value(d) for d in dims])
        if name in ("transpose", "permute"):
            return self._transpose(node, x, name, node.args[1:])
        self._fail(node, f"unsupported method Tensor.{name}")

    def _getitem(self, node, val, index):
        if isinstance(val, _Meta):
            return _Meta(axis=index if val.of_shape and _is_int(index) else None)
        if isinstance(val, _GRUResult) and index == 1 and val in self.outputs_taken:
            if all(u.op == "output" for u in node.users):
                return _HNSide(val)  # `out, h = self.gru(x, h)`: h may only be returned
            self._fail(node, f"both the output and h_n of GRU {val.name!r} are used; only a single chain of "
                             f"layers (or returning (output, h_n) as they are) is supported")
        if isinstance(val, _GRUResult) and index in (0, 1):
            self._take_tuple(node, val)
            if index == 0:
                self.outputs_taken.add(val)
            self.tip = _Seq(val.batch_first) if index == 0 else _HN(val)
            return self.tip
        if isinstance(val, _Seq):
            return self._last_step(node, val, index)
        if isinstance(val, _HN):
            return self._hn_part(node, val, index)
        if isinstance(val, _HNSide):
            self._fail(node, f"both the output and h_n of GRU {val.gru.name!r} are used; only a single chain of "
                             f"layers (or returning (output, h_n) as they are) is supported")
        self._fail(node, f"unsupported indexing {index!r}")

    def _take_tuple(self, node, val):
        if val is not self.tip:
            self._fail(node, f"both the output and h_n of GRU {val.name!r} are used, or the GRU's result is "
                             f"used after a later layer; only a single chain of layers is supported")

    def _squeeze(self, node, val, dim):
        # h_n of a 1-layer unidirectional GRU is (1, B, H): squeeze(0) is h_n[0]
        if isinstance(val, _HN) and val.gru.num_layers * val.gru.num_dirs == 1 and dim == 0:
            return _HNPart(val, 0, node.name)
        if isinstance(val, (_Vec, _Seq)) and val is self.tip and self._features() == 1:
            last = 1 if isinstance(val, _Vec) else 2
            if isinstance(val, _Vec) and dim in (1, -1):
                return _Reshaped(val, "(batch,)", "squeeze_features")
            if isinstance(val, _Seq) and val.batch_first and dim in (2, -1):
                return _Reshaped(val, "(batch, time)", "squeeze_features")
            if dim is None:
                return _Reshaped(val, ("(batch,)" if last == 1 else "(batch, time)") + " (and fewer axes where batch "
                                 "or time is 1)", "squeeze")
        self._fail(node, f"squeeze(dim={dim!r}) is only supported on h_n of a 1-layer unidirectional GRU, or on "
                         f"the final output's last axis when it has one feature")

    def _features(self) -> Optional[int]:
        """The feature count of the chain's output so far."""
        for layer in reversed(self.layers):
            if hasattr(layer, "output_size"):
                return int(layer.output_size)
            if hasattr(layer, "weight"):
                return int(layer.weight.shape[0])
            if hasattr(layer, "table"):
                return int(layer.table.shape[1])
            if hasattr(layer, "scale"):
                return int(len(layer.scale))
        return None

    def _is_batch(self, d) -> bool:
        """A reshape entry that is the batch size: x.size(0) / x.shape[0] (batch-first)."""
        return isinstance(d, _Meta) and d.axis == (0 if self.batch_first in (True, None) else 1)

    def _reshape(self, node, x_arg, dims):
        """view / reshape of the chain's output: the layouts that keep predict's numbers."""
        val = self._take(node, x_arg)
        feats = self._features()
        ok = lambda d: self._is_batch(d) or d == -1  # noqa: E731
        if isinstance(val, _Vec):
            if len(dims) == 2 and (ok(dims[0]) and (dims[1] == -1 or dims[1] == feats) and dims != [-1, -1]):
                return val  # (B, F) -> (B, F)
            if len(dims) == 1 and (dims[0] == -1 or self._is_batch(dims[0])):
                return _Reshaped(val, "(batch,)" if feats == 1 else "(batch * features,)", "flatten")
        if isinstance(val, _Seq) and val.batch_first and len(dims) == 2 and self._is_batch(dims[0]) and dims[1] == -1:
            return _Reshaped(val, "(batch, time * features)", "merge_time_features")
        if isinstance(val, _Seq) and val.batch_first and len(dims) == 3 and ok(dims[0]) and dims[2] in (-1, feats) \
                and (dims[1] != -1 or dims[2] == feats):
            return val  # (B, T, F) -> (B, T, F)
        shown = [f"x.size({d.axis})" if isinstance(d, _Meta) else d for d in dims]
        self._fail(node, f"reshape to {shown} of a {'(batch, features)' if isinstance(val, _Vec) else 'sequence'} "
                         f"value: only view/reshape(x.size(0), -1), flatten(1) and squeeze(-1) of the final output "
                         f"are supported")

    def _transpose(self, node, x_arg, name, args):
        """x.transpose(1, 2) of a batch-first sequence (for BatchNorm1d), and back."""
        val = self._take(node, x_arg)
        args = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
        swap = (name == "transpose" and sorted(a % 3 for a in args) == [1, 2]) or \
               (name == "permute" and tuple(a % 3 for a in args) == (0, 2, 1))
        if swap and isinstance(val, _Seq) and val.batch_first:
            return self._push([], _SeqCF())
        if swap and isinstance(val, _SeqCF):
            return self._push([], _Seq(True))
        self._fail(node, f"{name}{args} of {'a batch-first' if isinstance(val, _Seq) and val.batch_first else 'this'} "
                         f"value: only swapping time and features of a batch-first sequence (around BatchNorm1d) "
                         f"is supported")

    def _cat(self, node):
        tensors, dim = node.args[0], _arg(node, 1, "dim", 0)
        parts = [self._value(t) for t in tensors] if isinstance(tensors, (list, tuple)) else []
        if dim in (1, -1) and parts and all(isinstance(p, _HNPart) for p in parts):
            return self._final_state(node, parts)
        self._fail(node, "unsupported operation torch.cat (only torch.cat((h_n[-2], h_n[-1]), dim=1) of a "
                         "bidirectional GRU is supported)")

