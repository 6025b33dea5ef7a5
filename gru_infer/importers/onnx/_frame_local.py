"""Which ONNX subgraphs compute each time step from the same time step only ("frame-local").

`time_axes(model, time)`: given the time axis of each of the subgraph's inputs that has one, the time
axis of every tensor the subgraph computes (None: no time axis, computed from constants only), or
NotFrameLocal naming the first node it cannot prove frame-local, and why.

The proof is per node, from its op type, its attributes and constant inputs (axes, perms, shapes) and
the ranks onnx.shape_inference gives: pointwise and broadcasting ops whose other operands have size 1
along time; MatMul / Gemm / Einsum contracting feature axes against operands without time; Softmax,
LayerNormalization, Reduce*, ArgMax over other axes; BatchNormalization (inference); Conv with time as
a batch axis or a kernel of 1 along it; Transpose, Squeeze / Unsqueeze, Concat, Split, Gather, Slice,
Pad, Tile, Expand that leave the time axis alone; Reshape copying the axes up to and including time (0
in its shape); Flatten at axis 1 of a time-first tensor. Anything else that reads a tensor with a time
axis is refused, as is an axis or shape that is not a constant, or a rank shape inference does not give.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ._values import attrs, default_opset, tensor_array
from ._walker import _NONDETERMINISTIC

UNARY = {"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Cast", "CastLike", "Ceil", "Celu", "Cos",
         "Cosh", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Identity", "IsInf", "IsNaN",
         "LeakyRelu", "Log", "Mish", "Neg", "Not", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid", "Sign",
         "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "Dropout"}
BROADCAST = {"Add", "And", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Clip", "Div", "Equal", "Greater",
             "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow", "PRelu",
             "Sub", "Sum", "Where", "Xor"}
REDUCE = {"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
          "ReduceProd", "ReduceSum", "ReduceSumSquare"}


class NotFrameLocal(ValueError):
    pass


class _Refuse(Exception):
    pass


def _label(node) -> str:
    return f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node writing {node.output[0]!r}"


class _Analysis:
    def __init__(self, model):
        import onnx
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001 - without shapes, ops that need a rank are refused
            pass
        self.graph = model.graph
        self.opset = default_opset(model)
        self.dims: Dict[str, list] = {}
        for vi in list(self.graph.value_info) + list(self.graph.input) + list(self.graph.output):
            t = vi.type.tensor_type
            if t.HasField("shape"):
                self.dims[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        self.const: Dict[str, np.ndarray] = {t.name: tensor_array(t, "initializer") for t in self.graph.initializer}
        for t in self.graph.initializer:
            self.dims[t.name] = list(t.dims)
        for n in self.graph.node:
            if n.op_type == "Constant":
                a = attrs(n)
                if "value" in a:
                    self.const[n.output[0]] = tensor_array(a["value"], "Constant")
                for k in ("value_int", "value_ints", "value_float", "value_floats"):
                    if k in a:
                        self.const[n.output[0]] = np.asarray(a[k])
                if n.output[0] in self.const:
                    self.dims[n.output[0]] = list(self.const[n.output[0]].shape)

    # -- helpers ----------------------------------------------------------------------------
    def rank(self, name: str) -> int:
        if name not in self.dims:
            raise _Refuse(f"shape inference gives no rank for {name!r}")
        return len(self.dims[name])

    def value(self, name: str, what: str) -> np.ndarray:
        if name not in self.const:
            raise _Refuse(f"its {what} ({name!r}) is not a constant")
        return self.const[name]

    def axes(self, node, rank: int, input_index: int = 1) -> Optional[List[int]]:
        """The node's axes (attribute or constant input), normalized; None when it gives none."""
        ax = attrs(node).get("axes")
        if ax is None and len(node.input) > input_index and node.input[input_index]:
            ax = self.value(node.input[input_index], "axes").tolist()
        return None if ax is None else [int(a) + rank if a < 0 else int(a) for a in ax]

    def size_one_along(self, name: str, out_rank: int, pos: int) -> None:
        """A tensor without time, broadcast into a result whose time axis is pos: its size there is 1."""
        r = self.rank(name)
        j = pos - (out_rank - r)
        if j >= 0 and self.dims[name][j] != 1:
            raise _Refuse(f"its operand {name!r} has size {self.dims[name][j] or 'unknown'} along the time axis")

    # -- the rules --------------------------------------------------------------------------
    def node_time(self, n, t: List[Optional[int]]) -> int:  # noqa: C901 - one rule per op family
        """The time axis of the node's outputs; t: the time axis of each input (None: none)."""
        op, data = n.op_type, t[0] if t else None
        timed = [x for x, ti in zip(n.input, t) if ti is not None]
        if op in BROADCAST or op in UNARY:
            if op in UNARY and (data is None or len(timed) > 1):
                raise _Refuse("its time axis is not its data input's")
            names = [x for x in n.input if x]
            out_rank = max(self.rank(x) for x in names)
            pos = {out_rank - self.rank(x) + ti for x, ti in zip(n.input, t) if ti is not None}
            if len(pos) != 1:
                raise _Refuse("its operands have their time axes in different places")
            p = pos.pop()
            for x, ti in zip(n.input, t):
                if x and ti is None:
                    self.size_one_along(x, out_rank, p)
            return p
        if op == "Concat":
            a = attrs(n).get("axis", 0)
            a = a + self.rank(n.input[0]) if a < 0 else a
            if len(set(t)) != 1 or a == data:
                raise _Refuse("its inputs do not all have their time axis in one place, or it joins along time")
            return data
        if data is None or timed != [n.input[0]]:
            if op in ("MatMul", "Einsum", "Gemm"):
                raise _Refuse("an operand other than the first, or more than one, has a time axis: a product "
                              "across time steps (as in attention)")
            raise _Refuse("only its data input may have a time axis")
        r = self.rank(n.input[0])
        if op in ("Softmax", "LogSoftmax", "Hardmax"):
            a = attrs(n).get("axis", -1 if self.opset >= 13 else 1)
            a = a + r if a < 0 else a
            if a == t[0] or (self.opset < 13 and a < data):
                raise _Refuse("it normalizes over the time axis")
            return data
        if op == "LayerNormalization":
            a = attrs(n).get("axis", -1)
            if (a + r if a < 0 else a) <= data:
                raise _Refuse("it normalizes over the time axis")
            return data
        if op in REDUCE or op in ("ArgMax", "ArgMin"):
            if op in REDUCE:
                axes = self.axes(n, r)
                if not axes:
                    raise _Refuse("it reduces over every axis, time included")
            else:
                a = attrs(n).get("axis", 0)
                axes = [a + r if a < 0 else a]
            if data in axes:
                raise _Refuse("it reduces over the time axis")
            return data if attrs(n).get("keepdims", 1) else data - sum(a < data for a in axes)
        if op == "MatMul":
            rb = self.rank(n.input[1])
            if r == 1 or data == r - 1:
                raise _Refuse("it contracts the time axis")
            if rb == 1:
                return data
            out_rank = max(r, rb)
            p = out_rank - r + data
            if data < r - 2:
                self.size_one_along(n.input[1], out_rank, p)
            return p
        if op == "Gemm":
            if data != 0 or attrs(n).get("transA", 0):
                raise _Refuse("its time axis is not the rows of A")
            if len(n.input) > 2 and n.input[2]:
                self.size_one_along(n.input[2], 2, 0)
            return 0
        if op == "Einsum":
            eq = attrs(n)["equation"].replace(" ", "")
            if "..." in eq or "->" not in eq:
                raise _Refuse(f"its equation {eq!r} has an ellipsis or no explicit output")
            terms, out = eq.split("->")
            terms = terms.split(",")
            letter = terms[0][data]
            if terms[0].count(letter) != 1 or any(letter in x for x in terms[1:]) or letter not in out:
                raise _Refuse(f"in {eq!r} the time axis ({letter!r}) is summed over or shared")
            return out.index(letter)
        if op == "Conv":
            if data == 1:
                raise _Refuse("time is its channel axis")
            if data >= 2:
                s, k = data - 2, self.rank(n.input[1]) - 2
                kernel = attrs(n).get("kernel_shape") or self.dims[n.input[1]][2:]
                strides = attrs(n).get("strides") or [1] * k
                pads = attrs(n).get("pads") or [0] * (2 * k)
                if kernel[s] != 1 or strides[s] != 1 or pads[s] or pads[s + k]:
                    raise _Refuse(f"it convolves along time (kernel {kernel[s]}, stride {strides[s]}, "
                                  f"pads {pads[s]}/{pads[s + k]} on the time axis)")
            return data
        if op == "BatchNormalization":
            if data == 1 or attrs(n).get("training_mode", 0) or len([o for o in n.output if o]) > 1:
                raise _Refuse("time is its channel axis, or it runs in training mode")
            return data
        if op == "InstanceNormalization":
            if data >= 2:
                raise _Refuse("it normalizes over the time axis")
            return data
        if op == "Transpose":
            perm = list(attrs(n).get("perm", list(range(r))[::-1]))
            return perm.index(data)
        if op == "Squeeze":
            axes = self.axes(n, r)
            if axes is None:
                raise _Refuse("it has no axes (with one frame it would drop the time axis)")
            if data in axes:
                raise _Refuse("it removes the time axis")
            return data - sum(a < data for a in axes)
        if op == "Unsqueeze":
            out_rank = r + len(self.axes(n, 0) or [])
            axes = self.axes(n, out_rank) or []
            return [i for i in range(out_rank) if i not in axes][data]
        if op == "Flatten":
            a = attrs(n).get("axis", 1)
            if data != 0 or (a + r if a < 0 else a) != 1:
                raise _Refuse("it merges the time axis with others")
            return 0
        if op == "Reshape":
            shape = self.value(n.input[1], "shape").tolist()
            if attrs(n).get("allowzero", 0) or len(shape) <= data or any(shape[: data + 1]):
                raise _Refuse(f"its shape {shape} does not copy the axes up to and including time (0 there)")
            return data
        if op == "Split":
            a = attrs(n).get("axis", 0)
            if (a + r if a < 0 else a) == data:
                raise _Refuse("it splits along the time axis")
            return data
        if op == "Gather":
            a = attrs(n).get("axis", 0)
            a = a + r if a < 0 else a
            if a == data:
                raise _Refuse("it gathers along the time axis")
            return data if a > data else data - 1 + self.rank(n.input[1])
        if op == "Slice":
            if self.opset < 10:
                axes = attrs(n).get("axes") or list(range(len(attrs(n).get("starts"))))
            elif len(n.input) > 3 and n.input[3]:
                axes = self.value(n.input[3], "axes").tolist()
            else:
                axes = list(range(len(self.value(n.input[1], "starts"))))
            if data in [a + r if a < 0 else a for a in axes]:
                raise _Refuse("it slices along the time axis")
            return data
        if op == "Pad":
            if len(n.input) > 3 and n.input[3]:
                raise _Refuse("its axes input is not supported here")
            pads = (attrs(n).get("pads") if self.opset < 11 else self.value(n.input[1], "pads").tolist())
            if pads[data] or pads[data + r]:
                raise _Refuse("it pads the time axis")
            return data
        if op == "Tile":
            if self.value(n.input[1], "repeats").tolist()[data] != 1:
                raise _Refuse("it repeats along the time axis")
            return data
        if op == "Expand":
            shape = self.value(n.input[1], "shape").tolist()
            out_rank = max(r, len(shape))
            p = out_rank - r + data
            j = p - (out_rank - len(shape))
            if j >= 0 and shape[j] != 1:
                raise _Refuse(f"it expands the time axis to {shape[j]}")
            return p
        if op in ("Shape", "Size"):
            raise _Refuse("it reads the length of the time axis")
        raise _Refuse("it is not an op whose frame-locality can be proved here")


