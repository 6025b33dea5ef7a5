"""ONNX graphs with GRUs inside bigger networks: `gru_infer.load(path, rest="onnxruntime")` runs the GRU
nodes in gru_infer and the rest in onnxruntime; the whole graph in onnxruntime is the reference.

Tolerance: 1e-5 x max(1, max|ref|) per output (onnxruntime's GRU approximates sigmoid and tanh).
"""
import pickle
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from helpers import shared_path  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from onnx_models import gru_model, gru_weights, make_model  # noqa: E402

import gru_infer  # noqa: E402
from gru_infer import UnsupportedModelError  # noqa: E402
from gru_infer.hybrid import HybridModel  # noqa: E402

nn = torch.nn


def _tol(ref):
    return 1e-5 * max(1.0, float(np.max(np.abs(ref))))


def check(path, feeds, hybrid=None):
    """hybrid's outputs against onnxruntime on the full graph; returns the hybrid."""
    hybrid = hybrid or gru_infer.load(path, rest="onnxruntime")
    assert isinstance(hybrid, HybridModel)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    got = hybrid.predict(feeds)
    assert sorted(got) == sorted(want)
    for name, ref in want.items():
        assert got[name].shape == ref.shape, name
        assert got[name].dtype == ref.dtype, name
        err = float(np.max(np.abs(got[name].astype(np.float64) - ref))) if ref.size else 0.0
        assert err <= _tol(ref), f"{name}: max abs error {err:.3g}"
    return hybrid


def export(module, args, path, inputs, outputs, dynamic=None, dynamo=False):
    module.eval()
    if dynamic is None:
        dynamic = {n: {0: "batch", 1: "time"} for n in inputs}
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, opset_version=17,
                      dynamic_axes=dynamic, dynamo=dynamo)
    return path


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def runs_in(hybrid):
    return [p["runs_in"] for p in hybrid.parts]


# ------------------------------------------------------------------------------------------------
# torch modules

