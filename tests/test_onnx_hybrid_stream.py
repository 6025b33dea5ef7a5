"""HybridModel.stream: an ONNX hybrid one frame at a time, equal to onnxruntime running the whole graph on the
sequence so far (1e-5 x max(1, max|ref|), as in test_onnx_hybrid), and refused, naming the node, where a part
needs other time steps."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from test_onnx_hybrid import CRNN, Attention, Skip, TwoGrus, TwoInOut, _tol, export, rand  # noqa: E402

import gru_infer  # noqa: E402

nn = torch.nn


class Block(nn.Module):
    """Linear -> GELU -> GRU -> LayerNorm -> Linear: every part but the GRU frame-local."""

    def __init__(self, batch_first=True):
        super().__init__()
        self.batch_first = batch_first
        self.a = nn.Linear(6, 16)
        self.gru = nn.GRU(16, 12, batch_first=batch_first)
        self.norm = nn.LayerNorm(12)
        self.b = nn.Linear(12, 3)

    def forward(self, x):
        y, _ = self.gru(nn.functional.gelu(self.a(x)))
        return self.b(self.norm(y))


class PointwiseConv(nn.Module):
    """Conv1d with kernel 1 (frame-local: proved from its kernel along time), softmax over features,
    an einsum over features, a mean over features, then a GRU and two outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(5, 8, 1)
        self.w = nn.Parameter(torch.randn(8, 8))
        self.gru = nn.GRU(9, 7, batch_first=True)
        self.head = nn.Linear(7, 2)

    def forward(self, x):
        z = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        z = torch.softmax(torch.einsum("btf,fg->btg", z, self.w), dim=-1)
        z = torch.cat((z, z.mean(dim=-1, keepdim=True)), dim=-1)
        y, _ = self.gru(z)
        return self.head(y), torch.tanh(y)


