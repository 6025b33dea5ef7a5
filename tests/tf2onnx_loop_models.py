"""ONNX graphs shaped like tf2onnx 1.16's export of a Keras 3 GRU: a `Loop` whose body is the Keras
GRU cell (no GRU op), built with onnx.helper after ../shared/real_models/models/
gilgabase_eurusd_gru_tf2onnx.onnx: input Transpose (1, 0, 2), zero state from Expand(0, Shape(x)),
time index and loop counter compared with T, weights passed as loop-invariant inputs, the cell as
MatMul / Split / Slice / Sigmoid / Tanh / Mul / Sub / Add, states collected as the scan output,
then Slice[-1:] + Squeeze (return_sequences=False) or Transpose back (True), BatchNormalization as
Mul + Add, Dense as MatMul + Add.

`keras_gru_loop_model(layers, ...)` takes Keras weights (kernel (I, 3H), recurrent_kernel (H, 3H),
bias (2, 3H) or (3H,) or None) per GRU layer, so tests can check the graph against Keras itself.
"""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
from onnx import TensorProto, helper, numpy_helper

INT_MAX = 2 ** 31 - 1


@dataclass
class KerasGRU:
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: Optional[np.ndarray]
    reset_after: bool = True
    activation: str = "Tanh"              # ONNX op of the candidate activation
    recurrent_activation: str = "Sigmoid"  # "Sigmoid" or "HardSigmoid" (with alpha/beta below)
    hard_sigmoid: tuple = (1 / 6, 0.5)
    return_sequences: bool = False
    per_gate_matmuls: bool = False         # Keras implementation=1: one MatMul per gate


