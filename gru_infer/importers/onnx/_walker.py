"""Symbolic interpretation of an ONNX graph into the layer list of `gru_infer.layers`.

Every tensor of the graph gets a symbolic value (`_values`: Const, ShapeVec, Zeros, Chain, ...)
instead of numbers. Nodes map onto layers (GRU, Gemm/MatMul+Add -> Dense, activations, last-step
selection) or only move axes (Transpose, Squeeze, Reshape, ...); anything that has no exact
equivalent raises OnnxImportError naming the op type and the node.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional

import numpy as np

from ...errors import OnnxImportError
from ...layers import GRU, Activation, ActivationLayer, Dense, Embedding, LastStep
from ._elementwise import ElementwiseOps, features_of_consumer
from ._fold_bound import fold_refusal
from ._gru_op import GruOp
from ._values import (
    Axis,
    Chain,
    Const,
    GRUMeta,
    LengthsIn,
    ShapeVec,
    StateIn,
    StateRows,
    Zeros,
    attrs,
    default_opset,
    droppable,
    tensor_array,
)

# Slice ends at or beyond this mean "to the end" (exporters write INT64_MAX or INT32_MAX).
_TO_END = 2 ** 31 - 1
_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                     "Multinomial", "Bernoulli"}
_CONTROL_FLOW = {"If", "Loop", "Scan", "SequenceMap"}
_MAX_FILL = 1 << 26  # elements: a constant fill larger than this is not an initial state
# TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16: float data, which the engine computes in float32
_FLOAT_TYPES = {1, 10, 11, 16}
# Ops evaluated on ShapeVec values (exporters' shape arithmetic)
_SHAPE_OPS = {"Identity", "Cast", "Gather", "Concat", "Unsqueeze", "Squeeze", "Reshape", "Slice",
              "Mul", "Add", "Sub", "Div"}


class GraphWalker(ElementwiseOps, GruOp):
    """Interprets one ModelProto; `run()` returns (layers, info)."""

    def __init__(self, model):
        self.model = model
        self.graph = model.graph
        self.opset = self._default_opset(model)
        self.values: Dict[str, Any] = {}
        self.binding: Dict[str, str] = {}       # 'in0'/'in1' -> 'B'/'T'
        self.gru_meta: Dict[int, GRUMeta] = {}  # id(GRU spec) -> where its h0 / lengths come from
        self.data_input: Optional[str] = None
        self.assumed: List[str] = []
        self.gelu_parts: Dict[str, Any] = {}  # the Erf decomposition of GELU, recognised step by step
        self.handlers = {
            "Identity": self._identity, "Dropout": self._dropout, "Cast": self._cast,
            "Transpose": self._transpose, "Squeeze": self._squeeze, "Unsqueeze": self._unsqueeze,
            "Reshape": self._reshape, "Slice": self._slice, "Gather": self._gather, "Concat": self._concat,
            "Shape": self._shape, "Expand": self._expand, "ConstantOfShape": self._fill,
            "ConstantFill": self._fill, "GRU": self._gru, "Gemm": self._gemm, "MatMul": self._matmul,
            "Add": self._add, "Flatten": self._flatten, "Mul": self._affine_op, "Sub": self._affine_op,
            "Div": self._affine_op, "BatchNormalization": self._batch_norm,
        }
        for op in ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "Elu", "HardSigmoid", "Softsign", "Softplus",
                   "ThresholdedRelu", "Softmax", "LogSoftmax", "Gelu", "Selu", "Celu", "HardSwish", "Mish"):
            self.handlers[op] = self._activation
        self.handlers["Erf"] = self._erf
        self.handlers["Clip"] = self._clip

    # -- setup -----------------------------------------------------------------------------
    @staticmethod
    def _default_opset(model) -> int:
        opset = default_opset(model)
        if opset:
            return opset
        raise ValueError("the model declares no opset for the default ONNX domain (opset_import is empty "
                         "or lacks domain ''); the file may be truncated or not an ONNX model")

    def _fail(self, node, what: str):
        raise OnnxImportError(f"{node.op_type} node {node.name or '(unnamed)'!r}: {what}")

    def _kind(self, axis: Axis) -> str:
        return self.binding.get(axis.kind, axis.kind)

    def _describe(self, v) -> str:
        if isinstance(v, Chain):
            kinds = [(self._kind(a), a.size) for a in v.axes]
            return "(" + ", ".join(k if n is None or k in ("B", "T") else f"{k}={n}" for k, n in kinds) + ")"
        return type(v).__name__

    def _input_roles(self) -> Dict[str, str]:
        """Graph inputs that reach a GRU's initial_h or sequence_lens (through glue ops) get those roles."""
        producer = {o: n for n in self.graph.node for o in n.output}
        glue = {"Slice", "Transpose", "Squeeze", "Unsqueeze", "Cast", "Identity", "Reshape", "Gather"}
        roles = {}
        for n in self.graph.node:
            if n.op_type != "GRU":
                continue
            for idx, role in ((4, "lengths"), (5, "state")):
                name, seen = (n.input[idx] if len(n.input) > idx else ""), set()
                while name and name in producer and producer[name].op_type in glue and name not in seen:
                    seen.add(name)  # a malformed graph may have cycles
                    name = producer[name].input[0] if producer[name].input else ""
                if name:
                    roles[name] = role
        return roles

    def _init_values(self, used: set):
        for t in self.graph.initializer:
            self.values[t.name] = Const(tensor_array(t, "initializer"))
        roles = self._input_roles()
        for inp in self.graph.input:
            if inp.name in self.values or inp.name not in used:  # IR < 4 lists initializers as inputs too
                continue
            tt = inp.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
            role = roles.get(inp.name)
            if not tt.HasField("shape") and role is None and tt.elem_type in _FLOAT_TYPES:
                # rank unknown (legal ONNX): a GRU's X is 3-d by its contract; the features from the weights
                dims = (None, None, features_of_consumer(self.graph, inp.name))
                self.assumed.append(f"graph input {inp.name!r} has no shape information; it is taken as 3-d "
                                    f"(batch/time, time/batch, features), the rank the GRU operator requires")
            if role == "state":
                self.values[inp.name] = StateIn(inp.name, tuple(range(len(dims))), dims)
            elif role == "lengths":
                self.values[inp.name] = LengthsIn(inp.name)
            else:
                if self.data_input is not None:
                    raise OnnxImportError(f"the graph has several data inputs ({self.data_input!r}, {inp.name!r}); "
                                          f"only one input sequence (plus initial_h / sequence_lens) is supported")
                self.data_input = inp.name
                self.values[inp.name] = self._data_input_chain(inp.name, tt.elem_type, dims)
        if self.data_input is None:
            raise OnnxImportError("the graph has no data input (every input is an initializer)")

    def _data_input_chain(self, name, elem_type, dims) -> Chain:
        if elem_type in (6, 7) and len(dims) == 2:  # int32/int64 ids (B, T): an Embedding must follow
            return Chain((Axis("in0", dims[0]), Axis("in1", dims[1])), ())
        if elem_type not in _FLOAT_TYPES:
            raise OnnxImportError(f"graph input {name!r} has element type {elem_type}; expected floats "
                                  f"(or int32/int64 ids for an embedding)")
        if len(dims) != 3:
            raise OnnxImportError(f"graph input {name!r} has {len(dims)} dimensions; expected 3 "
                                  f"(batch, time, features) or (time, batch, features)")
        return Chain((Axis("in0", dims[0]), Axis("in1", dims[1]), Axis("F", dims[2])), ())

    def _needed_nodes(self) -> list:
        """The nodes the graph outputs depend on, in graph order."""
        producer = {}
        for i, n in enumerate(self.graph.node):
            for o in n.output:
                if o:
                    producer[o] = i
        need, stack = set(), [o.name for o in self.graph.output]
        while stack:
            name = stack.pop()
            i = producer.get(name)
            if i is None or i in need:
                continue
            need.add(i)
            stack.extend(x for x in self.graph.node[i].input if x)
        return [n for i, n in enumerate(self.graph.node) if i in need]

    # -- main loop --------------------------------------------------------------------------
    def run(self):
        if not self.graph.output:
            raise ValueError("the ONNX graph has no outputs; the file may be truncated or not an ONNX model")
        nodes = self._needed_nodes()
        self._init_values({x for n in nodes for x in n.input} | {o.name for o in self.graph.output})
        for node in nodes:
            if node.domain not in ("", "ai.onnx"):
                self._fail(node, f"ops of domain {node.domain!r} are not supported")
            ins = []
            for name in node.input:
                if name and name not in self.values:
                    self._fail(node, f"input {name!r} is not produced by an earlier node, an initializer or "
                                     f"a graph input (graph not in topological order, or truncated)")
                ins.append(self.values[name] if name else None)
            outs = self._node(node, ins)
            for name, v in zip(node.output, outs):
                if name:
                    self.values[name] = v
        return self._result()

    def _node(self, node, ins) -> list:
        present = [v for v in ins if v is not None]
        if node.op_type in _NONDETERMINISTIC:
            self._fail(node, "random ops are not supported")
        if node.op_type in _CONTROL_FLOW:
            self._fail(node, "control flow (subgraphs) is not supported")
        if all(isinstance(v, Const) for v in present) and node.op_type not in ("ConstantFill", "GRU"):
            return self._fold(node, ins)
        if node.op_type in _SHAPE_OPS and any(isinstance(v, ShapeVec) for v in present) \
                and all(isinstance(v, (Const, ShapeVec)) for v in present):
            return self._shape_op(node, ins)
        handler = self.handlers.get(node.op_type)
        if handler is None:
            got = ", ".join(self._describe(v) for v in present)
            self._fail(node, f"unsupported op {node.op_type!r} on {got} (no exact equivalent among the "
                             f"GRU / Dense / affine / activation / last-step layers gru_infer runs: a model that "
                             f"needs it runs in onnxruntime, not here)")
        out = handler(node, ins)
        return out if isinstance(out, list) else [out]

    def _fold(self, node, ins) -> list:
        """Evaluate a node whose inputs are all known with onnx's reference implementation."""
        from onnx import helper
        from onnx.reference import ReferenceEvaluator
        refusal = fold_refusal(node.op_type, [None if v is None else v.array for v in ins], attrs(node))
        if refusal:
            self._fail(node, f"cannot fold this constant node: {refusal}")
        names = [f"in{i}" if v is not None else "" for i, v in enumerate(ins)]
        n = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))], domain=node.domain)
        n.attribute.extend(node.attribute)
        g = helper.make_graph([n], "fold", [helper.make_tensor_value_info(x, 0, None) for x in names if x],
                              [helper.make_tensor_value_info(f"out{i}", 0, None) for i in range(len(node.output))])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        try:
            res = ReferenceEvaluator(m).run(None, {x: v.array for x, v in zip(names, ins) if x})
        except Exception as e:
            self._fail(node, f"could not evaluate this constant node ({type(e).__name__}: {e})")
        return [Const(np.asarray(r)) for r in res]

    # -- shape arithmetic -------------------------------------------------------------------
    def _shape_op(self, node, ins) -> list:
        def ent(v):
            return v.entries if isinstance(v, ShapeVec) else np.asarray(v.array).astype(object)

        def ints(v, what):
            a = ent(v)
            if any(isinstance(x, Axis) for x in a.flat):
                self._fail(node, f"{what} depends on the input's batch/time size")
            return np.asarray(a.tolist(), dtype=np.int64)

        op, a = node.op_type, attrs(node)
        x = ent(ins[0])
        out = self._shape_result(node, op, a, x, ins, ent, ints)
        return [ShapeVec(np.asarray(out, dtype=object))]  # np.take etc. return bare entries for scalars

    def _shape_result(self, node, op, a, x, ins, ent, ints):
        if op in ("Identity", "Cast"):
            return x
        if op == "Gather":
            return np.take(x, ints(ins[1], "the index"), axis=a.get("axis", 0))
        if op == "Concat":
            return np.concatenate([np.atleast_1d(ent(v)) for v in ins if v is not None], axis=a.get("axis", 0))
        if op == "Unsqueeze":
            axes = a["axes"] if "axes" in a else ints(ins[1], "the axes").tolist()
            for ax in sorted(int(v) % (x.ndim + len(axes)) for v in axes):
                x = np.expand_dims(x, ax)
            return x
        if op == "Squeeze":
            axes = a.get("axes", ints(ins[1], "the axes").tolist() if len(ins) > 1 and ins[1] is not None else None)
            return np.squeeze(x, axis=None if axes is None else tuple(int(v) for v in axes))
        if op == "Reshape":
            return x.reshape(ints(ins[1], "the target shape"))
        if op == "Slice" and x.ndim == 1:
            starts, ends, axes, steps = self._slice_args(node, ins)
            if axes not in (None, [0]) or steps not in (None, [1]):
                self._fail(node, "only a plain Slice of a shape vector is supported")
            return x[int(starts[0]):int(min(ends[0], len(x)))]
        if op in ("Mul", "Add", "Sub", "Div"):
            b = ent(ins[1])
            if any(isinstance(v, Axis) for v in list(x.flat) + list(b.flat)):
                self._fail(node, "arithmetic on the input's batch/time size is not supported")
            f = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.floor_divide}[op]
            return np.asarray(f(x.astype(np.int64), b.astype(np.int64))).astype(object)
        self._fail(node, "unsupported op on a shape computed from the input's Shape")

    def _shape(self, node, ins) -> ShapeVec:
        v = ins[0]
        if not isinstance(v, Chain):
            self._fail(node, f"Shape of a {self._describe(v)} is not supported")
        a = attrs(node)
        dims = np.array([ax if ax.kind in ("in0", "in1", "B", "T") else ax.size for ax in v.axes], dtype=object)
        if any(d is None for d in dims):
            self._fail(node, "Shape of a tensor whose feature size is not known")
        return ShapeVec(dims[a.get("start", 0):a.get("end", len(dims))])

    def _target_entries(self, node, v) -> list:
        if isinstance(v, Const):
            return [int(x) for x in np.asarray(v.array).reshape(-1)]
        if isinstance(v, ShapeVec):
            return [x if isinstance(x, Axis) else int(x) for x in v.entries.reshape(-1)]
        self._fail(node, f"the shape argument is a {self._describe(v)}; expected a constant or a value "
                         f"computed from Shape")

    # -- pass-through ops ---------------------------------------------------------------------
    def _identity(self, node, ins):
        return ins[0]

    def _dropout(self, node, ins):
        training = ins[2] if len(ins) > 2 else None
        if isinstance(training, Const) and bool(np.asarray(training.array)):
            self._fail(node, "Dropout with training_mode=True is random; only inference is supported")
        if training is not None and not isinstance(training, Const):
            self._fail(node, "Dropout with a non-constant training_mode")
        return [ins[0], Zeros()]  # the mask output: nothing uses it in an inference graph

    def _cast(self, node, ins):
        v, to = ins[0], attrs(node).get("to")
        if isinstance(v, LengthsIn) or isinstance(v, Zeros):
            return v
        if isinstance(v, (Chain, StateIn)) and to in _FLOAT_TYPES:
            return v
        self._fail(node, f"Cast of {self._describe(v)} to type {to} is not supported (only to float types)")

    # -- axis moves ---------------------------------------------------------------------------
    def _transpose(self, node, ins):
        v = ins[0]
        perm = attrs(node).get("perm")
        if isinstance(v, Zeros):
            return v
        if isinstance(v, StateIn):
            perm = list(reversed(range(len(v.perm)))) if perm is None else perm
            return replace(v, perm=tuple(v.perm[p] for p in perm))
        if not isinstance(v, Chain):
            self._fail(node, f"Transpose of a {self._describe(v)} is not supported")
        perm = list(reversed(range(len(v.axes)))) if perm is None else [int(p) for p in perm]
        if sorted(perm) != list(range(len(v.axes))):
            self._fail(node, f"perm {perm} does not fit a {len(v.axes)}-d tensor")
        return replace(v, axes=tuple(v.axes[p] for p in perm))

    def _axes_arg(self, node, ins, ndim) -> Optional[List[int]]:
        a = attrs(node)
        if "axes" in a:
            axes = a["axes"]
        elif len(ins) > 1 and ins[1] is not None:
            axes = self._target_entries(node, ins[1])
        else:
            return None
        return [int(x) % ndim for x in axes]

    def _squeeze(self, node, ins):
        v = ins[0]
        if isinstance(v, Zeros):
            return v
        if isinstance(v, StateRows):
            if v.has_row_axis and len(v.rows) == 1 and self._axes_arg(node, ins, 3) in (None, [0]):
                return self._rows_to_chain(node, StateRows(v.rows, has_row_axis=False))
            self._fail(node, "only Squeeze(axis 0) of a single state row is supported")
        if not isinstance(v, Chain):
            self._fail(node, f"Squeeze of a {self._describe(v)} is not supported")
        axes = self._axes_arg(node, ins, len(v.axes))
        if axes is None:  # all unit axes; an axis of batch, time or features of length 1 is ambiguous
            axes = [i for i, ax in enumerate(v.axes) if ax.size == 1]
        for i in axes:
            ax = v.axes[i]
            if not droppable(ax):
                self._fail(node, f"cannot squeeze axis {i} ({ax.kind}) of {self._describe(v)}")
        keep = tuple(ax for i, ax in enumerate(v.axes) if i not in axes)
        dropped_d = any(v.axes[i].kind == "D" for i in axes)
        return replace(v, axes=keep, is_state=v.is_state and not dropped_d)

    def _unsqueeze(self, node, ins):
        v = ins[0]
        if isinstance(v, Zeros):
            return v
        if not isinstance(v, Chain):
            self._fail(node, f"Unsqueeze of a {self._describe(v)} is not supported")
        n = len(v.axes)
        a = attrs(node)
        raw = a["axes"] if "axes" in a else self._target_entries(node, ins[1])
        axes = sorted(int(x) % (n + len(raw)) for x in raw)
        out = list(v.axes)
        for i in axes:
            out.insert(i, Axis("1", 1))
        return replace(v, axes=tuple(out))

    def _flatten(self, node, ins):
        v = ins[0]
        axis = attrs(node).get("axis", 1)
        if isinstance(v, Chain) and len(v.axes) == 2 and axis % 2 == 1 and self._features_complete(v):
            return v  # (B, F) stays (B, F)
        self._fail(node, f"Flatten(axis={axis}) of {self._describe(v)} is not supported")

    def _reshape(self, node, ins):
        v = ins[0]
        if isinstance(v, Zeros):
            return v
        if not isinstance(v, Chain):
            self._fail(node, f"Reshape of a {self._describe(v)} is not supported")
        target = self._target_entries(node, ins[1])
        allowzero = attrs(node).get("allowzero", 0)
        src = list(v.axes)
        def sym(ax):
            return self._kind(ax) in ("B", "T", "in0", "in1")

        def copied(i):  # a 0 entry copies the source length (allowzero=0)
            return src[i] if sym(src[i]) else src[i].size

        tgt = [copied(i) if (e == 0 and not allowzero and i < len(src)) else e for i, e in enumerate(target)]
        if target.count(-1) > 1:
            self._fail(node, f"target shape {target} has more than one -1")
        out, j = [], 0

        bad = f"Reshape of {self._describe(v)} to {target} is not supported (only merging the direction and " \
              f"hidden axes, or dropping unit axes)"
        for e in tgt:
            while j < len(src) and droppable(src[j]) and not self._unit_target(e, src, j):
                j += 1  # drop unit axes (a unidirectional GRU's direction axis, ...)
            if j >= len(src):
                if e == 1:
                    out.append(Axis("1", 1))
                    continue
                self._fail(node, bad)
            ax = src[j]
            if sym(ax):
                same = isinstance(e, Axis) and self._kind(e) == self._kind(ax)
                if not (e is ax or same or e == -1 or (isinstance(e, int) and ax.size is not None and e == ax.size)):
                    self._fail(node, bad)
                out.append(ax)
                j += 1
                continue
            if isinstance(e, Axis):
                self._fail(node, bad)
            group = []
            while j < len(src) and not sym(src[j]):
                group.append(src[j])
                j += 1
                size = int(np.prod([g.size for g in group]))
                if e != -1 and size >= e:
                    break
            if e != -1 and int(np.prod([g.size for g in group])) != e:
                self._fail(node, bad)
            out.append(self._merge(node, group, bad))
        while j < len(src) and droppable(src[j]):
            j += 1
        if j != len(src):
            self._fail(node, bad)
        merged_d = any(ax.kind == "D" for ax in src) and not any(ax.kind == "D" for ax in out)
        return replace(v, axes=tuple(out), is_state=v.is_state and not merged_d)

    @staticmethod
    def _unit_target(e, src, j) -> bool:
        """Keep a unit source axis when the target entry is 1 there (e.g. reshape to (B, 1, F))."""
        return isinstance(e, int) and e == 1 and droppable(src[j])

    def _merge(self, node, group: List[Axis], bad: str) -> Axis:
        real = [g for g in group if not droppable(g)]
        if not real:
            return group[0] if len(group) == 1 else Axis("1", 1)
        if len(real) == 1:
            return real[0]
        if len(real) == 2 and real[0].kind == "D" and real[1].kind == "H":
            return Axis("F", real[0].size * real[1].size)  # (D, H) -> [forward || backward]
        self._fail(node, bad)

    # -- selecting steps and rows -------------------------------------------------------------
    def _slice_args(self, node, ins):
        a = attrs(node)
        if self.opset < 10:
            return a.get("starts"), a.get("ends"), a.get("axes"), None

        def opt(i):
            return self._target_entries(node, ins[i]) if len(ins) > i and ins[i] is not None else None
        return opt(1), opt(2), opt(3), opt(4)

    def _is_last_step(self, ax: Axis, start: int, end: int) -> bool:
        last = ax.size - 1 if ax.size is not None else None
        return (start == -1 or (last is not None and start == last)) and \
            (end >= _TO_END or (ax.size is not None and end >= ax.size))

    def _slice(self, node, ins):
        v = ins[0]
        if isinstance(v, Zeros):
            return v
        starts, ends, axes, steps = self._slice_args(node, ins)
        if starts is None or ends is None:
            self._fail(node, "Slice without starts/ends")
        if isinstance(v, StateIn):
            axes = list(range(len(starts))) if axes is None else axes
            if len(axes) != 1 or (steps not in (None, [1])) or v.rows is not None:
                self._fail(node, "only one plain Slice along one axis of initial_h is supported")
            ax = v.perm[int(axes[0]) % len(v.perm)]
            return replace(v, rows=(ax, int(starts[0]), int(ends[0])))
        if isinstance(v, Chain) and v.is_state:
            v = self._as_rows(node, v)
        if isinstance(v, StateRows):
            if axes not in (None, [0]) or steps not in (None, [1]) or not v.has_row_axis:
                self._fail(node, "only slicing along the direction/layer axis of final states is supported")
            n = len(v.rows)
            return StateRows(v.rows[slice(*[max(-n - 1, min(n, int(x))) for x in (starts[0], ends[0])])])
        if not isinstance(v, Chain):
            self._fail(node, f"Slice of a {self._describe(v)} is not supported")
        axes = list(range(len(starts))) if axes is None else [int(x) % len(v.axes) for x in axes]
        steps = steps or [1] * len(axes)
        out, layers = list(v.axes), v.layers
        for ax_i, s, e, st in zip(axes, starts, ends, steps):
            ax = v.axes[ax_i]
            full = s == 0 and st == 1 and (e >= _TO_END or (ax.size is not None and e >= ax.size))
            if full:
                continue
            if self._kind(ax) == "T" and st == 1 and self._is_last_step(ax, s, e):
                out[ax_i] = Axis("T1", 1)
                layers = self._last_step(node, v, layers)
                continue
            self._fail(node, f"Slice [{s}:{e}:{st}] on axis {ax_i} ({ax.kind}) of {self._describe(v)}: only the full "
                             f"axis or the last time step is supported")
        return Chain(tuple(out), layers, v.is_state)

    def _last_step(self, node, v: Chain, layers):
        if any(self._kind(a) == "T1" for a in v.axes):
            self._fail(node, "time is already reduced to one step")
        if not any(isinstance(layer, GRU) for layer in layers):
            self._fail(node, "selecting a time step before any GRU is not supported")
        return layers + (LastStep(),)

    def _gather(self, node, ins):
        data, idx = ins[0], ins[1]
        axis = attrs(node).get("axis", 0)
        if isinstance(data, Const) and isinstance(idx, Chain):  # an embedding lookup of input ids
            table = np.asarray(data.array)
            if axis != 0 or table.ndim != 2 or idx.layers or len(idx.axes) != 2:
                self._fail(node, "only Gather(table (N, F), ids (B, T)) on the graph input is supported")
            return Chain(idx.axes + (Axis("F", table.shape[1]),), (Embedding(table.astype(np.float32)),))
        if not isinstance(idx, Const):
            self._fail(node, f"Gather with a non-constant index ({self._describe(idx)})")
        index = np.asarray(idx.array)
        if index.size != 1:
            self._fail(node, f"Gather of {index.size} indices; only one index is supported")
        i, scalar = int(index.reshape(-1)[0]), index.ndim == 0
        if isinstance(data, Zeros):
            return data
        if isinstance(data, Chain) and data.is_state:
            data = self._as_rows(node, data)
        if isinstance(data, StateRows):
            if axis != 0 or not data.has_row_axis or not -len(data.rows) <= i < len(data.rows):
                self._fail(node, f"Gather index {i} on axis {axis} of {len(data.rows)} final-state rows")
            rows = StateRows((data.rows[i],), has_row_axis=not scalar)
            return self._rows_to_chain(node, rows) if scalar else rows
        if not isinstance(data, Chain):
            self._fail(node, f"Gather from a {self._describe(data)} is not supported")
        axis %= len(data.axes)
        ax = data.axes[axis]
        if self._kind(ax) != "T" or not self._is_last_step(ax, i, _TO_END):
            self._fail(node, f"Gather index {i} on axis {axis} ({ax.kind}) of {self._describe(data)}: only the last "
                             f"time step (index -1 or T-1) is supported")
        layers = self._last_step(node, data, data.layers)
        axes = list(data.axes)
        if scalar:
            del axes[axis]
        else:
            axes[axis] = Axis("T1", 1)
        return Chain(tuple(axes), layers, data.is_state)

    def _as_rows(self, node, v: Chain) -> StateRows:
        """A GRU's Y_h (D, B, H) as final-state rows."""
        if [self._kind(a) for a in v.axes] != ["D", "B", "H"]:
            self._fail(node, f"final state with axes {self._describe(v)}; only (directions, batch, hidden) "
                             f"is supported")
        return StateRows(tuple((v, d) for d in range(v.axes[0].size)))

    def _rows_to_chain(self, node, rows: StateRows) -> Chain:
        """One selected row (B, H): a unidirectional GRU's final state is a complete value."""
        (src, d), = rows.rows
        if src.axes[0].size != 1:
            return rows  # one direction of a bidirectional GRU: completed by a Concat of both
        return Chain(src.axes[1:], src.layers)

    def _concat(self, node, ins):
        axis = attrs(node).get("axis")
        vals = [v for v in ins if v is not None]
        if all(isinstance(v, Zeros) for v in vals):
            return vals[0]
        if all(isinstance(v, (StateRows, Chain)) for v in vals):
            rows = [self._as_rows(node, v) if isinstance(v, Chain) and v.is_state else v for v in vals]
            if all(isinstance(r, StateRows) and r.has_row_axis for r in rows) and axis == 0:
                return StateRows(tuple(x for r in rows for x in r.rows))
            if all(isinstance(r, StateRows) and not r.has_row_axis for r in rows) and axis in (1, -1):
                parts = [r.rows[0] for r in rows]
                src = parts[0][0]
                if all(p[0] is src for p in parts) and [p[1] for p in parts] == list(range(src.axes[0].size)):
                    return Chain((src.axes[1], Axis("F", src.axes[0].size * src.axes[2].size)), src.layers)
        self._fail(node, f"Concat of {[self._describe(v) for v in vals]} on axis {axis}: only the final states "
                         f"of one bidirectional GRU (forward, backward) or of stacked GRU layers can be joined")

    # -- zeros --------------------------------------------------------------------------------
    def _expand(self, node, ins):
        v = ins[0]
        if isinstance(v, Zeros) or (isinstance(v, Const) and not np.any(np.asarray(v.array))):
            return Zeros()
        self._fail(node, f"Expand of {self._describe(v)}: only a zero tensor (an initial state) can be expanded")

    def _fill(self, node, ins):
        a = attrs(node)
        value = a.get("value", 0.0)
        if node.op_type == "ConstantFill":  # the opset-7 PyTorch exporter's (experimental) op
            if a.get("extra_shape") or a.get("input_as_shape", 0) != 1 or not ins or ins[0] is None:
                self._fail(node, "only ConstantFill(shape, input_as_shape=1) is supported")
            if isinstance(ins[0], Const):
                shape = [int(x) for x in np.asarray(ins[0].array).reshape(-1)]
                if min(shape, default=0) < 0 or np.prod(shape, dtype=np.float64) > _MAX_FILL:
                    self._fail(node, f"implausible shape {shape}")
                return Const(np.full(shape, float(value), np.float32))
        elif not isinstance(value, float):  # ConstantOfShape: a one-element tensor
            value = float(np.asarray(tensor_array(value, "value")).reshape(-1)[0])
        if value == 0:
            return Zeros()
        self._fail(node, f"a non-zero fill ({value}) of an input-dependent shape is not supported")

    # -- layers -------------------------------------------------------------------------------
    def _features_complete(self, v: Chain) -> bool:
        """True if the last axis holds a whole feature vector (every other axis is batch/time/unit)."""
        if not v.axes or v.axes[-1].kind not in ("F", "H") or v.axes[-1].size is None:
            return False
        return all(self._kind(a) in ("B", "T", "T1", "in0", "in1") or a.size == 1 for a in v.axes[:-1])

    def _layer_input(self, node, v, what: str) -> Chain:
        if isinstance(v, StateRows):
            self._fail(node, f"{what} of one direction of a bidirectional GRU's final state: concatenate "
                             f"both directions first")
        if not isinstance(v, Chain) or not self._features_complete(v):
            self._fail(node, f"{what} needs the features on the last axis, got {self._describe(v)}")
        return v

    def _activation(self, node, ins):
        v, op, a = ins[0], node.op_type, attrs(node)
        if op in ("Softmax", "LogSoftmax"):
            v = self._layer_input(node, v, op)
            default = -1 if self.opset >= 13 else 1
            axis = a.get("axis", default) % len(v.axes)
            if axis != len(v.axes) - 1:
                self._fail(node, f"{op} over axis {axis} of {self._describe(v)}: only the last axis is supported")
            act = Activation("softmax" if op == "Softmax" else "log_softmax")
        else:
            if not isinstance(v, Chain) or v.is_state:
                self._fail(node, f"{op} of {self._describe(v)} is not supported")
            if op == "Gelu" and a.get("approximate", "none") not in ("none", "tanh"):
                self._fail(node, f"approximate={a.get('approximate')!r}; expected 'none' or 'tanh'")
            kind, alpha, beta = {
                "Gelu": ("gelu" if a.get("approximate", "none") == "none" else "gelu_tanh", 0.0, 0.0),
                "Selu": ("selu", a.get("alpha", 1.67326319217681884765625), a.get("gamma", 1.05070102214813232421875)),
                "Celu": ("celu", a.get("alpha", 1.0), 0.0), "HardSwish": ("hard_swish", 0.0, 0.0),
                "Mish": ("mish", 0.0, 0.0),
                "Relu": ("relu", 0.0, 0.0), "Tanh": ("tanh", 0.0, 0.0), "Sigmoid": ("sigmoid", 0.0, 0.0),
                "LeakyRelu": ("leaky_relu", a.get("alpha", 0.01), 0.0), "Elu": ("elu", a.get("alpha", 1.0), 0.0),
                "HardSigmoid": ("hard_sigmoid", a.get("alpha", 0.2), a.get("beta", 0.5)),
                "Softsign": ("softsign", 0.0, 0.0), "Softplus": ("softplus", 0.0, 0.0),
                "ThresholdedRelu": ("thresholded_relu", a.get("alpha", 1.0), 0.0)}[op]
            act = Activation(kind, float(alpha), float(beta))
        return replace(v, layers=v.layers + (ActivationLayer(act),))

    def _weight(self, node, v, what: str) -> np.ndarray:
        if not isinstance(v, Const):
            self._fail(node, f"{what} must be a constant (initializer), got {self._describe(v)}")
        arr = np.asarray(v.array)
        if arr.dtype.kind != "f":
            self._fail(node, f"{what} has dtype {arr.dtype}; expected floats")
        return arr.astype(np.float32)

    def _gemm(self, node, ins):
        v = self._layer_input(node, ins[0], "Gemm")
        a = attrs(node)
        if len(v.axes) != 2 or a.get("transA", 0):
            self._fail(node, f"Gemm on {self._describe(v)} with transA={a.get('transA', 0)}: only (batch, features) "
                             f"@ constant is supported")
        w = self._weight(node, ins[1], "Gemm B")
        if w.ndim != 2:
            self._fail(node, f"Gemm B has shape {w.shape}; expected 2-d")
        w = w if a.get("transB", 0) else w.T  # -> (out, in)
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        if alpha != 1.0:
            w = w * np.float32(alpha)
        bias = None
        if len(ins) > 2 and ins[2] is not None:
            bias = self._bias(node, self._weight(node, ins[2], "Gemm C"), w.shape[0], 2) * np.float32(beta)
        return self._dense(node, v, w, bias)

    def _matmul(self, node, ins):
        v = self._layer_input(node, ins[0], "MatMul")
        w = self._weight(node, ins[1], "MatMul B")
        if w.ndim != 2:
            self._fail(node, f"MatMul B has shape {w.shape}; only a 2-d constant (in, out) is supported")
        return self._dense(node, v, w.T, None)

    def _dense(self, node, v: Chain, weight: np.ndarray, bias):
        if weight.shape[1] != v.axes[-1].size:
            self._fail(node, f"weight of shape {weight.shape} (out, in) does not fit {v.axes[-1].size} features")
        axes = v.axes[:-1] + (Axis("F", weight.shape[0]),)
        return Chain(axes, v.layers + (Dense(weight, bias),))

    def _bias(self, node, c: np.ndarray, out: int, ndim: int) -> np.ndarray:
        """A constant added over the last axis: broadcastable along every other axis."""
        if c.ndim > ndim or any(s != 1 for s in c.shape[:-1]) or (c.ndim and c.shape[-1] not in (1, out)):
            self._fail(node, f"a constant of shape {c.shape} is not a per-feature bias of {out} features")
        return np.broadcast_to(c.reshape(-1), (out,)).astype(np.float32)

    def _add(self, node, ins):
        x, y = ins
        step = self._gelu_step(node, "Add", x, y)
        if step is not None:
            return step
        if isinstance(y, Chain) and isinstance(x, Const):
            x, y = y, x
        if not (isinstance(x, Chain) and isinstance(y, Const)):
            self._fail(node, f"Add of {self._describe(x)} and {self._describe(y)}: only a constant (a bias, or "
                             f"the shift of a per-feature scale and shift) is supported")
        v = self._layer_input(node, x, "Add")
        last = v.layers[-1] if v.layers else None
        if not isinstance(last, Dense):  # x * scale + shift (a folded BatchNorm), or a shift on its own
            return self._affine_op(node, ins)
        c = self._bias(node, self._weight(node, y, "Add constant"), last.weight.shape[0], len(v.axes))
        bias = c if last.bias is None else np.asarray(last.bias, np.float32) + c
        return replace(v, layers=v.layers[:-1] + (Dense(last.weight, bias),))

    # -- result -------------------------------------------------------------------------------
    def _result(self):
        outputs = [(o.name, self.values[o.name]) for o in self.graph.output]
        chains = [(n, v) for n, v in outputs if isinstance(v, Chain) and not v.is_state]
        states = [(n, v) for n, v in outputs if isinstance(v, StateRows) or (isinstance(v, Chain) and v.is_state)]
        if not chains and len(states) == 1 and isinstance(states[0][1], Chain):
            chains, states = states, []
        if len(chains) != 1:
            raise OnnxImportError(f"expected exactly one graph output computed from the input sequence, found "
                                  f"{[n for n, _ in chains]} (outputs: {[(n, self._describe(v)) for n, v in outputs]})")
        (out_name, main), = chains
        others = [n for n, v in outputs if not (isinstance(v, (Chain, StateRows)))]
        if others:
            raise OnnxImportError(f"graph outputs {others} do not depend on the input sequence")
        grus = [layer for layer in main.layers if isinstance(layer, GRU)]
        if not grus:
            raise OnnxImportError("no GRU node on the path from the input to the output")
        layout = "batch_first" if self.binding.get("in0") == "B" else "seq_first"
        info = {"source": "onnx", "opset": self.opset, "input_name": self.data_input, "input_layout": layout,
                "output_name": out_name, "output_axes": self._axes_letters(main.axes),
                "sequence_lens_input": self._common_lengths(grus), "initial_h_input": None,
                "initial_h_axes": None, "state_output": self._state_output(states, main.layers)}
        h0 = self._common_h0(grus)
        if h0:
            info["initial_h_input"], info["initial_h_axes"] = h0
        if self.assumed:
            info["assumed"] = list(self.assumed)
        return list(main.layers), info

    def _axes_letters(self, axes) -> str:
        """E.g. "BTF"; H (hidden) only next to a D (direction) axis, else the features are F."""
        kinds = [self._kind(a) for a in axes]
        letters = {"T1": "1", "in0": "?", "in1": "?", "H": "H" if "D" in kinds else "F"}
        return "".join(letters.get(k, k) for k in kinds)

    def _common_lengths(self, grus) -> Optional[str]:
        names = {self.gru_meta[id(g)].lengths for g in grus}
        if len(names) != 1:
            raise OnnxImportError(f"GRU nodes {[self.gru_meta[id(g)].node for g in grus]} use different "
                                  f"sequence_lens ({sorted(map(str, names))}); the engine applies one lengths= to "
                                  f"every GRU layer")
        return names.pop()

    def _common_h0(self, grus):
        metas = [self.gru_meta[id(g)] for g in grus]
        srcs = [m.h0 for m in metas]
        if all(s is None for s in srcs):
            return None
        total = sum(g.num_directions for g in grus)
        names = {s[0] for s in srcs if s}
        axes = {s[1] for s in srcs if s}
        if None in srcs or len(names) != 1 or len(axes) != 1:
            raise OnnxImportError(f"GRU nodes {[m.node for m in metas]} take initial_h from different sources "
                                  f"({srcs}); predict's h0= sets the initial state of every GRU layer at once")
        name, = names
        dims = self.values[name].dims
        row_axis = axes.pop()
        if any(s[3] is None for s in srcs) and len(srcs) > 1:
            raise OnnxImportError(f"several GRU nodes use all of initial_h input {name!r}")
        if dims[row_axis] is not None and dims[row_axis] != total:
            raise OnnxImportError(f"initial_h input {name!r} has {dims[row_axis]} rows; the GRU layers use {total}")
        return name, "DBH" if row_axis == 0 else "BDH"

    def _state_output(self, states, layers) -> Optional[str]:
        """The graph output holding every GRU layer's final state in our h_n order, if there is one."""
        def node_of(spec):  # a GRU node's Y and Y_h specs share one meta record
            return id(self.gru_meta[id(spec)])

        order = [(node_of(g), d) for g in layers if isinstance(g, GRU) for d in range(g.num_directions)]
        for name, v in states:
            if isinstance(v, Chain):
                if [self._kind(a) for a in v.axes] != ["D", "B", "H"]:
                    continue
                rows = [(v, d) for d in range(v.axes[0].size)]
            elif v.has_row_axis:
                rows = v.rows
            else:
                continue
            if [(node_of(src.layers[-1]), d) for src, d in rows] == order:
                return name
        return None