class CRNN(nn.Module):
    """Conv1d front-end -> GRU -> Linear head on every step."""

    def __init__(self, bidirectional=False, F=8, C=16, H=12):
        super().__init__()
        self.conv = nn.Conv1d(F, C, 3, padding=1)
        self.gru = nn.GRU(C, H, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(H * (2 if bidirectional else 1), 5)

    def forward(self, x):
        z = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        out, _ = self.gru(z)
        return self.head(out)


class Skip(nn.Module):
    """A skip connection around the GRU: head(gru(x)) + proj(x)."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 10, batch_first=True)
        self.head = nn.Linear(10, 4)
        self.proj = nn.Linear(6, 4)

    def forward(self, x):
        out, _ = self.gru(x)
        return torch.sin(self.head(out)) + self.proj(x)


class TwoGrus(nn.Module):
    """GRU -> LayerNorm -> GELU -> bidirectional GRU (final states) -> Linear."""

    def __init__(self):
        super().__init__()
        self.gru1 = nn.GRU(5, 16, batch_first=True)
        self.norm = nn.LayerNorm(16)
        self.gru2 = nn.GRU(16, 8, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        out, _ = self.gru1(x)
        _, h = self.gru2(nn.functional.gelu(self.norm(out)))
        return self.head(torch.cat((h[-2], h[-1]), dim=1))


class Attention(nn.Module):
    """Additive attention over the GRU's outputs."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(7, 12, batch_first=True, num_layers=2)
        self.score = nn.Linear(12, 1)
        self.head = nn.Linear(12, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        w = torch.softmax(self.score(torch.tanh(out)), dim=1)
        return self.head((w * out).sum(dim=1))


class TwoInOut(nn.Module):
    """A sequence and static features in; a prediction and the GRU's h_n out."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 9, batch_first=True)
        self.static = nn.Linear(3, 9)
        self.head = nn.Linear(18, 2)

    def forward(self, x, s):
        out, h = self.gru(x)
        return self.head(torch.cat((out[:, -1], torch.relu(self.static(s))), dim=1)), h


class WithState(nn.Module):
    """A Conv front-end, the GRU's initial state from a graph input, and its final state out."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 6, 1)
        self.gru = nn.GRU(6, 5, batch_first=True, num_layers=2)

    def forward(self, x, h):
        out, h = self.gru(self.conv(x.transpose(1, 2)).transpose(1, 2), h)
        return torch.cos(out), h


# ------------------------------------------------------------------------------------------------
# against onnxruntime

@pytest.mark.parametrize("bidirectional", [False, True])
def test_crnn_conv_front_end(tmp_path, bidirectional):
    torch.manual_seed(0)
    path = export(CRNN(bidirectional), torch.randn(2, 11, 8), tmp_path / "crnn.onnx", ["x"], ["y"])
    hybrid = check(path, {"x": rand(3, 20, 8)})
    assert runs_in(hybrid) == ["onnxruntime", "gru_infer", "onnxruntime"]
    # one array in, one array out
    y = hybrid.predict(rand(2, 7, 8))
    assert isinstance(y, np.ndarray) and y.shape == (2, 7, 5)


def test_dynamic_batch_and_time(tmp_path):
    torch.manual_seed(1)
    path = export(CRNN(True), torch.randn(2, 11, 8), tmp_path / "crnn.onnx", ["x"], ["y"])
    hybrid = gru_infer.load(path, rest="onnxruntime")
    for shape in [(1, 5, 8), (6, 33, 8)]:
        check(path, {"x": rand(*shape, seed=len(shape))}, hybrid)


def test_skip_connection_around_the_gru(tmp_path):
    torch.manual_seed(2)
    path = export(Skip(), torch.randn(2, 5, 6), tmp_path / "skip.onnx", ["x"], ["y"])
    hybrid = check(path, {"x": rand(4, 9, 6)})
    assert "gru_infer" in runs_in(hybrid)


def test_two_grus_with_ops_between(tmp_path):
    torch.manual_seed(3)
    path = export(TwoGrus(), torch.randn(2, 5, 5), tmp_path / "two.onnx", ["x"], ["y"])
    hybrid = check(path, {"x": rand(3, 12, 5)})
    assert runs_in(hybrid).count("gru_infer") == 2
    check(path, {"x": rand(1, 40, 5)}, hybrid)


def test_attention_over_stacked_gru_outputs(tmp_path):
    torch.manual_seed(4)
    path = export(Attention(), torch.randn(2, 5, 7), tmp_path / "attn.onnx", ["x"], ["y"])
    hybrid = check(path, {"x": rand(5, 13, 7)})
    islands = [p for p in hybrid.parts if p["runs_in"] == "gru_infer"]
    assert len(islands) == 1  # the two stacked GRU nodes and the plumbing between them: one Model
    assert sum(type(layer).__name__ == "GRU" for layer in islands[0]["model"].layers) == 2


def test_two_inputs_two_outputs(tmp_path):
    torch.manual_seed(5)
    path = export(TwoInOut(), (torch.randn(2, 5, 4), torch.randn(2, 3)), tmp_path / "io.onnx", ["x", "s"],
                  ["y", "h"], dynamic={"x": {0: "batch", 1: "time"}, "s": {0: "batch"}, "h": {1: "batch"}})
    hybrid = check(path, {"x": rand(3, 8, 4), "s": rand(3, 3, seed=1)})
    assert hybrid.input_names == ["x", "s"] and hybrid.output_names == ["y", "h"]
    with pytest.raises(ValueError, match="missing"):
        hybrid.predict({"x": rand(3, 8, 4)})
    with pytest.raises(ValueError, match="pass a dict"):
        hybrid.predict(rand(3, 8, 4))


def test_initial_state_from_a_graph_input(tmp_path):
    torch.manual_seed(6)
    path = export(WithState(), (torch.randn(2, 5, 3), torch.zeros(2, 2, 5)), tmp_path / "state.onnx", ["x", "h0"],
                  ["y", "hn"], dynamic={"x": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "hn": {1: "batch"}})
    check(path, {"x": rand(3, 10, 3), "h0": rand(2, 3, 5, seed=2)})


def test_sequence_lens_and_initial_h_inputs(tmp_path):
    """A hand-built graph: GRU with sequence_lens and initial_h graph inputs, then an op we do not run."""
    w = gru_weights(np.random.default_rng(7), 4, 6, 2)
    m = gru_model(w, direction="bidirectional", seq_lens=True, initial_h="input")
    m.graph.node.append(helper.make_node("Sin", ["Y"], ["Z"], name="sin"))
    m.graph.output.insert(0, helper.make_tensor_value_info("Z", TensorProto.FLOAT, None))
    path = tmp_path / "lens.onnx"
    onnx.save(m, path)
    feeds = {"X": rand(9, 3, 4), "lens": np.array([9, 4, 1], np.int32), "h0": rand(2, 3, 6, seed=3)}
    hybrid = check(path, feeds)
    assert runs_in(hybrid) == ["gru_infer", "onnxruntime"]


def test_real_model_conv_gelu_gru(tmp_path):
    """wunder_predictor_conv_gru.onnx (Conv1d + GELU + GRU(96) + Gemm heads, two outputs), refused by
    the plain path, runs whole; the reference is onnxruntime on the file."""
    path = shared_path("real_models", "models", "wunder_predictor_conv_gru.onnx", what="the real-model collection",
                       origin="../shared/real_models, see its README.md")
    with pytest.raises(UnsupportedModelError, match='rest="onnxruntime"'):
        gru_infer.load(path)
    hybrid = gru_infer.load(path, rest="onnxruntime")
    for shape in [(3, 100, 64), (1, 17, 64)]:
        check(path, {"x": rand(*shape)}, hybrid)
    gru_part, = [p for p in hybrid.parts if p["runs_in"] == "gru_infer"]
    assert any("GRU" in n for n in gru_part["nodes"])


def test_dynamo_exporter(tmp_path):
    """torch.onnx.export's default (dynamo) exporter. Its time axis is left static: after other
    tests in the same process, torch.export specialises it anyway ("inferred a static shape of 11"),
    which is torch's tracing, not the graph we read."""
    torch.manual_seed(8)
    path = export(CRNN(), (torch.randn(2, 11, 8),), tmp_path / "dyn.onnx", ["x"], ["y"],
                  dynamic={"x": {0: "batch"}}, dynamo=True)
    check(path, {"x": rand(2, 11, 8)})
    check(path, {"x": rand(5, 11, 8, seed=1)})


# ------------------------------------------------------------------------------------------------
# the plain path, pickling, refusals

def test_pure_gru_graph_keeps_the_plain_path(tmp_path):
    path = tmp_path / "gru.onnx"
    onnx.save(gru_model(gru_weights(np.random.default_rng(9), 3, 5, 1)), path)
    assert isinstance(gru_infer.load(path), gru_infer.Model)
    hybrid = check(path, {"X": rand(6, 2, 3)})
    assert runs_in(hybrid) == ["gru_infer"]
    code = (f"import sys, gru_infer; m = gru_infer.load({str(path)!r}, rest='onnxruntime'); "
            f"import numpy as np; m.predict(np.zeros((4, 2, 3), np.float32)); "
            f"assert 'onnxruntime' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pickle_carries_the_whole_hybrid(tmp_path):
    torch.manual_seed(10)
    path = export(CRNN(True), torch.randn(2, 11, 8), tmp_path / "crnn.onnx", ["x"], ["y"])
    hybrid = gru_infer.load(path, rest="onnxruntime")
    x = rand(2, 9, 8)
    data = pickle.dumps(hybrid)
    path.unlink()  # nothing refers to the file
    again = pickle.loads(data)
    assert np.array_equal(again.predict(x), hybrid.predict(x))
    assert again.info == hybrid.info


def test_session_options_threads(tmp_path):
    torch.manual_seed(11)
    path = export(Skip(), torch.randn(2, 5, 6), tmp_path / "skip.onnx", ["x"], ["y"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    hybrid = check(path, {"x": rand(2, 5, 6)}, gru_infer.load(path, rest="onnxruntime", session_options=so))
    assert pickle.loads(pickle.dumps(hybrid))._threads == (1, so.inter_op_num_threads)


def test_bad_rest_arguments(tmp_path):
    path = tmp_path / "gru.onnx"
    onnx.save(gru_model(gru_weights(np.random.default_rng(12), 3, 5, 1)), path)
    with pytest.raises(ValueError, match="rest"):
        gru_infer.load(path, rest="tensorflow")
    native = tmp_path / "m.gru"
    gru_infer.load(path).save(native)
    with pytest.raises(ValueError, match="rest= is for ONNX"):
        gru_infer.load(native, rest="onnxruntime")
    with pytest.raises(ValueError, match="session_options"):
        gru_infer.load(path, session_options=ort.SessionOptions())


def test_graph_without_gru_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 3])
    path = tmp_path / "sin.onnx"
    onnx.save(make_model([helper.make_node("Sin", ["x"], ["y"])], [x], [y], [], 14), path)
    with pytest.raises(UnsupportedModelError, match="no GRU node"):
        gru_infer.load(path, rest="onnxruntime")


def test_gru_we_cannot_run_is_refused_naming_the_node(tmp_path):
    """Different activations per direction: no exact equivalent, so the hybrid refuses the node."""
    w = gru_weights(np.random.default_rng(13), 3, 4, 2)
    m = gru_model(w, direction="bidirectional", activations=["Sigmoid", "Tanh", "Sigmoid", "Relu"])
    m.graph.node.append(helper.make_node("Sin", ["Y"], ["Z"], name="sin"))
    m.graph.output.insert(0, helper.make_tensor_value_info("Z", TensorProto.FLOAT, None))
    path = tmp_path / "acts.onnx"
    onnx.save(m, path)
    with pytest.raises(UnsupportedModelError, match="the_gru.*different activations"):
        gru_infer.load(path, rest="onnxruntime")


def test_gru_with_weights_from_an_input_is_refused(tmp_path):
    w = gru_weights(np.random.default_rng(14), 3, 4, 1)
    m = gru_model(w)
    m.graph.initializer.remove(next(t for t in m.graph.initializer if t.name == "W"))
    m.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 12, 3]))
    path = tmp_path / "w_input.onnx"
    onnx.save(m, path)
    with pytest.raises(UnsupportedModelError, match="the_gru.*W .*not a constant"):
        gru_infer.load(path, rest="onnxruntime")


