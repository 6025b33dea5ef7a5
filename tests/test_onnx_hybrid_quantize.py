"""HybridModel.quantize: the GRU islands of an ONNX hybrid in int8 / bf16 / fp16, the onnxruntime parts
as before; the error on the whole graph's outputs against the fp32 hybrid and onnxruntime.

Bounds, scaled by max(1, max|ref|) per output: int8 2e-2, bf16 5e-3, fp16 1e-3 (measured on these
models, calibration x ~ N(0, 1) of (8, 200, F): int8 <= 6.7e-3, bf16 <= 2.1e-3, fp16 <= 1.8e-4).
"""
import pickle

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper  # noqa: E402
from onnx_models import gru_model, gru_weights  # noqa: E402
from test_onnx_hybrid import CRNN, Skip, TwoGrus, export, rand  # noqa: E402

import gru_infer  # noqa: E402

BOUND = {"int8": 2e-2, "bf16": 5e-3, "fp16": 1e-3}
MODELS = {"crnn_bidirectional": (lambda: CRNN(True), 8), "two_grus": (TwoGrus, 5), "skip": (Skip, 6)}


def hybrid_of(name, tmp_path):
    torch.manual_seed(0)
    make, F = MODELS[name]
    path = export(make(), torch.randn(2, 11, F), tmp_path / f"{name}.onnx", ["x"], ["y"])
    return path, gru_infer.load(path, rest="onnxruntime"), F


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)))


@pytest.mark.parametrize("kind", ["int8", "bf16", "fp16"])
@pytest.mark.parametrize("name", list(MODELS))
def test_quantized_hybrid_against_fp32_and_onnxruntime(tmp_path, name, kind):
    path, hybrid, F = hybrid_of(name, tmp_path)
    x = rand(8, 200, F, seed=1)
    q = hybrid.quantize(kind, calibration={"x": x})
    assert q is not hybrid and "quantization" not in hybrid.info
    assert [p["runs_in"] for p in q.parts] == [p["runs_in"] for p in hybrid.parts]
    for p in q.parts:
        if p["runs_in"] == "gru_infer":
            assert p["model"].weight_format == kind
    report = q.info["quantization"]
    assert report["kind"] == kind and report["error_vs_fp32"]["on"] == "calibration data"
    # the reported error is the whole graph's, on the calibration feed
    ref = hybrid.predict({"x": x})["y"]
    err = report["error_vs_fp32"]["outputs"]["y"]
    assert err["max_abs"] == pytest.approx(max_err(q.predict({"x": x})["y"], ref), rel=1e-6, abs=1e-9)
    assert 0 < err["mean_abs"] <= err["max_abs"] <= BOUND[kind] * max(1.0, err["max_abs_fp32"])
    # on other data, against the fp32 hybrid and onnxruntime on the full graph
    x2 = rand(3, 150, F, seed=2)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x2})[0]
    got = q.predict(x2)
    assert max_err(got, want) <= BOUND[kind] * max(1.0, float(np.abs(want).max()))
    assert max_err(got, hybrid.predict(x2)) <= BOUND[kind] * max(1.0, float(np.abs(want).max()))


def test_islands_are_calibrated_on_what_they_receive(tmp_path):
    """CRNN: the island's input is the Conv front-end's output; its int8 input scale is that max / 127."""
    _, hybrid, F = hybrid_of("crnn_bidirectional", tmp_path)
    x = 3 * rand(4, 50, F, seed=3)
    q = hybrid.quantize("int8", calibration=x)
    front = hybrid._parts[0]
    assert front["runs_in"] == "onnxruntime" and hybrid._parts[1]["runs_in"] == "gru_infer"
    seen = ort.InferenceSession(front["onnx"], providers=["CPUExecutionProvider"]).run(
        front["outputs"], {"x": x})[0]
    island, = q.info["quantization"]["islands"]
    assert island["part"] == 1 and island["input_scales"] == "calibrated"
    assert island["layers"][0]["input_scale"] == pytest.approx(float(np.abs(seen).max()) / 127, rel=1e-6)


def test_synthetic_input_without_calibration(tmp_path):
    _, hybrid, F = hybrid_of("two_grus", tmp_path)
    q = hybrid.quantize("bf16")
    report = q.info["quantization"]["error_vs_fp32"]
    assert report["on"] == {"distribution": "N(0, 1)", "batch": 4, "steps": 1000, "seed": 0,
                            "shapes": {"x": [4, 1000, F]}}
    feed = {"x": np.random.default_rng(0).standard_normal((4, 1000, F)).astype(np.float32)}
    err = max_err(q.predict(feed)["y"], hybrid.predict(feed)["y"])
    assert report["outputs"]["y"]["max_abs"] == pytest.approx(err, rel=1e-6, abs=1e-9) and err <= 5e-3


def test_pickle_keeps_the_quantized_hybrid(tmp_path):
    path, hybrid, F = hybrid_of("crnn_bidirectional", tmp_path)
    q = hybrid.quantize("int8", calibration=rand(2, 40, F))
    data = pickle.dumps(q)
    path.unlink()
    again = pickle.loads(data)
    x = rand(2, 30, F, seed=4)
    assert np.array_equal(again.predict(x), q.predict(x)) and again.info == q.info
    assert not np.array_equal(again.predict(x), hybrid.predict(x))
    assert [p["model"].weight_format for p in again.parts if "model" in p] == ["int8"]


def test_bad_arguments(tmp_path):
    _, hybrid, F = hybrid_of("skip", tmp_path)
    with pytest.raises(ValueError, match="kind: expected one of int8, bf16, fp16"):
        hybrid.quantize("fp64")
    with pytest.raises(ValueError, match="already quantized"):
        hybrid.quantize("fp16").quantize("int8")
    with pytest.raises(ValueError, match="calibration"):
        hybrid.quantize("int8", input_scale="calibrated")  # Model.quantize's check, per island
    with pytest.raises(ValueError, match="missing"):
        hybrid.quantize("int8", calibration={"z": rand(1, 3, F)})


def test_integer_input_needs_calibration(tmp_path):
    w = gru_weights(np.random.default_rng(7), 4, 6, 2)
    m = gru_model(w, direction="bidirectional", seq_lens=True, initial_h="input")
    m.graph.node.append(helper.make_node("Sin", ["Y"], ["Z"], name="sin"))
    m.graph.output.insert(0, helper.make_tensor_value_info("Z", TensorProto.FLOAT, None))
    onnx.save(m, tmp_path / "lens.onnx")
    hybrid = gru_infer.load(tmp_path / "lens.onnx", rest="onnxruntime")
    with pytest.raises(ValueError, match="'lens' is int32.*pass calibration="):
        hybrid.quantize("int8")
    feeds = {"X": rand(9, 3, 4), "lens": np.array([9, 4, 1], np.int32), "h0": rand(2, 3, 6, seed=3)}
    q = hybrid.quantize("int8", calibration=feeds)
    for name, err in q.info["quantization"]["error_vs_fp32"]["outputs"].items():
        assert err["max_abs"] <= 2e-2 * max(1.0, err["max_abs_fp32"]), name