class SelfAttention(nn.Module):
    """GRU -> dot-product attention across time steps."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True)

    def forward(self, x):
        y, _ = self.gru(x)
        w = torch.softmax(torch.matmul(y, y.transpose(1, 2)), dim=-1)
        return torch.matmul(w, y)


class TimeMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True)

    def forward(self, x):
        y, _ = self.gru(x)
        return y - y.mean(dim=1, keepdim=True)


class Shifted(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True)

    def forward(self, x):
        y, _ = self.gru(x)
        return torch.sigmoid(y[:, 1:])


def check_stream(path, x, batch_axis=0, time_axis=1):
    """Stepping the hybrid of `path` frame by frame equals onnxruntime running the whole graph on the whole
    sequence (and on the sequence so far); returns the stream and onnxruntime's outputs on the whole sequence."""
    hybrid = gru_infer.load(path, rest="onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = hybrid.input_names[0]

    def reference(frames):
        outputs = session.run(None, {name: np.take(x, frames, axis=time_axis)})
        return dict(zip([o.name for o in session.get_outputs()], outputs))

    T = x.shape[time_axis]
    full = reference(range(T))
    stream = hybrid.stream(batch=x.shape[batch_axis])
    assert sorted(stream.output_time_axes) == sorted(full)
    for t in range(T):
        got = stream.step({name: np.take(x, t, axis=time_axis)})
        so_far = reference(range(t + 1)) if t in (0, T // 2) else None
        for out, ref in full.items():
            want = np.take(ref, t, axis=stream.output_time_axes[out])
            assert got[out].shape == want.shape, out
            assert np.max(np.abs(got[out] - want)) <= _tol(want), (out, t)
            if so_far is not None:
                last = np.take(so_far[out], t, axis=stream.output_time_axes[out])
                assert np.max(np.abs(got[out] - last)) <= _tol(last), (out, t)
    return stream, full


def test_linear_gelu_gru_layernorm_linear(tmp_path):
    torch.manual_seed(0)
    path = export(Block(), torch.randn(2, 5, 6), tmp_path / "block.onnx", ["x"], ["y"])
    x = rand(3, 40, 6)
    stream, full = check_stream(path, x)
    assert stream.input_time_axes == {"x": 1} and stream.output_time_axes == {"y": 1}
    stream.reset()
    got = np.stack([stream.step(x[:, t]) for t in range(40)], axis=1)  # one array in, one array out
    assert np.max(np.abs(got - full["y"])) <= _tol(full["y"])
    # a frame with its time axis of length 1; a wrong frame
    stream.reset()
    assert np.array_equal(stream.step({"x": x[:, :1]})["y"], got[:, 0])
    with pytest.raises(ValueError, match="expected one frame"):
        stream.step(x[:, :2])


def test_seq_first_and_other_frame_local_ops(tmp_path):
    torch.manual_seed(1)
    path = export(Block(batch_first=False), torch.randn(5, 2, 6), tmp_path / "tbf.onnx", ["x"], ["y"],
                  dynamic={"x": {0: "time", 1: "batch"}})
    hybrid = gru_infer.load(path, rest="onnxruntime")
    assert hybrid.stream(batch=2).input_time_axes == {"x": 0}  # axis 1 proves nothing here; axis 0 does
    check_stream(path, rand(25, 2, 6, seed=1), batch_axis=1, time_axis=0)
    path = export(PointwiseConv(), torch.randn(2, 5, 5), tmp_path / "pw.onnx", ["x"], ["y", "z"],
                  dynamic={"x": {0: "batch", 1: "time"}})
    check_stream(path, rand(2, 30, 5, seed=2))
    path = export(Skip(), torch.randn(2, 5, 6), tmp_path / "skip.onnx", ["x"], ["y"])
    check_stream(path, rand(4, 20, 6, seed=3))


def test_reset_starts_again(tmp_path):
    torch.manual_seed(2)
    hybrid = gru_infer.load(export(Block(), torch.randn(2, 5, 6), tmp_path / "b.onnx", ["x"], ["y"]),
                            rest="onnxruntime")
    x = rand(1, 6, 6, seed=4)
    stream = hybrid.stream()
    first = [stream.step(x[:, t]) for t in range(6)]
    stream.reset()
    again = [stream.step(x[:, t]) for t in range(6)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.allclose(stream.step(x[:, 0]), first[0])  # no reset: the state carries on


REFUSED = [
    ("conv1d_front_end", lambda: CRNN(), (2, 11, 8), "Conv node '/conv/Conv': it convolves along time "
                                                     r"\(kernel 3, stride 1, pads 1/1"),
    ("additive_attention", Attention, (2, 5, 7), "Softmax node .*: it normalizes over the time axis"),
    ("self_attention", SelfAttention, (2, 5, 4), "MatMul node .*: an operand other than the first.*across time"),
    ("mean_over_time", TimeMean, (2, 5, 4), "ReduceMean node .*: it reduces over the time axis"),
    ("slice_along_time", Shifted, (2, 5, 4), "Slice node .*: it slices along the time axis"),
    ("final_state_only", TwoGrus, (2, 5, 5), "GRU node /gru2/GRU: only its last step / final state"),
]


@pytest.mark.parametrize("name,make,shape,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refusals_name_the_node(tmp_path, name, make, shape, message):
    torch.manual_seed(3)
    hybrid = gru_infer.load(export(make(), torch.randn(*shape), tmp_path / f"{name}.onnx", ["x"], ["y"]),
                            rest="onnxruntime")
    with pytest.raises(ValueError, match="cannot stream: " + message):
        hybrid.stream()


def test_more_refusals(tmp_path):
    torch.manual_seed(4)
    # a bidirectional GRU after a frame-local front-end
    class Bi(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 4)
            self.gru = nn.GRU(4, 5, batch_first=True, bidirectional=True)

        def forward(self, x):
            return torch.sin(self.gru(self.a(x))[0])
    hybrid = gru_infer.load(export(Bi(), torch.randn(2, 5, 3), tmp_path / "bi.onnx", ["x"], ["y"]),
                            rest="onnxruntime")
    with pytest.raises(ValueError, match="cannot stream: GRU node /gru/GRU: .*bidirectional"):
        hybrid.stream()
    # the time axis fixed by the export
    path = export(Block(), torch.randn(2, 5, 6), tmp_path / "fixed.onnx", ["x"], ["y"], dynamic={"x": {0: "batch"}})
    with pytest.raises(ValueError, match=r"cannot stream: graph input 'x' \(shape \['batch', 5, 6\]\) has no free "
                                         r"axis 1"):
        gru_infer.load(path, rest="onnxruntime").stream()
    # a static (batch, features) input beside the sequence; the last step only
    path = export(TwoInOut(), (torch.randn(2, 5, 4), torch.randn(2, 3)), tmp_path / "io.onnx", ["x", "s"],
                  ["y", "h"], dynamic={"x": {0: "batch", 1: "time"}, "s": {0: "batch"}, "h": {1: "batch"}})
    with pytest.raises(ValueError, match=r"cannot stream: graph input 's' \(shape \['batch', 3\]\)"):
        gru_infer.load(path, rest="onnxruntime").stream()


# ------------------------------------------------------------------------------------------------
# the frame-locality proof, node by node, on hand-built graphs

def one_node(op, inputs, consts=None, rank=3, time_dim="T", **attrs):
    """x (B, T, 4[, 3]) -> op -> y; consts: {name: array} initializers."""
    from onnx import TensorProto, helper, numpy_helper
    dims = ["B", time_dim, 4, 3][:rank]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    g = helper.make_graph([helper.make_node(op, inputs, ["y"], name="n", **attrs)], "g", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


I64 = np.int64
PROVED = [
    ("reshape_copying_batch_and_time", one_node("Reshape", ["x", "s"], {"s": np.array([0, 0, -1], I64)}, rank=4), 1),
    ("transpose", one_node("Transpose", ["x"], perm=[1, 0, 2]), 0),
    ("unsqueeze_before", one_node("Unsqueeze", ["x", "a"], {"a": np.array([0], I64)}), 2),
    ("squeeze_after", one_node("Squeeze", ["x", "a"], {"a": np.array([2], I64)}, rank=4), 1),
    ("gather_features", one_node("Gather", ["x", "i"], {"i": np.array(1, I64)}, axis=2), 1),
    ("add_per_feature", one_node("Add", ["x", "c"], {"c": np.ones(4, np.float32)}), 1),
    ("add_size_one_along_time", one_node("Add", ["x", "c"], {"c": np.ones((1, 1, 4), np.float32)}), 1),
    ("matmul_features", one_node("MatMul", ["x", "w"], {"w": np.ones((4, 2), np.float32)}), 1),
    ("softmax_features", one_node("Softmax", ["x"], axis=-1), 1),
    ("reduce_features", one_node("ReduceMean", ["x"], axes=[2], keepdims=0), 1),
]
REFUSED_NODES = [
    ("reshape_merging_time", one_node("Reshape", ["x", "s"], {"s": np.array([0, -1], I64)}), "does not copy"),
    ("squeeze_without_axes", one_node("Squeeze", ["x"]), "no axes"),
    ("constant_along_time", one_node("Add", ["x", "c"], {"c": np.ones((1, 5, 1), np.float32)}), "size 5 along"),
    ("matmul_over_time", one_node("MatMul", ["x", "w"], {"w": np.ones((2, 3), np.float32)}, rank=2),
     "contracts the time axis"),
    ("shape", one_node("Shape", ["x"]), "length of the time axis"),
    ("cumsum", one_node("CumSum", ["x", "a"], {"a": np.array(1, I64)}), "not an op whose frame-locality"),
    ("softmax_time", one_node("Softmax", ["x"], axis=1), "normalizes over the time axis"),
    ("fixed_time", one_node("Relu", ["x"], time_dim=7), "fixed size 7"),
]


@pytest.mark.parametrize("name,model,axis", PROVED, ids=[p[0] for p in PROVED])
def test_frame_local_proved(name, model, axis):
    from gru_infer.importers.onnx._frame_local import time_axes
    assert time_axes(model, {"x": 1})["y"] == axis


@pytest.mark.parametrize("name,model,message", REFUSED_NODES, ids=[r[0] for r in REFUSED_NODES])
def test_frame_local_refused(name, model, message):
    from gru_infer.importers.onnx._frame_local import NotFrameLocal, time_axes
    with pytest.raises(NotFrameLocal, match=message):
        time_axes(model, {"x": 1})