# ------------------------------------------------------------------------------------------------
# the command line

def test_cli_info_shows_the_partition_and_mac_share(tmp_path, capsys):
    from gru_infer import cli
    torch.manual_seed(15)
    path = export(CRNN(), torch.randn(2, 11, 8), tmp_path / "crnn.onnx", ["x"], ["y"])
    assert cli.main(["info", str(path), "--rest", "onnxruntime", "--batch", "2", "--steps", "50"]) == 0
    out = capsys.readouterr().out
    assert "part 2: gru_infer" in out and "onnxruntime" in out and "/gru/GRU" in out
    # Conv1d 8->16 k3, GRU 16->12, Linear 12->5 at batch 2, time 50
    conv, gru, head = 2 * 50 * 16 * 8 * 3, 2 * 50 * 36 * (16 + 12), 2 * 50 * 12 * 5
    assert f"gru_infer parts: {gru:,} ({100 * gru / (conv + gru + head):.1f}%)" in out
    assert "x (2, 50, 8)" in out
    assert cli.main(["info", str(path)]) == 2  # the plain path refuses, pointing to --rest's API
    assert 'rest="onnxruntime"' in capsys.readouterr().err


def test_cli_verify_compares_with_onnxruntime(tmp_path, capsys):
    from gru_infer import cli
    torch.manual_seed(16)
    path = export(TwoInOut(), (torch.randn(2, 5, 4), torch.randn(2, 3)), tmp_path / "io.onnx", ["x", "s"],
                  ["y", "h"], dynamic={"x": {0: "batch", 1: "time"}, "s": {0: "batch"}, "h": {1: "batch"}})
    assert cli.main(["verify", str(path), "--rest", "onnxruntime", "--batch", "3", "--steps", "9"]) == 0
    out = capsys.readouterr().out
    assert "x (3, 9, 4)" in out and "s (3, 3)" in out and out.count("OK") == 2


