"""Element-wise and per-feature ONNX ops of the graph walker (`_walker.GraphWalker` mixes this in):
Mul / Add / Sub / Div by per-feature constants and BatchNormalization (Affine layers; tf2onnx writes a
Keras BatchNormalization as Mul then Add), Clip, and GELU in the Erf decomposition torch.onnx writes
below opset 20 (x * (erf(x / sqrt 2) + 1) * 0.5, recognised one node at a time).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ...layers import Activation, ActivationLayer, Affine
from ._values import Chain, Const, attrs


@dataclass(frozen=True)
class _GeluStep:
    """Part of GELU's Erf decomposition applied to the chain x."""
    x: Chain
    stage: str


def _same_chain(a: Chain, b: Chain) -> bool:
    return a.axes == b.axes and len(a.layers) == len(b.layers) and all(p is q for p, q in zip(a.layers, b.layers))



def features_of_consumer(graph, name: str) -> Optional[int]:
    """The input width the first layer fed by `name` expects (GRU W, MatMul/Gemm weight), following
    layout-only ops; None if it cannot be told. The weight may be an initializer or a Constant node."""
    consts = {t.name: list(t.dims) for t in graph.initializer}
    for n in graph.node:
        value = next((a.t for a in n.attribute if a.name == "value"), None) if n.op_type == "Constant" else None
        if value is not None:
            consts[n.output[0]] = list(value.dims)
    glue = ("Transpose", "Identity", "Cast", "Dropout")
    seen = set()
    while name not in seen:
        seen.add(name)
        users = [n for n in graph.node if name in n.input and n.op_type != "Shape"]
        if len(users) != 1:
            return None
        node = users[0]
        if node.op_type in glue:
            name = node.output[0]
            continue
        dims = consts.get(node.input[1]) if len(node.input) > 1 else None
        if dims is None or node.input[0] != name:
            return None
        if node.op_type == "GRU" and len(dims) == 3:
            return int(dims[2])
        if node.op_type == "MatMul" and len(dims) == 2:
            return int(dims[0])
        if node.op_type == "Gemm" and len(dims) == 2:
            return int(dims[0] if not attrs(node).get("transB", 0) else dims[1])
        return None
    return None


