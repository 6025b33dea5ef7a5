"""ONNX importer: the converted model against onnxruntime and PyTorch.

Tolerance: onnxruntime's CPU GRU evaluates sigmoid and tanh with rational approximations
(docs/importers.md, ONNX: errors around 1e-6 against exact float32), so every comparison with it
uses 1e-5 max abs; comparisons with torch use the same.
"""
import io
import subprocess
import sys
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_models import (  # noqa: E402
    F32,
    gru_head_model,
    gru_model,
    gru_stack_model,
    gru_weights,
    keras_style_model,
    ort_run,
    to_batch_first,
)

import gru_infer  # noqa: E402
from gru_infer.importers.onnx._reader import layers_from_onnx  # noqa: E402
from gru_infer.layers import GRU  # noqa: E402

TOL = 1e-5
DIRECTIONS = ("forward", "reverse", "bidirectional")


def load(source):
    layers, info = layers_from_onnx(source)
    return gru_infer.Model.from_layers(layers, source=info["source"]), info


def ndir(direction):
    return 2 if direction == "bidirectional" else 1


def case_rng(*key):
    """A fixed seed per test case, from its parameters."""
    return np.random.default_rng([ord(c) for c in "|".join(map(str, key))])


def random_shapes(rng):
    return dict(I=int(rng.integers(1, 7)), H=int(rng.integers(1, 9)), B=int(rng.integers(1, 5)),
                T=int(rng.integers(1, 10)))


# ---------------------------------------------------------------------------------------------
# The GRU operator against onnxruntime

@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("lbr", [0, 1])
@pytest.mark.parametrize("opset", [7, 14, 22])
def test_gru_operator_matches_ort(errors, opset, lbr, direction):
    rng = case_rng("op", opset, lbr, direction)
    s = random_shapes(rng)
    w = gru_weights(rng, s["I"], s["H"], ndir(direction))
    m = gru_model(w, opset=opset, lbr=lbr, direction=direction)
    model, info = load(m)
    assert info["opset"] == opset and info["output_axes"] == "TDBH" and info["state_output"] == "Y_h"
    (gru,) = model.layers
    assert gru.linear_before_reset == bool(lbr) and gru.direction == direction
    x = rng.standard_normal((s["B"], s["T"], s["I"])).astype(np.float32)
    Y, Y_h = ort_run(m, {"X": x.transpose(1, 0, 2)})
    y, h_n = model.predict(x, return_state=True)
    errors.check(f"onnx GRU op vs ORT (opset {opset})", y, to_batch_first(Y, "TDBH"), TOL)
    errors.check(f"onnx GRU op vs ORT (opset {opset})", h_n, Y_h, TOL)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_sequence_lens_and_initial_h_inputs(errors, direction):
    rng = case_rng("lens", direction)
    s = random_shapes(rng)
    B, T, D = 4, 8, ndir(direction)
    w = gru_weights(rng, s["I"], s["H"], D)
    m = gru_model(w, lbr=int(rng.integers(0, 2)), direction=direction, seq_lens=True, initial_h="input")
    model, info = load(m)
    assert info["sequence_lens_input"] == "lens" and info["initial_h_input"] == "h0"
    assert info["initial_h_axes"] == "DBH" and info["input_layout"] == "seq_first"
    x = rng.standard_normal((B, T, s["I"])).astype(np.float32)
    lens = np.array([T, 1, 5, 3], np.int32)
    h0 = rng.standard_normal((D, B, s["H"])).astype(np.float32)
    Y, Y_h = ort_run(m, {"X": x.transpose(1, 0, 2), "lens": lens, "h0": h0})
    y, h_n = model.predict(x, h0=h0, lengths=lens, return_state=True)
    errors.check("onnx sequence_lens + initial_h vs ORT", y, to_batch_first(Y, "TDBH"), TOL)
    errors.check("onnx sequence_lens + initial_h vs ORT", h_n, Y_h, TOL)