@dataclass
class _Builder:
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    n: int = 0

    def name(self, base):
        self.n += 1
        return f"{base}__{self.n}"

    def const(self, value, base="const"):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, base=None, outputs=1, **attrs):
        base = base or op.lower()
        outs = [self.name(base) + f":{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(base), **attrs))
        return outs[0] if outputs == 1 else outs


def _activation(b: _Builder, op: str, x: str, hard_sigmoid) -> str:
    if op == "HardSigmoid":
        return b.node("HardSigmoid", [x], alpha=float(hard_sigmoid[0]), beta=float(hard_sigmoid[1]))
    return b.node(op, [x])


def _body(layer: KerasGRU, H: int, seq_name: str, threshold: float):
    """The loop body graph of one GRU, as tf2onnx writes it."""
    b = _Builder()
    it, cond, t, h = "iter", "cond_in", "t", "h"
    k_in, r_in, bias_in = "kernel", "recurrent_kernel", "bias"
    t1 = b.node("Add", [t, b.const(np.array(1, np.int32))], "t_plus_1")
    x = b.node("Gather", [seq_name, t], "TensorListGetItem")

    def cols(v, lo, hi):
        return b.node("Slice", [v, b.const(np.array([0, lo], np.int64)), b.const(np.array([INT_MAX, hi], np.int64)),
                                b.const(np.array([0, 1], np.int64))], "strided_slice")

    if layer.bias is not None:
        if layer.reset_after:
            b_in, b_rec = b.node("Split", [bias_in], "split", outputs=2, axis=0)
            b_in = b.node("Squeeze", [b_in, b.const(np.array([0], np.int64))])
            b_rec = b.node("Squeeze", [b_rec, b.const(np.array([0], np.int64))])
        else:
            b_in, b_rec = bias_in, None
    else:
        b_in = b_rec = None
    if layer.per_gate_matmuls:  # implementation=1: x @ kernel[:, gate] per gate
        xs = []
        for g in range(3):
            xg = b.node("MatMul", [x, cols(k_in, g * H, (g + 1) * H)])
            if b_in is not None:
                xg = b.node("Add", [xg, b.node("Slice", [b_in, b.const(np.array([g * H], np.int64)),
                                                         b.const(np.array([(g + 1) * H], np.int64))])])
            xs.append(xg)
        x_z, x_r, x_h = xs
    else:
        mx = b.node("MatMul", [x, k_in])
        if b_in is not None:
            mx = b.node("Add", [mx, b_in])
        x_z, x_r, x_h = b.node("Split", [mx], "split_1", outputs=3, axis=-1)
    if layer.reset_after:
        inner = b.node("MatMul", [h, r_in], "MatMul_1")
        if b_rec is not None:
            inner = b.node("Add", [inner, b_rec])
    else:
        inner = b.node("MatMul", [h, cols(r_in, 0, 2 * H)], "MatMul_1")
    rec_z, rec_r = cols(inner, 0, H), cols(inner, H, 2 * H)
    z = _activation(b, layer.recurrent_activation, b.node("Add", [x_z, rec_z]), layer.hard_sigmoid)
    r = _activation(b, layer.recurrent_activation, b.node("Add", [x_r, rec_r]), layer.hard_sigmoid)
    if layer.reset_after:
        rec_h = b.node("Mul", [r, cols(inner, 2 * H, INT_MAX)])
    else:
        rec_h = b.node("MatMul", [b.node("Mul", [r, h]), cols(r_in, 2 * H, INT_MAX)])
    hh = _activation(b, layer.activation, b.node("Add", [x_h, rec_h]), layer.hard_sigmoid)
    one_minus_z = b.node("Sub", [b.const(np.array(1.0, np.float32)), z])
    h_new = b.node("Add", [b.node("Mul", [z, h]), b.node("Mul", [one_minus_z, hh])], "TensorListSetItem")
    h_out = b.node("Identity", [h_new], "Identity_4")
    c1 = b.node("Less", [b.node("Cast", [it], to=TensorProto.FLOAT), b.const(np.array(threshold, np.float32))])
    c2 = b.node("Less", [b.node("Cast", [t1], to=TensorProto.FLOAT), b.const(np.array(threshold, np.float32))])
    cond_out = b.node("And", [c1, c2], "LogicalAnd")
    I = layer.kernel.shape[0]
    fl = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(it, TensorProto.INT64, []),
              helper.make_tensor_value_info(cond, TensorProto.BOOL, []),
              helper.make_tensor_value_info(t, TensorProto.INT32, []),
              helper.make_tensor_value_info(h, fl, None),
              helper.make_tensor_value_info(k_in, fl, [I, 3 * H]),
              helper.make_tensor_value_info(r_in, fl, [H, 3 * H])]
    outputs = [helper.make_tensor_value_info(cond_out, TensorProto.BOOL, []),
               helper.make_tensor_value_info(t1, TensorProto.INT32, []),
               helper.make_tensor_value_info(h_out, fl, None),
               helper.make_tensor_value_info(k_in, fl, [I, 3 * H]),
               helper.make_tensor_value_info(r_in, fl, [H, 3 * H])]
    if layer.bias is not None:
        inputs.append(helper.make_tensor_value_info(bias_in, fl, list(layer.bias.shape)))
        outputs.append(helper.make_tensor_value_info(bias_in, fl, list(layer.bias.shape)))
    outputs.append(helper.make_tensor_value_info(h_new, fl, None))
    return helper.make_graph(b.nodes, "while_body", inputs, outputs, b.inits)


