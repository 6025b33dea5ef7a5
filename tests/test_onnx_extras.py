"""ONNX graphs users export that the GRU walker now reads, against onnxruntime: graph inputs with
no shape information (rank taken from the GRU op's contract, features from its W, an initializer or a
Constant node), GELU written as its Erf
decomposition (torch.onnx below opset 20) or as the Gelu op, Clip / Hardtanh / ReLU6."""
import numpy as np
import pytest
import torch
from helpers import check_roundtrip
from torch import nn

import gru_infer

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
TOL = 1e-5


class Net(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True)
        self.fc1, self.act, self.fc2 = nn.Linear(8, 6), act, nn.Linear(6, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.gru(x)[0])))


def _export(module, path, opset=14, dynamo=False):
    x = torch.randn(2, 9, 4)
    if dynamo:
        torch.onnx.export(module, (x,), str(path), dynamo=True, opset_version=opset, input_names=["x"],
                          output_names=["y"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    else:
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=opset, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    return path


def _check(path, errors, what, tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 9, 4)).astype(np.float32)
    ref = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    m = gru_infer.load(path)
    errors.check(what, m.predict(x), ref, TOL)
    check_roundtrip(m, x, tmp_path)
    return m


@pytest.mark.parametrize("name,act", [("gelu", nn.GELU()), ("hardtanh", nn.Hardtanh(-0.5, 0.5)),
                                      ("relu6", nn.ReLU6())])
def test_activation_exports(name, act, tmp_path, errors):
    torch.manual_seed(0)
    path = _export(Net(act).eval(), tmp_path / "m.onnx")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    if name == "gelu":
        assert "Erf" in ops
    _check(path, errors, f"ONNX {name} (opset 14) vs onnxruntime", tmp_path)


def test_gelu_op_opset_20(tmp_path, errors):
    pytest.importorskip("onnxscript")
    torch.manual_seed(1)
    path = _export(Net(nn.GELU()).eval(), tmp_path / "m.onnx", opset=20, dynamo=True)
    _check(path, errors, "ONNX Gelu (dynamo, opset 20) vs onnxruntime", tmp_path)


def test_partial_gelu_pattern_is_refused(tmp_path):
    """x * erf(x / sqrt 2) without the + 1: not GELU, and not anything else exact."""
    from onnx import TensorProto, helper, numpy_helper
    torch.manual_seed(2)
    path = _export(Net(nn.GELU()).eval(), tmp_path / "m.onnx")
    model = onnx.load(str(path))
    add = next(n for n in model.graph.node if n.op_type == "Add" and any("Erf" in i for i in n.input))
    model.graph.initializer.append(numpy_helper.from_array(np.array(2.0, np.float32), "two"))
    add.input[1] = "two"
    onnx.save(model, str(path))
    with pytest.raises(gru_infer.UnsupportedModelError, match="GELU"):
        gru_infer.load(path)
    del TensorProto, helper


@pytest.mark.parametrize("batch_first", [True, False])
def test_graph_input_without_shape(batch_first, tmp_path, errors):
    torch.manual_seed(3)
    gru = nn.GRU(4, 6, batch_first=batch_first).eval()
    path = tmp_path / "m.onnx"
    x = torch.randn(2, 9, 4) if batch_first else torch.randn(9, 2, 4)
    torch.onnx.export(gru, (x,), str(path), dynamo=False, opset_version=14, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0 if batch_first else 1: "batch"}})
    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.ClearField("shape")  # legal ONNX: rank unknown
    onnx.save(model, str(path))
    xs = np.random.default_rng(1).standard_normal((5, 9, 4) if batch_first else (9, 5, 4)).astype(np.float32)
    ref = ort.InferenceSession(str(path)).run(None, {"x": xs})[0]
    m = gru_infer.load(path)
    assert any("no shape information" in a for a in m.info["assumed"]), m.info
    got = m.predict(xs if batch_first else xs.transpose(1, 0, 2))
    errors.check("ONNX input without shape info vs onnxruntime", got if batch_first else got.transpose(1, 0, 2),
                 ref.reshape(got.shape) if batch_first else ref.reshape(9, 5, 6), TOL)


def _constant(name, array):
    from onnx import helper, numpy_helper
    return helper.make_node("Constant", [], [name], name=name, value=numpy_helper.from_array(array, name))


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_constant_node_weights_and_zero_h0_from_shape_of_input_without_shape(direction, errors):
    """Issue 26 item 9: W, R, B as Constant nodes, h0 = ConstantOfShape(Concat(D, Shape(x)[1], H)) and
    x with no shape information: the feature size comes from W (D, 3H, I)."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(26)
    I, H, D = 4, 6, 2 if direction == "bidirectional" else 1
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(np.float32)  # noqa: E731
    nodes = [_constant("W", u(D, 3 * H, I)), _constant("R", u(D, 3 * H, H)), _constant("B", u(D, 6 * H)),
             _constant("dirs", np.array([D], np.int64)), _constant("batch_axis", np.array([1], np.int64)),
             _constant("hidden", np.array([H], np.int64)),
             helper.make_node("Shape", ["x"], ["x_shape"], name="shape_x"),
             helper.make_node("Gather", ["x_shape", "batch_axis"], ["batch"], name="batch", axis=0),
             helper.make_node("Concat", ["dirs", "batch", "hidden"], ["h0_shape"], name="h0_shape", axis=0),
             helper.make_node("ConstantOfShape", ["h0_shape"], ["h0"], name="h0",
                              value=numpy_helper.from_array(np.zeros(1, np.float32))),
             helper.make_node("GRU", ["x", "W", "R", "B", "", "h0"], ["Y", "Y_h"], name="gru", hidden_size=H,
                              direction=direction, linear_before_reset=1)]
    graph = helper.make_graph(nodes, "constant_weights", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    x = np.random.default_rng(27).standard_normal((9, 3, I)).astype(np.float32)  # (T, B, I): layout 0
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    m = gru_infer.load(model.SerializeToString())
    assert m.info["input_layout"] == "seq_first", m.info
    got = m.predict(x.transpose(1, 0, 2))  # (B, T, D*H)
    want = ref.transpose(2, 0, 1, 3).reshape(3, 9, D * H)  # (T, D, B, H) -> (B, T, D*H)
    errors.check("ONNX Constant-node weights, h0 from Shape(x) vs onnxruntime", got, want,
                 TOL * max(1.0, float(np.abs(want).max())))
