"""What `gru-infer info --rest onnxruntime` prints for an ONNX graph: the partition (which nodes run in
gru_infer, which in onnxruntime) and the GRU parts' share of the multiply-adds, estimated for MatMul,
Gemm, Conv and GRU nodes from the shapes onnx's shape inference gives at a chosen batch and time.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .hybrid import HybridModel, prepared_graph
from .hybrid_inputs import concrete_shapes
from .layers import describe_layer


def node_macs(model, shapes: Dict[str, Tuple[int, ...]]) -> List[Tuple[str, str, Optional[int]]]:
    """(node label, op, multiply-adds or None where a shape is unknown) for MatMul, Gemm, Conv and GRU."""
    import onnx
    from onnx import numpy_helper

    from .importers.onnx._partition import node_label
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for inp in m.graph.input:
        if inp.name in shapes:
            shape = inp.type.tensor_type.shape
            shape.ClearField("dim")
            for v in shapes[inp.name]:
                shape.dim.add().dim_value = int(v)
    try:
        m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception:  # noqa: BLE001 - unknown shapes leave those nodes' counts unknown
        pass
    known = {t.name: tuple(t.dims) for t in m.graph.initializer}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            known[vi.name] = tuple(d.dim_value for d in dims)
    for n in m.graph.node:
        if n.op_type == "Constant":
            t = next((a.t for a in n.attribute if a.name == "value"), None)
            if t is not None:
                known[n.output[0]] = tuple(numpy_helper.to_array(t).shape)
    out = []
    for i, n in enumerate(m.graph.node):
        if n.op_type in ("MatMul", "Gemm", "Conv", "GRU"):
            out.append((node_label(i, n), n.op_type, _macs(n, known)))
    return out


def _macs(n, known) -> Optional[int]:
    s = [known.get(x) if x else None for x in n.input]
    y = known.get(n.output[0]) if n.output and n.output[0] else None
    try:
        if n.op_type == "MatMul" and s[0] and y:
            return int(np.prod(y)) * s[0][-1]
        if n.op_type == "Gemm" and s[0] and y:
            trans_a = any(a.name == "transA" and a.i for a in n.attribute)
            return int(np.prod(y)) * (s[0][0] if trans_a else s[0][1])
        if n.op_type == "Conv" and s[1] and y:
            return int(np.prod(y)) * int(np.prod(s[1][1:]))
        if n.op_type == "GRU" and s[0] and s[1] and s[2]:
            T, B = s[0][0], s[0][1]
            if any(a.name == "layout" and a.i == 1 for a in n.attribute):
                T, B = B, T
            D, threeH, I = s[1]
            return T * B * D * threeH * (I + s[2][2])
    except (IndexError, TypeError):
        return None
    return None


def partition_report(path: str, hybrid: HybridModel, batch: int, steps: int) -> List[str]:
    model = prepared_graph(path)
    shapes = concrete_shapes(hybrid, batch, steps)
    where = {label: p["runs_in"] for p in hybrid.parts for label in p["nodes"]}
    lines = [f"hybrid: {len(hybrid.parts)} parts run in order (GRU nodes in gru_infer, the rest in onnxruntime)",
             f"inputs: {', '.join(hybrid.input_names)}; outputs: {', '.join(hybrid.output_names)}"]
    for k, p in enumerate(hybrid.parts):
        lines.append(f"  part {k + 1}: {p['runs_in']}, {len(p['nodes'])} nodes; reads {p['inputs']}, "
                     f"writes {p['outputs']}")
        if p["runs_in"] == "gru_infer":
            for i, layer in enumerate(p["model"].layers):
                lines.append(f"    layer {i}: {describe_layer(layer)}")
        lines.append("    nodes: " + ", ".join(p["nodes"]))
    macs = node_macs(model, shapes)
    total = {"gru_infer": 0, "onnxruntime": 0}
    unknown = []
    for label, _op, n in macs:
        if n is None:
            unknown.append(label)
        elif label in where:
            total[where[label]] += n
    used = "; ".join(f"{name} {shape}" for name, shape in shapes.items())
    lines.append(f"multiply-adds (MatMul, Gemm, Conv, GRU nodes) at input sizes {used} "
                 f"(batch {batch}, time {steps} where the graph leaves them free):")
    all_macs = sum(total.values())
    share = f" ({100.0 * total['gru_infer'] / all_macs:.1f}%)" if all_macs else ""
    lines.append(f"  gru_infer parts: {total['gru_infer']:,}{share}; onnxruntime parts: {total['onnxruntime']:,}")
    if unknown:
        lines.append(f"  not counted (shapes unknown): {', '.join(unknown)}")
    return lines
