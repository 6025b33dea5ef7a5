"""How many elements folding a constant ONNX node would create, computed before folding it.

The walker evaluates nodes whose inputs are all constants (onnx's reference implementation). A
few ops make outputs far larger than their inputs (ConstantOfShape of [30000, 30000] is 412 bytes
of file and 3.6 GB of floats), so the output size is bounded from the input shapes and values
first, and a fold larger than MAX_FOLD elements (or than its inputs, when they are larger) is
refused. Ops not listed produce at most as many elements as their inputs hold.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

MAX_FOLD = 1 << 24  # elements (64 MB of float32): larger constants are weights, which come from the file

_BROADCAST = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where", "And", "Or", "Xor",
              "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "PRelu", "BitShift", "BitwiseAnd",
              "BitwiseOr", "BitwiseXor"}
_UNBOUNDED = {"Einsum", "Loop", "Scan", "If", "SequenceConstruct", "ConcatFromSequence", "SplitToSequence"}


def _ints(a) -> List[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _broadcast(shapes: Sequence[Sequence[int]]) -> List[int]:
    n = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(n):
        dims = [s[len(s) - n + i] for s in shapes if len(s) - n + i >= 0]
        out.append(max(dims) if 0 not in dims else 0)
    return out


def fold_elements(op: str, ins: list, attrs: Dict) -> Optional[int]:
    """An upper bound on the output elements of `op` on the constant arrays `ins` (None entries are
    absent optional inputs), or None when it cannot be bounded."""
    x = [None if v is None else np.asarray(v) for v in ins]
    shape = lambda i: list(x[i].shape)  # noqa: E731
    if op in _UNBOUNDED:
        return None
    if op == "ConstantOfShape":
        return math.prod(_ints(x[0]))
    if op == "Expand":
        return math.prod(_broadcast([shape(0), _ints(x[1])]))
    if op == "Tile":
        return math.prod(n * r for n, r in zip(shape(0), _ints(x[1])))
    if op == "Range":
        start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in x[:3])
        return None if delta == 0 else max(0, math.ceil((limit - start) / delta))
    if op == "Pad":
        pads = _ints(x[1]) if len(x) > 1 and x[1] is not None else _ints(attrs.get("pads", []))
        d = len(shape(0))
        if len(pads) != 2 * d:
            return None
        return math.prod(n + pads[i] + pads[i + d] for i, n in enumerate(shape(0)))
    if op == "OneHot":
        return math.prod(shape(0)) * abs(int(np.asarray(x[1]).reshape(-1)[0]))
    if op in ("Resize", "Upsample"):
        sizes = x[3] if op == "Resize" and len(x) > 3 and x[3] is not None and x[3].size else None
        if sizes is not None:
            return math.prod(_ints(sizes))
        scales = x[2] if op == "Resize" and len(x) > 2 else (x[1] if len(x) > 1 else None)
        if scales is None or not np.asarray(scales).size:
            return None
        return math.prod(math.ceil(n * float(s)) for n, s in zip(shape(0), np.asarray(scales).reshape(-1)))
    if op in ("MatMul", "MatMulInteger"):
        a, b = shape(0), shape(1)
        if not a or not b:
            return None
        rows = a[-2] if len(a) > 1 else 1
        cols = b[-1] if len(b) > 1 else 1
        return math.prod(_broadcast([a[:-2], b[:-2]])) * rows * cols
    if op == "Gemm":
        a, b = shape(0), shape(1)
        if len(a) != 2 or len(b) != 2:
            return None
        return (a[1] if attrs.get("transA") else a[0]) * (b[0] if attrs.get("transB") else b[1])
    if op == "Gather":
        data, idx = shape(0), shape(1)
        axis = int(attrs.get("axis", 0)) % max(len(data), 1)
        return math.prod(data[:axis] + idx + data[axis + 1:])
    if op in _BROADCAST:
        return math.prod(_broadcast([shape(i) for i in range(len(x)) if x[i] is not None]))
    return sum(int(v.size) for v in x if v is not None)


def fold_refusal(op: str, ins: list, attrs: Dict) -> Optional[str]:
    """Why folding this node is refused (its output would be too large or cannot be bounded), or None."""
    try:
        n = fold_elements(op, ins, attrs)
    except (ValueError, TypeError, IndexError, OverflowError):
        return "its output size cannot be computed from its inputs"
    if n is None:
        return "its output size cannot be bounded before evaluating it"
    limit = max(MAX_FOLD, sum(int(np.asarray(v).size) for v in ins if v is not None))
    if n > limit:
        return f"it would create a constant of {n} elements (limit {limit}): not a GRU model's"
    return None