class ElementwiseOps:
    """Handlers for GraphWalker; they use its _fail, _layer_input, _weight, _bias, _describe."""

    def _affine_op(self, node, ins):
        """x * c, x + c, x - c, x / c with c a per-feature (or scalar) constant: an Affine layer, merged
        with an Affine right before it (tf2onnx writes a Keras BatchNormalization as Mul then Add)."""
        op = node.op_type
        x, y = ins
        step = self._gelu_step(node, op, x, y) if op == "Mul" else None
        if step is not None:
            return step
        if op in ("Mul", "Add") and isinstance(y, Chain) and isinstance(x, Const):
            x, y = y, x
        if not (isinstance(x, Chain) and isinstance(y, Const)):
            self._fail(node, f"{op} of {self._describe(x)} and {self._describe(y)}: only a per-feature constant "
                             f"{'after' if op in ('Sub', 'Div') else 'and'} the data is supported (an exact "
                             f"x * scale + shift)")
        v = self._layer_input(node, x, op)
        n = v.axes[-1].size
        c = self._bias(node, self._weight(node, y, f"{op} constant"), n, len(v.axes)).astype(np.float64)
        scale, shift = {"Mul": (c, np.zeros(n)), "Add": (np.ones(n), c), "Sub": (np.ones(n), -c),
                        "Div": (1.0 / c, np.zeros(n))}[op]
        last = v.layers[-1] if v.layers else None
        if isinstance(last, Affine):  # (x * s0 + t0) * s + t
            s0, t0 = np.asarray(last.scale, np.float64), np.asarray(last.shift, np.float64)
            scale, shift = s0 * scale, t0 * scale + shift
            return replace(v, layers=v.layers[:-1] + (Affine(scale.astype(np.float32), shift.astype(np.float32)),))
        return replace(v, layers=v.layers + (Affine(scale.astype(np.float32), shift.astype(np.float32)),))

    def _batch_norm(self, node, ins):
        """BatchNormalization in inference mode over the channel axis (1), which must hold the features
        ((batch, features) or (batch, features, time))."""
        a = attrs(node)
        if a.get("training_mode", 0) or len(node.output) > 1 and any(node.output[1:]):
            self._fail(node, "training mode (running statistics as outputs) is not supported")
        v = ins[0]
        if not isinstance(v, Chain) or len(v.axes) < 2 or v.axes[1].kind not in ("F", "H") or v.axes[1].size is None \
                or not all(self._kind(ax) in ("B", "T", "T1") or ax.size == 1 for i, ax in enumerate(v.axes) if i != 1):
            self._fail(node, f"BatchNormalization of {self._describe(v)}: the channel axis (1) must hold the "
                             f"features, as in (batch, features) or (batch, features, time)")
        n = v.axes[1].size
        params = [self._weight(node, ins[i], what) for i, what in ((1, "scale"), (2, "B"), (3, "mean"), (4, "var"))]
        for p, what in zip(params, ("scale", "B", "mean", "var")):
            if p.shape != (n,):
                self._fail(node, f"{what} has shape {p.shape}; expected ({n},)")
        aff = Affine.from_batch_norm(*params, float(a.get("epsilon", 1e-5)))
        return replace(v, layers=v.layers + (aff,))

    def _clip(self, node, ins):
        v = ins[0]
        lo = ins[1] if len(ins) > 1 else None
        hi = ins[2] if len(ins) > 2 else None
        a = attrs(node)
        if self.opset < 11:
            lo_v, hi_v = a.get("min", float("-inf")), a.get("max", float("inf"))
        else:
            for c, what in ((lo, "min"), (hi, "max")):
                if c is not None and not (isinstance(c, Const) and np.asarray(c.array).size == 1):
                    self._fail(node, f"{what} must be a constant scalar")
            lo_v = float(np.asarray(lo.array).reshape(())) if lo is not None else float("-inf")
            hi_v = float(np.asarray(hi.array).reshape(())) if hi is not None else float("inf")
        if not isinstance(v, Chain) or v.is_state:
            self._fail(node, f"Clip of {self._describe(v)} is not supported")
        return replace(v, layers=v.layers + (ActivationLayer(Activation("clip", float(lo_v), float(hi_v))),))

    # GELU as torch.onnx writes it below opset 20: x * (Erf(x / sqrt(2)) + 1) * 0.5. Each step gives a
    # marker until the last Mul, which puts one gelu activation on x's chain.
    def _erf(self, node, ins):
        v = ins[0]
        last = v.layers[-1] if isinstance(v, Chain) and v.layers else None
        if not (isinstance(last, Affine) and np.allclose(last.scale, 1 / np.sqrt(2), rtol=1e-6, atol=0)
                and not np.any(last.shift)):
            self._fail(node, f"Erf of {self._describe(v)}: only GELU's x * (erf(x / sqrt(2)) + 1) * 0.5 is supported")
        return _GeluStep(replace(v, layers=v.layers[:-1]), "erf")

    def _gelu_step(self, node, op, x, y):
        """Add/Mul continuing a GELU decomposition, or None if none is in progress."""
        for a, b in ((x, y), (y, x)):
            if not isinstance(a, _GeluStep):
                continue
            c = float(np.asarray(b.array).reshape(())) if isinstance(b, Const) and np.asarray(b.array).size == 1 \
                else None
            if op == "Add" and a.stage == "erf" and c == 1.0:
                return _GeluStep(a.x, "erf+1")
            if op == "Mul" and a.stage == "erf+1" and isinstance(b, Chain) and _same_chain(b, a.x):
                return _GeluStep(a.x, "x*(erf+1)")
            if op == "Mul" and a.stage == "x*(erf+1)" and c == 0.5:
                return replace(a.x, layers=a.x.layers + (ActivationLayer(Activation("gelu")),))
            self._fail(node, f"{op} of a partial GELU ({a.stage}): only x * (erf(x / sqrt(2)) + 1) * 0.5 is "
                             f"supported")
        return None