ACTIVATION_CASES = [
    # (activations, alpha, beta): alpha/beta are consumed only by the functions that take them
    (["HardSigmoid", "ScaledTanh"], [0.3, 1.2], [0.6, 0.7]),
    (["hardsigmoid", "elu"], None, None),                       # defaults 0.2/0.5 and 1.0, lower case
    (["Sigmoid", "LeakyRelu"], [0.05], None),
    (["Affine", "Tanh"], [0.1], [0.45]),
    (["Softsign", "Softplus"], None, None),
    (["SIGMOID", "ThresholdedRelu"], [0.1], None),
    (["LeakyRelu", "ScaledTanh"], [0.3, 0.9], [1.1]),           # LeakyRelu takes no beta
    (["Sigmoid", "Relu"], None, None),
]


@pytest.mark.parametrize("case", range(len(ACTIVATION_CASES)))
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_activations_match_ort(errors, case, direction):
    names, alpha, beta = ACTIVATION_CASES[case]
    D = ndir(direction)
    if D == 2:  # the reverse direction repeats the functions and their parameters
        names = names * 2
        alpha = None if alpha is None else alpha * 2
        beta = None if beta is None else beta * 2
    rng = case_rng("act", case, direction)
    s = random_shapes(rng)
    w = gru_weights(rng, s["I"], s["H"], D)
    m = gru_model(w, lbr=case % 2, direction=direction, activations=names, alpha=alpha, beta=beta)
    model, _ = load(m)
    x = rng.standard_normal((s["B"], s["T"], s["I"])).astype(np.float32)
    Y, Y_h = ort_run(m, {"X": x.transpose(1, 0, 2)})
    y, h_n = model.predict(x, return_state=True)
    errors.check("onnx GRU activations vs ORT", y, to_batch_first(Y, "TDBH"), TOL)
    errors.check("onnx GRU activations vs ORT", h_n, Y_h, TOL)


def test_activation_parameters_are_read_as_onnxruntime_does():
    m = gru_model(gru_weights(np.random.default_rng(1), 2, 3, 1), activations=["LeakyRelu", "ScaledTanh"],
                  alpha=[0.3, 0.9], beta=[1.1])
    (gru,) = load(m)[0].layers
    assert (gru.gate_activation.kind, gru.gate_activation.alpha) == ("leaky_relu", pytest.approx(0.3))
    g = gru.candidate_activation
    assert (g.kind, g.alpha, g.beta) == ("scaled_tanh", pytest.approx(0.9), pytest.approx(1.1))


@pytest.mark.parametrize("lbr", [0, 1])
def test_clip_matches_ort(errors, lbr):
    rng = case_rng("clip", lbr)
    w = gru_weights(rng, 5, 6, 2, scale=1.5)  # large weights so that the clip matters
    m = gru_model(w, lbr=lbr, direction="bidirectional", clip=0.7)
    model, _ = load(m)
    assert model.layers[0].clip == pytest.approx(0.7)
    x = (3 * rng.standard_normal((3, 7, 5))).astype(np.float32)
    Y, _ = ort_run(m, {"X": x.transpose(1, 0, 2)})
    errors.check("onnx GRU clip vs ORT", model.predict(x), to_batch_first(Y, "TDBH"), TOL)
    unclipped, _ = load(gru_model(w, lbr=lbr, direction="bidirectional"))
    assert np.abs(unclipped.predict(x) - model.predict(x)).max() > 1e-2


def test_bias_absent(errors):
    rng = case_rng("nobias")
    w = gru_weights(rng, 3, 4, 2, bias=False)
    m = gru_model(w, direction="bidirectional", lbr=0)
    model, _ = load(m)
    assert model.layers[0].has_bias is False
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    Y, _ = ort_run(m, {"X": x.transpose(1, 0, 2)})
    errors.check("onnx GRU without B vs ORT", model.predict(x), to_batch_first(Y, "TDBH"), TOL)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_layout_1_matches_layout_0_in_ort(errors, direction):
    """onnxruntime refuses layout=1; the same weights in a layout=0 graph are the reference."""
    rng = case_rng("layout", direction)
    s = random_shapes(rng)
    B, T, D = 3, 6, ndir(direction)
    w = gru_weights(rng, s["I"], s["H"], D)
    kw = dict(lbr=1, direction=direction, seq_lens=True, initial_h="input")
    model, info = load(gru_model(w, layout=1, **kw))
    assert info["output_axes"] == "BTDH" and info["input_layout"] == "batch_first"
    assert info["initial_h_axes"] == "BDH"
    x = rng.standard_normal((B, T, s["I"])).astype(np.float32)
    h0_bdh = rng.standard_normal((B, D, s["H"])).astype(np.float32)
    lens = np.array([6, 2, 4], np.int32)
    Y, Y_h = ort_run(gru_model(w, layout=0, **kw), {"X": x.transpose(1, 0, 2), "lens": lens,
                                                    "h0": h0_bdh.transpose(1, 0, 2)})
    y, h_n = model.predict(x, h0=h0_bdh.transpose(1, 0, 2), lengths=lens, return_state=True)
    errors.check("onnx GRU layout=1 vs ORT layout=0", y, to_batch_first(Y, "TDBH"), TOL)
    errors.check("onnx GRU layout=1 vs ORT layout=0", h_n, Y_h, TOL)


