"""ONNX graphs users export that the GRU walker now reads, against onnxruntime: graph inputs with
no shape information (rank taken from the GRU op's contract), GELU written as its Erf
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