def keras_gru_loop_model(layers: List[KerasGRU], T: int, dense: Optional[tuple] = None,
                         batch_norm: Optional[tuple] = None, dynamic_steps: bool = False,
                         threshold: Optional[float] = None, initial_state_input: bool = False,
                         opset: int = 13):
    """A tf2onnx-shaped model: GRU loop(s) [-> Mul/Add batch norm (scale, shift)] [-> MatMul/Add dense
    (kernel (H, O), bias (O,))]. Input 'input' (batch, T, I), output 'output'."""
    b = _Builder()
    I = layers[0].kernel.shape[0]
    seq_bt = "input"
    for k, layer in enumerate(layers):
        H = layer.recurrent_kernel.shape[0]
        seq = b.node("Transpose", [seq_bt], "transpose", perm=[1, 0, 2])
        shape = b.node("Cast", [b.node("Shape", [seq_bt])], to=TensorProto.INT32)
        batch = b.node("Slice", [shape, b.const(np.array([0], np.int64)), b.const(np.array([1], np.int64)),
                                 b.const(np.array([0], np.int64))], "strided_slice")
        zshape = b.node("Cast", [b.node("Concat", [batch, b.const(np.array([H], np.int32))], axis=0)],
                        to=TensorProto.INT64)
        zeros = b.node("Expand", [b.const(np.array(0.0, np.float32)), zshape], "zeros")
        h0 = "initial_state" if initial_state_input else zeros
        if dynamic_steps:
            trip = b.node("Cast", [b.node("Squeeze", [b.node("Slice", [
                b.node("Shape", [seq]), b.const(np.array([0], np.int64)), b.const(np.array([1], np.int64))]),
                b.const(np.array([0], np.int64))])], to=TensorProto.INT64)
        else:
            trip = b.const(np.array(T, np.int64), "Max")
        cond = b.node("Less", [b.const(np.array(0.0, np.float32)), b.const(np.array(float(T), np.float32))])
        weights = [b.const(layer.kernel.astype(np.float32), "kernel"),
                   b.const(layer.recurrent_kernel.astype(np.float32), "recurrent_kernel")]
        if layer.bias is not None:
            weights.append(b.const(layer.bias.astype(np.float32), "bias"))
        body = _body(layer, H, seq, float(T if threshold is None else threshold))
        outs = b.node("Loop", [trip, cond, b.const(np.array(0, np.int32), "time"), h0] + weights, "while_loop",
                      outputs=2 + len(weights) + 1, body=body)
        states = outs[-1]  # (T, B, H)
        if layer.return_sequences:
            seq_bt = b.node("Transpose", [states], "transpose_1", perm=[1, 0, 2])
            last = None
        else:
            last = b.node("Squeeze", [b.node("Slice", [states, b.const(np.array([-1], np.int64)),
                                                       b.const(np.array([INT_MAX], np.int64)),
                                                       b.const(np.array([0], np.int64))], "strided_slice_3"),
                                      b.const(np.array([0], np.int64))])
            if k + 1 != len(layers):
                raise ValueError("only the last GRU may have return_sequences=False")
    out = last if last is not None else seq_bt
    if batch_norm is not None:
        scale, shift = batch_norm
        out = b.node("Add", [b.node("Mul", [out, b.const(scale.astype(np.float32), "batchnorm_mul")]),
                             b.const(shift.astype(np.float32), "batchnorm_sub")])
    if dense is not None:
        kernel, bias = dense
        out = b.node("Add", [b.node("MatMul", [out, b.const(kernel.astype(np.float32), "dense_kernel")]),
                             b.const(bias.astype(np.float32), "dense_bias")])
    b.nodes.append(helper.make_node("Identity", [out], ["output"], name="output_identity"))
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["unk__174", T, I])]
    if initial_state_input:
        inputs.append(helper.make_tensor_value_info("initial_state", TensorProto.FLOAT,
                                                    ["unk__174", layers[0].recurrent_kernel.shape[0]]))
    graph = helper.make_graph(b.nodes, "tf2onnx", inputs,
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tf2onnx", producer_version="1.16.1 15c810")
    model.ir_version = 7
    return model


def random_keras_gru(rng, I, H, reset_after=True, use_bias=True, **kw) -> KerasGRU:
    s = 1 / np.sqrt(H)
    bias = None
    if use_bias:
        bias = rng.uniform(-s, s, (2, 3 * H) if reset_after else (3 * H,))
    return KerasGRU(rng.uniform(-s, s, (I, 3 * H)), rng.uniform(-s, s, (H, 3 * H)), bias, reset_after, **kw)