# ---------------------------------------------------------------------------------------------
# Weight storage and data types

def _cast_weights(model, elem_type, storage="typed"):
    """Store W/R/B as `elem_type` initializers (typed fields) that a Cast turns back into float32."""
    g = model.graph
    for t in list(g.initializer):
        arr = numpy_helper.to_array(t)
        g.initializer.remove(t)
        if storage == "raw":
            stored = numpy_helper.from_array(arr.astype(helper.tensor_dtype_to_np_dtype(elem_type)), t.name + "_stored")
        else:
            vals = arr.astype(np.float64).reshape(-1).tolist()
            stored = helper.make_tensor(t.name + "_stored", elem_type, arr.shape, vals)
        g.initializer.append(stored)
        g.node.insert(0, helper.make_node("Cast", [t.name + "_stored"], [t.name], to=F32, name="cast_" + t.name))
    return model


def _stored_values(w, np_type):
    return {k: None if v is None else v.astype(np_type).astype(np.float32) for k, v in w.items()}


@pytest.mark.parametrize("kind", ["raw float32", "float_data", "double_data", "float16 int32_data",
                                  "bfloat16 int32_data", "float16 raw"])
def test_weight_storage(errors, kind):
    rng = case_rng("storage", kind)
    w = gru_weights(rng, 3, 5, 1)
    if kind in ("raw float32", "float_data"):
        m = gru_model(w, storage="raw" if kind == "raw float32" else "typed")
        assert (m.graph.initializer[0].raw_data != b"") == (kind == "raw float32")
    else:
        etype = {"double_data": TensorProto.DOUBLE, "float16 int32_data": TensorProto.FLOAT16,
                 "bfloat16 int32_data": TensorProto.BFLOAT16, "float16 raw": TensorProto.FLOAT16}[kind]
        m = _cast_weights(gru_model(w), etype, "raw" if kind.endswith("raw") else "typed")
    model, _ = load(m)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    Y, _ = ort_run(m, {"X": x.transpose(1, 0, 2)})
    errors.check("onnx weight storage vs ORT", model.predict(x), to_batch_first(Y, "TDBH"), TOL)


@pytest.mark.parametrize("elem_type", [TensorProto.DOUBLE, TensorProto.FLOAT16])
def test_non_float32_graph_against_float32_graph(errors, elem_type):
    """A whole double or float16 graph (onnxruntime has no GRU kernel for either) is computed in
    float32; the reference is the float32 graph holding the same (converted) weights."""
    np_type = {TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16}[elem_type]
    rng = case_rng("dtype", elem_type)
    w = gru_weights(rng, 4, 5, 2)
    model, _ = load(gru_model(w, direction="bidirectional", elem_type=elem_type, storage="typed"))
    x = rng.standard_normal((2, 6, 4)).astype(np.float32)
    Y, _ = ort_run(gru_model(_stored_values(w, np_type), direction="bidirectional"), {"X": x.transpose(1, 0, 2)})
    errors.check("onnx double/float16 graph vs ORT float32", model.predict(x), to_batch_first(Y, "TDBH"), TOL)