def time_axes(model, time: Dict[str, int]) -> Dict[str, Optional[int]]:
    """The time axis of every tensor of the subgraph `model`, given those of its inputs (`time`);
    NotFrameLocal naming the node it cannot prove frame-local. An input whose declared size along its
    time axis is fixed is refused (the subgraph runs one frame at a time)."""
    a = _Analysis(model)
    out: Dict[str, Optional[int]] = {}
    for vi in a.graph.input:
        t = time.get(vi.name)
        out[vi.name] = t
        dims = a.dims.get(vi.name)
        if t is not None and dims is not None and len(dims) > t and dims[t] is not None:
            raise NotFrameLocal(f"{vi.name!r} has a fixed size {dims[t]} along its time axis {t}")
    for n in a.graph.node:
        ins = [out.get(x) if x else None for x in n.input]
        if all(t is None for t in ins):
            if n.op_type in _NONDETERMINISTIC:
                raise NotFrameLocal(f"{_label(n)}: random values differ frame by frame")
            for o in n.output:
                out[o] = None
            continue
        try:
            t = a.node_time(n, ins)
        except _Refuse as e:
            raise NotFrameLocal(f"{_label(n)}: {e}") from None
        except (IndexError, TypeError, KeyError, AttributeError) as e:
            raise NotFrameLocal(f"{_label(n)}: its attributes or shapes cannot be read here ({e!r})") from None
        for o in n.output:
            if o:
                out[o] = t
    return out