def test_cli_bench_against_onnxruntime(tmp_path, capsys):
    import json

    from gru_infer import cli
    torch.manual_seed(17)
    path = export(TwoInOut(), (torch.randn(2, 5, 4), torch.randn(2, 3)), tmp_path / "io.onnx", ["x", "s"],
                  ["y", "h"], dynamic={"x": {0: "batch", 1: "time"}, "s": {0: "batch"}, "h": {1: "batch"}})
    fast = ["--batch", "3", "--steps", "9", "--time", "0.02"]
    try:
        assert cli.main(["bench", str(path), "--rest", "onnxruntime", "--json", "--kinds", "fp32,bf16", *fast]) == 0
        r = json.loads(capsys.readouterr().out)
        assert {"model", "format", "rest", "isa", "threads", "batch", "steps", "inputs", "parts", "kinds",
                "reference"} <= set(r)
        assert r["threads"] == 1 and (r["batch"], r["steps"]) == (3, 9) and r["inputs"] == {"x": [3, 9, 4], "s": [3, 3]}
        assert r["parts"] == runs_in(gru_infer.load(path, rest="onnxruntime")) and set(r["kinds"]) == {"fp32", "bf16"}
        fp32 = r["kinds"]["fp32"]
        assert {"predict_ms", "predict_per_sequence_us", "throughput_steps_per_s", "max_abs_difference"} <= set(fp32)
        assert set(fp32["max_abs_difference"]) == {"y", "h"} and fp32["max_abs_error"] <= 1e-5
        assert 1e-5 < r["kinds"]["bf16"]["max_abs_error"] <= 5e-3
        ref = r["reference"]
        assert ref["framework"] == "onnxruntime" and ref["predict_ms"] > 0
        assert ref["gru_infer_speedup"] == pytest.approx(ref["predict_ms"] / fp32["predict_ms"])
        assert cli.main(["bench", str(path), "--rest", "onnxruntime", "--threads", "2", *fast]) == 0
        out = capsys.readouterr().out
        assert "threads: 2 each" in out and "hybrid fp32" in out and "onnxruntime (full graph)" in out
    finally:
        gru_infer.set_num_threads(0)


def test_readme_example_runs(tmp_path, monkeypatch):
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### GRUs inside bigger ONNX graphs", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
