"""ONNX test graphs built by hand with onnx.helper, and helpers to run them in onnxruntime.

Weights are random with fixed seeds (the caller's numpy Generator). Every builder returns an
onnx.ModelProto; `ort_run` evaluates one with onnxruntime's CPU provider.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
NP_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16}


def gru_weights(rng, I: int, H: int, D: int, bias: bool = True, scale: float = 0.5) -> Dict[str, np.ndarray]:
    """ONNX-layout GRU weights: W [D, 3H, I], R [D, 3H, H], B [D, 6H] (or None)."""
    u = lambda *shape: rng.uniform(-scale, scale, shape).astype(np.float32)  # noqa: E731
    return {"W": u(D, 3 * H, I), "R": u(D, 3 * H, H), "B": u(D, 6 * H) if bias else None}


def tensor(name: str, arr: np.ndarray, elem_type: int = F32, storage: str = "raw") -> TensorProto:
    """An initializer stored as raw_data ("raw") or in the typed fields ("typed": float_data,
    double_data, or int32_data holding float16/bfloat16 bit patterns)."""
    if storage == "raw" and elem_type in NP_TYPES:
        return numpy_helper.from_array(np.asarray(arr, NP_TYPES[elem_type]), name)
    vals = np.asarray(arr, np.float64).reshape(-1).tolist()
    return helper.make_tensor(name, elem_type, list(np.shape(arr)), vals, raw=False)


def make_model(nodes, inputs, outputs, initializers, opset: int) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 14 else 10  # versions onnxruntime 1.32 accepts
    return model


def gru_model(w: Dict[str, np.ndarray], *, opset: int = 14, direction: str = "forward", lbr: int = 1,
              layout: int = 0, activations: Optional[Sequence[str]] = None, alpha=None, beta=None,
              clip: Optional[float] = None, seq_lens: bool = False, initial_h=None,
              outputs: Sequence[str] = ("Y", "Y_h"), elem_type: int = F32, storage: str = "raw",
              set_direction: bool = True) -> onnx.ModelProto:
    """One GRU node; its outputs are graph outputs.

    initial_h: None, "input" (a graph input named "h0") or an array (an initializer).
    X is [T, B, I] for layout 0 and [B, T, I] for layout 1, with symbolic T and B.
    """
    D, threeH, I = w["W"].shape
    H = threeH // 3
    seq = ["T", "B"] if layout == 0 else ["B", "T"]
    state = ["D", "B"] if layout == 0 else ["B", "D"]
    inputs = [helper.make_tensor_value_info("X", elem_type, seq + [I])]
    inits = [tensor("W", w["W"], elem_type, storage), tensor("R", w["R"], elem_type, storage)]
    names = ["X", "W", "R", ""]
    if w["B"] is not None:
        inits.append(tensor("B", w["B"], elem_type, storage))
        names[3] = "B"
    if seq_lens:
        inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, ["B"]))
        names.append("lens")
    if initial_h is not None:
        names += [""] * (5 - len(names)) + ["h0"]
        if isinstance(initial_h, str):
            inputs.append(helper.make_tensor_value_info("h0", elem_type, [D if s == "D" else s for s in state] + [H]))
        else:
            inits.append(tensor("h0", initial_h, elem_type, storage))
    while names and names[-1] == "":
        names.pop()
    attrs = {"hidden_size": H}
    if set_direction:
        attrs["direction"] = direction
    if opset >= 3:
        attrs["linear_before_reset"] = lbr
    if layout:
        attrs["layout"] = layout
    if activations is not None:
        attrs["activations"] = list(activations)
    if alpha is not None:
        attrs["activation_alpha"] = list(alpha)
    if beta is not None:
        attrs["activation_beta"] = list(beta)
    if clip is not None:
        attrs["clip"] = clip
    node = helper.make_node("GRU", names, ["Y" if "Y" in outputs else "", "Y_h" if "Y_h" in outputs else ""],
                            name="the_gru", **attrs)
    y_shape = (["T", D, "B"] if layout == 0 else ["B", "T", D]) + [H]
    outs = [helper.make_tensor_value_info("Y", elem_type, y_shape)] if "Y" in outputs else []
    if "Y_h" in outputs:
        outs.append(helper.make_tensor_value_info("Y_h", elem_type, [D if s == "D" else s for s in state] + [H]))
    return make_model([node], inputs, outs, inits, opset)


def gru_stack_model(ws: List[Dict[str, np.ndarray]], *, direction: str = "forward", lbr: int = 1,
                    seq_lens: bool = False, initial_h=False, opset: int = 14) -> onnx.ModelProto:
    """Stacked GRU nodes, PyTorch-exporter style: X [T, B, I] -> GRU -> Transpose(0, 2, 1, 3) ->
    Reshape(0, 0, -1) -> GRU ...; outputs "out" [T, B, D*H] and "h_n" = Concat of every Y_h.
    With initial_h=True, the graph input "h0" [L*D, B, H] is sliced per layer; a list of arrays gives
    each layer a constant initial_h (an initializer)."""
    D = ws[0]["W"].shape[0]
    I = ws[0]["W"].shape[2]
    H = ws[0]["R"].shape[2]
    inputs = [helper.make_tensor_value_info("X", F32, ["T", "B", I])]
    if seq_lens:
        inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, ["B"]))
    if initial_h is True:
        inputs.append(helper.make_tensor_value_info("h0", F32, [len(ws) * D, "B", H]))
    inits = [numpy_helper.from_array(np.array([0, 0, -1], np.int64), "merge_shape")]
    nodes, x, finals = [], "X", []
    for k, w in enumerate(ws):
        inits += [numpy_helper.from_array(w[n], f"{n}{k}") for n in ("W", "R", "B")]
        names = [x, f"W{k}", f"R{k}", f"B{k}", "lens" if seq_lens else ""]
        if initial_h is not True and initial_h:
            inits.append(numpy_helper.from_array(np.asarray(initial_h[k], np.float32), f"h0_layer{k}"))
            names.append(f"h0_layer{k}")
        elif initial_h:
            inits += [numpy_helper.from_array(np.array([v], np.int64), f"h_{n}{k}")
                      for n, v in (("start", k * D), ("end", (k + 1) * D), ("axis", 0))]
            nodes.append(helper.make_node("Slice", ["h0", f"h_start{k}", f"h_end{k}", f"h_axis{k}"],
                                          [f"h0_layer{k}"], name=f"slice_h{k}"))
            names.append(f"h0_layer{k}")
        while names[-1] == "":
            names.pop()
        nodes += [
            helper.make_node("GRU", names, [f"Y{k}", f"Yh{k}"], name=f"gru{k}", hidden_size=H,
                             direction=direction, linear_before_reset=lbr),
            helper.make_node("Transpose", [f"Y{k}"], [f"Yt{k}"], perm=[0, 2, 1, 3], name=f"transpose{k}"),
            helper.make_node("Reshape", [f"Yt{k}", "merge_shape"], [f"out{k}"], name=f"reshape{k}"),
        ]
        x = f"out{k}"
        finals.append(f"Yh{k}")
    nodes.append(helper.make_node("Identity", [x], ["out"], name="out"))
    nodes.append(helper.make_node("Concat", finals, ["h_n"], axis=0, name="concat_h"))
    outs = [helper.make_tensor_value_info("out", F32, ["T", "B", D * H]),
            helper.make_tensor_value_info("h_n", F32, [len(ws) * D, "B", H])]
    return make_model(nodes, inputs, outs, inits, opset)


def keras_style_model(kernel, recurrent_kernel, bias, dense_kernel, dense_bias, *,
                      return_sequences: bool, opset: int = 13) -> onnx.ModelProto:
    """What tf2onnx emits for Keras GRU(reset_after=True) -> Dense: batch-major input, Transpose,
    GRU(W=kernel.T, R=recurrent_kernel.T, B=concat(bias[0], bias[1]), linear_before_reset=1,
    activations Sigmoid/Tanh), Squeeze, then MatMul + Add."""
    I, threeH = kernel.shape
    H = threeH // 3
    O = dense_kernel.shape[1]
    inits = [numpy_helper.from_array(kernel.T[None].astype(np.float32), "W"),
             numpy_helper.from_array(recurrent_kernel.T[None].astype(np.float32), "R"),
             numpy_helper.from_array(bias.reshape(1, -1).astype(np.float32), "B"),
             numpy_helper.from_array(dense_kernel.astype(np.float32), "dense/kernel"),
             numpy_helper.from_array(dense_bias.astype(np.float32), "dense/bias"),
             numpy_helper.from_array(np.array([1 if return_sequences else 0], np.int64), "squeeze_axes")]
    nodes = [
        helper.make_node("Transpose", ["input_1"], ["gru/transpose"], perm=[1, 0, 2], name="gru/transpose"),
        helper.make_node("GRU", ["gru/transpose", "W", "R", "B"], ["gru/Y", "gru/Y_h"], name="gru/GRU",
                         hidden_size=H, linear_before_reset=1, activations=["Sigmoid", "Tanh"],
                         direction="forward"),
    ]
    if return_sequences:
        nodes += [helper.make_node("Squeeze", ["gru/Y", "squeeze_axes"], ["gru/squeezed"], name="gru/Squeeze"),
                  helper.make_node("Transpose", ["gru/squeezed"], ["gru/out"], perm=[1, 0, 2], name="gru/out")]
        out_shape = ["N", "T", O]
    else:
        nodes.append(helper.make_node("Squeeze", ["gru/Y_h", "squeeze_axes"], ["gru/out"], name="gru/Squeeze"))
        out_shape = ["N", O]
    nodes += [helper.make_node("MatMul", ["gru/out", "dense/kernel"], ["dense/MatMul"], name="dense/MatMul"),
              helper.make_node("Add", ["dense/MatMul", "dense/bias"], ["dense"], name="dense/BiasAdd")]
    inputs = [helper.make_tensor_value_info("input_1", F32, ["N", "T", I])]
    outs = [helper.make_tensor_value_info("dense", F32, out_shape)]
    return make_model(nodes, inputs, outs, inits, opset)


def ort_run(model, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    import onnxruntime as ort
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()  # str: a file path
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def to_batch_first(y: np.ndarray, axes: str) -> np.ndarray:
    """An ONNX output with axes like "TDBH" as predict returns it: (B, T, D*H), or (B, F) without T."""
    order = [axes.index(c) for c in "BT1DHF" if c in axes]
    y = np.transpose(y, order)
    keep = 2 if "T" in axes else 1
    return y.reshape(y.shape[:keep] + (-1,))


def gru_head_model(w: Dict[str, np.ndarray], dense_w: np.ndarray, dense_b: np.ndarray, act_op: str,
                   act_attrs: Dict, *, final_state: bool, opset: int = 14) -> onnx.ModelProto:
    """GRU -> a head -> activation op. final_state: Y_h -> Squeeze -> Gemm(transB=0, alpha=0.5,
    beta=2) -> Dropout (B, O); else Y -> Squeeze -> Transpose -> MatMul -> Add (B, T, O)."""
    I, H, O = w["W"].shape[2], w["R"].shape[2], dense_w.shape[1]
    inits = [numpy_helper.from_array(w[n], n) for n in ("W", "R", "B")]
    inits += [numpy_helper.from_array(dense_w, "dense_w"), numpy_helper.from_array(dense_b, "dense_b"),
              numpy_helper.from_array(np.array([0 if final_state else 1], np.int64), "axes")]
    nodes = [helper.make_node("GRU", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=H, linear_before_reset=1,
                              name="gru")]
    if final_state:
        nodes += [helper.make_node("Squeeze", ["Y_h", "axes"], ["h"], name="squeeze"),
                  helper.make_node("Gemm", ["h", "dense_w", "dense_b"], ["g"], alpha=0.5, beta=2.0, name="gemm"),
                  helper.make_node("Dropout", ["g"], ["pre"], name="dropout")]
        out_shape = ["B", O]
    else:
        nodes += [helper.make_node("Squeeze", ["Y", "axes"], ["s"], name="squeeze"),
                  helper.make_node("Transpose", ["s"], ["bt"], perm=[1, 0, 2], name="to_batch_first"),
                  helper.make_node("MatMul", ["bt", "dense_w"], ["mm"], name="matmul"),
                  helper.make_node("Add", ["dense_b", "mm"], ["pre"], name="bias")]
        out_shape = ["B", "T", O]
    nodes.append(helper.make_node(act_op, ["pre"], ["out"], name="activation", **act_attrs))
    inputs = [helper.make_tensor_value_info("X", F32, ["T", "B", I])]
    return make_model(nodes, inputs, [helper.make_tensor_value_info("out", F32, out_shape)], inits, opset)