def test_external_data(errors, tmp_path):
    rng = case_rng("external")
    w = gru_weights(rng, 3, 4, 1)
    m = gru_model(w)
    path = tmp_path / "model.onnx"
    onnx.save_model(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").stat().st_size > 0
    model, _ = load(str(path))
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    Y, _ = ort_run(str(path), {"X": x.transpose(1, 0, 2)})
    errors.check("onnx external data vs ORT", model.predict(x), to_batch_first(Y, "TDBH"), TOL)
    with pytest.raises(ValueError, match="external data files; load it from its file path"):
        layers_from_onnx(path.read_bytes())


@pytest.mark.parametrize("location", ["../outside.bin", "ABSOLUTE", "sub/../../outside.bin", "missing.bin"])
def test_external_data_outside_the_model_directory_is_refused(tmp_path, location):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "outside.bin").write_bytes(np.zeros(1000, np.float32).tobytes())
    m = gru_model(gru_weights(np.random.default_rng(0), 3, 4, 1))
    path = inner / "model.onnx"
    onnx.save_model(m, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    m = onnx.load(str(path), load_external_data=False)
    loc = str(tmp_path / "outside.bin") if location == "ABSOLUTE" else location
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = loc
    onnx.save_model(m, str(path))
    with pytest.raises(ValueError, match="not found" if location == "missing.bin" else "outside the model's directory"):
        layers_from_onnx(str(path))


# ---------------------------------------------------------------------------------------------
# Initial states, old opsets

def test_zero_initializer_initial_h_is_accepted(errors):
    """A non-zero constant becomes the layer's default state: tests/test_onnx_initial_state.py."""
    rng = case_rng("h0 init")
    w = gru_weights(rng, 3, 4, 2)
    m = gru_model(w, direction="bidirectional", initial_h=np.zeros((2, 1, 4), np.float32))
    model, info = load(m)
    assert info["initial_h_input"] is None
    x = rng.standard_normal((1, 5, 3)).astype(np.float32)
    Y, _ = ort_run(m, {"X": x.transpose(1, 0, 2)})
    errors.check("onnx zero initial_h initializer vs ORT", model.predict(x), to_batch_first(Y, "TDBH"), TOL)
    assert model.layers[0].initial_state is None


@pytest.mark.parametrize("opset", [1, 3])
def test_old_gru_versions_against_opset_7(errors, opset):
    """GRU-1 (no linear_before_reset, default direction misspelled "foward") and GRU-3 have no
    onnxruntime kernel; their semantics equal GRU-7's, which is the reference."""
    rng = case_rng("old", opset)
    w = gru_weights(rng, 3, 4, 1)
    lbr = 0 if opset == 1 else 1
    m = gru_model(w, opset=opset, lbr=lbr, set_direction=False)
    model, _ = load(m)
    assert model.layers[0].direction == "forward"
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    Y, _ = ort_run(gru_model(w, opset=7, lbr=lbr), {"X": x.transpose(1, 0, 2)})
    errors.check("onnx GRU-1/3 vs ORT GRU-7", model.predict(x), to_batch_first(Y, "TDBH"), TOL)


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_stacked_gru_nodes_with_lengths_and_initial_h(errors, direction):
    rng = case_rng("stack", direction)
    D, H, I, B, T = ndir(direction), 5, 3, 3, 7
    ws = [gru_weights(rng, I, H, D), gru_weights(rng, D * H, H, D), gru_weights(rng, D * H, H, D)]
    m = gru_stack_model(ws, direction=direction, seq_lens=True, initial_h=True)
    model, info = load(m)
    assert [type(layer).__name__ for layer in model.layers] == ["GRU"] * 3
    assert info["state_output"] == "h_n" and info["output_axes"] == "TBF"
    assert (info["initial_h_input"], info["sequence_lens_input"]) == ("h0", "lens")
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    h0 = rng.standard_normal((3 * D, B, H)).astype(np.float32)
    lens = np.array([7, 3, 5], np.int32)
    out, h_n = ort_run(m, {"X": x.transpose(1, 0, 2), "lens": lens, "h0": h0})
    y, hn = model.predict(x, h0=h0, lengths=lens, return_state=True)
    errors.check("onnx stacked GRU nodes vs ORT", y, to_batch_first(out, "TBF"), TOL)
    errors.check("onnx stacked GRU nodes vs ORT", hn, h_n, TOL)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_tf2onnx_style_keras_graph(errors, return_sequences):
    rng = case_rng("keras", return_sequences)
    I, H, O = 4, 6, 3
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(np.float32)  # noqa: E731
    m = keras_style_model(u(I, 3 * H), u(H, 3 * H), u(2, 3 * H), u(H, O), u(O),
                          return_sequences=return_sequences)
    model, info = load(m)
    assert info["input_layout"] == "batch_first"
    assert info["output_axes"] == ("BTF" if return_sequences else "BF")
    assert [type(layer).__name__ for layer in model.layers] == ["GRU", "Dense"]
    assert model.layers[0].return_sequences == return_sequences
    x = rng.standard_normal((3, 8, I)).astype(np.float32)
    (ref,) = ort_run(m, {"input_1": x})
    errors.check("onnx tf2onnx-style Keras graph vs ORT", model.predict(x), ref, TOL)


HEAD_ACTIVATIONS = [("Relu", {}), ("Tanh", {}), ("Sigmoid", {}), ("LeakyRelu", {"alpha": 0.2}), ("Elu", {}),
                    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("Softsign", {}), ("Softplus", {}),
                    ("ThresholdedRelu", {"alpha": 0.1}), ("Softmax", {"axis": -1}), ("LogSoftmax", {}),
                    ("Identity", {})]


@pytest.mark.parametrize("final_state", [True, False])
@pytest.mark.parametrize("act", range(len(HEAD_ACTIVATIONS)))
def test_head_ops_match_ort(errors, act, final_state):
    op, attrs = HEAD_ACTIVATIONS[act]
    rng = case_rng("head", act, final_state)
    w = gru_weights(rng, 3, 5, 1)
    dense_w, dense_b = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    m = gru_head_model(w, dense_w, dense_b, op, attrs, final_state=final_state)
    model, info = load(m)
    assert info["output_axes"] == ("BF" if final_state else "BTF")
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    (ref,) = ort_run(m, {"X": x.transpose(1, 0, 2)})
    errors.check("onnx head ops vs ORT", model.predict(x), ref, TOL)


# ---------------------------------------------------------------------------------------------
# Whole graphs exported from PyTorch

class GRUHead(torch.nn.Module):
    """GRU -> out[:, -1] -> Linear -> ReLU -> Linear."""

    def __init__(self, I=3, H=6, O=2, layers=2):
        super().__init__()
        self.gru = torch.nn.GRU(I, H, num_layers=layers, batch_first=True)
        self.fc1 = torch.nn.Linear(H, 5)
        self.fc2 = torch.nn.Linear(5, O)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc2(torch.relu(self.fc1(out[:, -1])))


class FinalStateHead(torch.nn.Module):
    """Bidirectional GRU -> cat(h_n[-2], h_n[-1]) -> Linear -> LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        _, h = self.gru(x)
        return torch.log_softmax(self.fc(torch.cat((h[-2], h[-1]), dim=1)), dim=-1)


class EmbeddingGRU(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 4)
        self.gru = torch.nn.GRU(4, 5, batch_first=True)
        self.fc = torch.nn.Linear(5, 2)

    def forward(self, ids):
        out, _ = self.gru(self.emb(ids))
        return torch.sigmoid(self.fc(out))


MODULES = {
    "gru_bidir_2layers_batch_first": lambda: torch.nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True),
    "gru_2layers_seq_first": lambda: torch.nn.GRU(3, 5, num_layers=2),
    "gru_bidir_seq_first": lambda: torch.nn.GRU(4, 3, bidirectional=True),
    "head": GRUHead,
    "final_state_head": FinalStateHead,
    "embedding": EmbeddingGRU,
}
TORCHSCRIPT = [(name, opset) for name in MODULES for opset in (7, 14, 17)]
DYNAMO = ["gru_bidir_2layers_batch_first", "gru_2layers_seq_first", "head"]


def _module(name):
    torch.manual_seed(sum(map(ord, name)))
    return MODULES[name]().eval()


def _example(name, m, B=2, T=7):
    g = torch.Generator().manual_seed(5)
    if name == "embedding":
        return torch.randint(0, 11, (B, T), generator=g)
    I = m.input_size if isinstance(m, torch.nn.GRU) else m.gru.input_size
    batch_first = not isinstance(m, torch.nn.GRU) or m.batch_first
    return torch.randn((B, T, I) if batch_first else (T, B, I), generator=g)


def _export(m, args, **kw):
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, args, f, **kw)
    return f.getvalue()


_DYNAMO_CACHE = {}


def _dynamo_export(name):
    if name not in _DYNAMO_CACHE:
        m = _module(name)
        kw = {}
        if name == "gru_2layers_seq_first":  # a dynamic batch: shape arithmetic in the graph
            kw["dynamic_shapes"] = ({1: torch.export.Dim("B")},)
        _DYNAMO_CACHE[name] = (m, _export(m, (_example(name, m),), dynamo=True, verbose=False, **kw))
    return _DYNAMO_CACHE[name]


def _check_torch_export(errors, label, name, m, data, ort_runs=True):
    model, info = load(data)
    # Exports may fix the example's batch and length in their shapes (onnxruntime then needs them);
    # the converted model runs any batch and length, checked against torch.
    for B, T in ((2, 7), (3, 9)):
        x = _example(name, m, B, T)
        with torch.no_grad():
            ref = m(x)
        ref, ref_h = (ref[0], ref[1]) if isinstance(ref, tuple) else (ref, None)
        xb = x.numpy() if info["input_layout"] == "batch_first" or x.ndim == 2 else x.numpy().transpose(1, 0, 2)
        y, hn = model.predict(xb, return_state=True)
        errors.check(f"onnx {label} vs torch", y, to_batch_first(ref.numpy(), info["output_axes"]), TOL)
        if ref_h is not None:
            assert info["state_output"] is not None
            errors.check(f"onnx {label} vs torch", hn, ref_h.numpy(), TOL)
        if ort_runs and (B, T) == (2, 7):
            (ort_y, *_) = ort_run(data, {info["input_name"]: x.numpy()})
            errors.check(f"onnx {label} vs ORT", y, to_batch_first(ort_y, info["output_axes"]), TOL)


@pytest.mark.parametrize("name,opset", TORCHSCRIPT)
def test_torchscript_exporter(errors, name, opset):
    m = _module(name)
    data = _export(m, (_example(name, m),), dynamo=False, opset_version=opset)
    # The opset-7 exporter builds the zero initial state with ConstantFill, an op onnxruntime no
    # longer has: there torch is the only reference.
    _check_torch_export(errors, f"torch.onnx TorchScript opset {opset}", name, m, data, ort_runs=opset != 7)


def test_torchscript_opset7_with_initial_state_input(errors):
    torch.manual_seed(3)
    m = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True).eval()
    x, h0 = torch.randn(7, 2, 3), torch.randn(4, 2, 5)
    data = _export(m, (x, h0), dynamo=False, opset_version=7, input_names=["x", "h0"])
    model, info = load(data)
    assert (info["initial_h_input"], info["initial_h_axes"], info["input_layout"]) == ("h0", "DBH", "seq_first")
    with torch.no_grad():
        ref, ref_h = m(x, h0)
    y, hn = model.predict(x.numpy().transpose(1, 0, 2), h0=h0.numpy(), return_state=True)
    ort_y, ort_h = ort_run(data, {"x": x.numpy(), "h0": h0.numpy()})
    errors.check("onnx torch opset-7 with h0 vs torch", y, ref.numpy().transpose(1, 0, 2), TOL)
    errors.check("onnx torch opset-7 with h0 vs torch", hn, ref_h.numpy(), TOL)
    errors.check("onnx torch opset-7 with h0 vs ORT", y, ort_y.transpose(1, 0, 2), TOL)
    errors.check("onnx torch opset-7 with h0 vs ORT", hn, ort_h, TOL)


@pytest.mark.parametrize("name", DYNAMO)
def test_dynamo_exporter(errors, name):
    m, data = _dynamo_export(name)
    if name == "gru_2layers_seq_first":  # the dynamic batch is computed in the graph
        assert "Shape" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    _check_torch_export(errors, "torch.onnx dynamo", name, m, data)


def test_dynamo_export_with_wrong_linear_before_reset_follows_the_file(errors):
    """onnxscript's aten_gru once wrote linear_before_reset=0 (microsoft/onnxscript#2852). The file
    is then what counts: we read lbr=0, like onnxruntime, and so differ from torch."""
    m, data = _dynamo_export("head")
    proto = onnx.load_from_string(data)
    for node in proto.graph.node:
        for a in node.attribute:
            if node.op_type == "GRU" and a.name == "linear_before_reset":
                a.i = 0
    model, info = load(proto)
    assert all(not layer.linear_before_reset for layer in model.layers if isinstance(layer, GRU))
    x = _example("head", m)
    (ref,) = ort_run(proto, {info["input_name"]: x.numpy()})
    y = model.predict(x.numpy())
    errors.check("onnx lbr=0 (onnxscript bug) vs ORT", y, ref, TOL)
    with torch.no_grad():
        assert np.abs(y - m(x).numpy()).max() > 1e-3


# ---------------------------------------------------------------------------------------------
# Refusals

def _with_node_after_gru(op_type, **attrs):
    m = gru_model(gru_weights(np.random.default_rng(0), 3, 4, 1), outputs=("Y",))
    m.graph.node.append(helper.make_node(op_type, ["Y"], ["Z"], name="my_node", **attrs))
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info("Z", F32, None))
    return m


def test_unsupported_op_names_the_op_and_the_node():
    with pytest.raises(ValueError, match=r"Cos node 'my_node': unsupported op 'Cos'"):
        layers_from_onnx(_with_node_after_gru("Cos"))


def test_unsupported_patterns_are_refused():
    m = gru_model(gru_weights(np.random.default_rng(0), 3, 4, 1), outputs=("Y",))
    m.graph.initializer.append(numpy_helper.from_array(np.array(0, np.int64), "first"))
    m.graph.node.append(helper.make_node("Gather", ["Y", "first"], ["Z"], name="first_step", axis=0))
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info("Z", F32, None))
    with pytest.raises(ValueError, match="Gather node 'first_step'.*only the last time step"):
        layers_from_onnx(m)
    with pytest.raises(ValueError, match="Softmax node 'my_node'.*only the last axis"):
        layers_from_onnx(_with_node_after_gru("Softmax", axis=0))


def test_different_activations_per_direction_are_refused():
    m = gru_model(gru_weights(np.random.default_rng(0), 3, 4, 2), direction="bidirectional",
                  activations=["Sigmoid", "Tanh", "Sigmoid", "Relu"])
    with pytest.raises(ValueError, match="different activations per direction"):
        layers_from_onnx(m)


def test_corrupt_and_truncated_files(tmp_path):
    m = gru_model(gru_weights(np.random.default_rng(0), 3, 4, 1), seq_lens=True)
    data = m.SerializeToString()
    with pytest.raises(ValueError):
        layers_from_onnx(b"this is not an onnx model at all")
    with pytest.raises(ValueError):
        layers_from_onnx(bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)))
    for cut in np.linspace(1, len(data) - 1, 25).astype(int):
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError):
            layers_from_onnx(str(path))
    # Cuts at top-level field boundaries still parse: before the graph, or before opset_import
    # (serialized after the graph).
    part = onnx.ModelProto()
    part.CopyFrom(m)
    del part.opset_import[:]
    for cleared, message in ((False, "no opset"), (True, "holds no graph")):
        if cleared:
            part.ClearField("graph")
        prefix = part.SerializeToString()
        assert data.startswith(prefix)
        with pytest.raises(ValueError, match=message):
            layers_from_onnx(prefix)
    with pytest.raises(FileNotFoundError):
        layers_from_onnx(str(tmp_path / "nope.onnx"))


# ---------------------------------------------------------------------------------------------
# Native file round trip, import hygiene

def test_save_and_load_round_trip_is_bit_exact(tmp_path):
    m = _module("head")
    model, _ = load(_export(m, (_example("head", m),), dynamo=False, opset_version=14))
    w = gru_weights(np.random.default_rng(2), 3, 4, 2)
    model2, _ = load(gru_model(w, direction="bidirectional", activations=["HardSigmoid", "ScaledTanh"] * 2,
                               alpha=[0.3, 1.2] * 2, beta=[0.6, 0.7] * 2, clip=2.0, lbr=0))
    x = np.random.default_rng(3).standard_normal((2, 6, 3)).astype(np.float32)
    for i, mod in enumerate((model, model2)):
        path = tmp_path / f"m{i}.gru"
        mod.save(path)
        again = gru_infer.load(path)
        assert np.array_equal(again.predict(x), mod.predict(x))


def test_importing_the_module_does_not_import_onnx():
    code = "import sys, gru_infer.importers.onnx._reader; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
