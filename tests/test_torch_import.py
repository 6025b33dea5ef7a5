"""PyTorch -> layer spec conversion, checked against real PyTorch with a small NumPy evaluator.

The evaluator below implements the layer spec (formats.md section 0) independently of the C++ engine;
it only exists to show that the converted weights and layer lists are exact.
"""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from gru_infer.layers import GRU, ActivationLayer, Dense, Embedding, LastStep  # noqa: E402
from gru_infer.torch_import import (UnsupportedModelError, layers_from_state_dict,  # noqa: E402
                                    layers_from_torch, load_torch_file)

TOL = 1e-5


# ---------------------------------------------------------------------------------------------
# Reference evaluator of the layer spec (batch-first input: (B, T, I) floats or (B, T) ids)

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _activation(a, x):
    k = a.kind
    if k == "identity":
        return x
    if k == "relu":
        return np.maximum(x, 0)
    if k == "tanh":
        return np.tanh(x)
    if k == "sigmoid":
        return _sigmoid(x)
    if k in ("softmax", "log_softmax"):
        e = x - x.max(axis=-1, keepdims=True)
        if k == "log_softmax":
            return e - np.log(np.exp(e).sum(axis=-1, keepdims=True))
        return np.exp(e) / np.exp(e).sum(axis=-1, keepdims=True)
    if k == "leaky_relu":
        return np.where(x >= 0, x, a.alpha * x)
    if k == "elu":
        return np.where(x > 0, x, a.alpha * (np.exp(x) - 1))
    if k == "softplus":
        return np.log1p(np.exp(x))
    if k == "softsign":
        return x / (1 + np.abs(x))
    if k == "hard_sigmoid":
        return np.clip(a.alpha * x + a.beta, 0, 1)
    raise NotImplementedError(k)


def _gru_direction(g, d, x, reverse):
    B, T, _ = x.shape
    H = g.hidden_size
    W, R, bW, bR = (np.asarray(a, np.float64) for a in (d.W, d.R, d.bW, d.bR))
    h = np.zeros((B, H))
    out = np.zeros((B, T, H))
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        xw = x[:, t] @ W.T + bW
        hr = h @ R.T + bR
        z = _sigmoid(xw[:, :H] + hr[:, :H])
        r = _sigmoid(xw[:, H:2 * H] + hr[:, H:2 * H])
        assert g.linear_before_reset
        n = np.tanh(xw[:, 2 * H:] + r * hr[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[:, t] = h
    return out, h


def _gru(g, x):
    assert g.direction in ("forward", "bidirectional") and g.merge_mode == "concat"
    results = [_gru_direction(g, d, x, reverse=i == 1) for i, d in enumerate(g.directions)]
    if g.return_sequences:
        return np.concatenate([o for o, _ in results], axis=-1)
    return np.concatenate([h for _, h in results], axis=-1)


def run_layers(layers, x):
    x = np.asarray(x)
    if not isinstance(layers[0], Embedding):
        x = x.astype(np.float64)
    for layer in layers:
        if isinstance(layer, Embedding):
            x = np.asarray(layer.table, np.float64)[x]
        elif isinstance(layer, Dense):
            x = x @ np.asarray(layer.weight, np.float64).T
            if layer.bias is not None:
                x = x + layer.bias
        elif isinstance(layer, ActivationLayer):
            x = _activation(layer.activation, x)
        elif isinstance(layer, LastStep):
            x = x[:, -1]
        elif isinstance(layer, GRU):
            x = _gru(layer, x)
        else:
            raise TypeError(layer)
    return x


def max_err(layers, torch_out, x_bf):
    """Max abs difference between the spec run on batch-first `x_bf` and torch's batch-first output."""
    ref = torch_out.detach().double().numpy()
    got = run_layers(layers, x_bf)
    assert got.shape == ref.shape
    return float(np.max(np.abs(got - ref)))


def randn(*shape):
    return torch.randn(*shape)


# ---------------------------------------------------------------------------------------------
# nn.GRU / GRUCell / simple modules

GRU_CONFIGS = [  # (num_layers, bidirectional, bias, batch_first)
    (1, False, True, True), (1, True, True, False), (2, False, False, True), (2, True, True, True),
    (3, False, True, False), (3, True, False, True), (1, False, False, False), (2, True, False, False),
]


@pytest.mark.parametrize("num_layers,bidirectional,bias,batch_first", GRU_CONFIGS)
def test_nn_gru_matches_torch(num_layers, bidirectional, bias, batch_first):
    torch.manual_seed(num_layers * 8 + bidirectional * 4 + bias * 2 + batch_first)
    gru = nn.GRU(5, 7, num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                 batch_first=batch_first, dropout=0.3 if num_layers > 1 else 0.0).eval()
    layers, info = layers_from_torch(gru)
    assert info == {"batch_first": batch_first, "source": "pytorch"}
    assert len(layers) == num_layers and all(isinstance(g, GRU) for g in layers)
    D = 2 if bidirectional else 1
    for k, g in enumerate(layers):
        assert g.direction == ("bidirectional" if bidirectional else "forward")
        assert g.linear_before_reset and g.has_bias == bias and g.return_sequences
        assert g.input_size == (5 if k == 0 else D * 7) and g.hidden_size == 7
        g.validated()
    x = randn(3, 6, 5)  # batch-first
    with torch.no_grad():
        out, _ = gru(x if batch_first else x.transpose(0, 1))
    out = out if batch_first else out.transpose(0, 1)
    assert max_err(layers, out, x.numpy()) <= TOL


def test_gru_weight_reordering_is_z_r_n():
    torch.manual_seed(0)
    gru = nn.GRU(2, 3, bias=False)
    (g,), _ = layers_from_torch(gru)
    w = gru.weight_ih_l0.detach().numpy()
    np.testing.assert_array_equal(g.directions[0].W[:3], w[3:6])  # z first
    np.testing.assert_array_equal(g.directions[0].W[3:6], w[:3])  # then r
    assert not g.has_bias and not g.directions[0].bW.any() and not g.directions[0].bR.any()


def test_float64_and_bfloat16_parameters_become_float32():
    torch.manual_seed(1)
    for dtype in (torch.float64, torch.bfloat16):
        gru = nn.GRU(3, 4).to(dtype)
        (g,), _ = layers_from_torch(gru)
        assert g.directions[0].W.dtype == np.float32
        np.testing.assert_allclose(g.directions[0].R[8:], gru.weight_hh_l0.detach().float().numpy()[8:])


def test_gru_cell_steps_match_cell_calls():
    torch.manual_seed(2)
    cell = nn.GRUCell(4, 6)
    layers, info = layers_from_torch(cell)
    assert len(layers) == 1 and layers[0].direction == "forward" and info["batch_first"] is None
    x = randn(2, 5, 4)
    h = torch.zeros(2, 6)
    outs = []
    with torch.no_grad():
        for t in range(5):
            h = cell(x[:, t], h)
            outs.append(h)
    assert max_err(layers, torch.stack(outs, 1), x.numpy()) <= TOL


def test_sequential_heads_and_all_activation_modules():
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.5),
        nn.Sequential(nn.Linear(6, 6), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.Softplus(), nn.Softsign()),
        nn.Hardsigmoid(), nn.Tanh(), nn.Sigmoid(), nn.Identity(), nn.Linear(6, 5), nn.LogSoftmax(dim=-1),
        nn.Linear(5, 3), nn.Softmax(dim=2)).eval()
    layers, info = layers_from_torch(model)
    assert info["batch_first"] is None
    kinds = [l.activation.kind for l in layers if isinstance(l, ActivationLayer)]
    assert kinds == ["relu", "leaky_relu", "elu", "softplus", "softsign", "hard_sigmoid", "tanh", "sigmoid",
                     "identity", "log_softmax", "softmax"]
    x = randn(2, 3, 4)
    with torch.no_grad():
        assert max_err(layers, model(x), x.numpy()) <= TOL


def test_sequential_ending_in_gru_gives_its_output_sequence():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.GRU(4, 5, num_layers=2, batch_first=True)).eval()
    layers, info = layers_from_torch(model)
    assert info["batch_first"] is True
    x = randn(2, 6, 3)
    with torch.no_grad():
        assert max_err(layers, model(x)[0], x.numpy()) <= TOL


# ---------------------------------------------------------------------------------------------
# Custom modules (fx)

class LastStepHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, num_layers=2, batch_first=True, dropout=0.2)
        self.fc1 = nn.Linear(8, 6)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        out, _ = self.gru(x)
        y = self.act(self.fc1(out[:, -1]))
        return self.fc2(self.drop(y))


class EmbeddingClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 5, padding_idx=0)
        self.rnn = nn.GRU(5, 6, num_layers=2, batch_first=True)
        self.fc = nn.Linear(6, 4)

    def forward(self, ids):
        _, h = self.rnn(self.emb(ids))
        return F.softmax(self.fc(h[-1]), dim=-1)


class SeqFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 5)  # (T, B, I)
        self.out = nn.Linear(5, 2)

    def forward(self, x):
        out, h_n = self.gru(x)
        return torch.tanh(self.out(out[-1]))


class Chained(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(3, 4)
        self.gru1 = nn.GRU(4, 5, batch_first=True, bidirectional=True)
        self.gru2 = nn.GRU(10, 6, batch_first=True)
        self.head = nn.Sequential(nn.Linear(6, 2), nn.Sigmoid())

    def forward(self, x):
        x = self.pre(x).relu()
        x, _ = self.gru1(x)
        x = F.dropout(x, 0.3, training=self.training)
        x, _ = self.gru2(x.contiguous())
        return self.head(torch.relu(x[:, -1, :]).flatten(1))


class ZeroH0Bidirectional(nn.Module):
    """Tutorial style: explicit zero h0, final states of both directions concatenated."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x, lengths=None):
        h0 = torch.zeros(4, x.size(0), 4, device=x.device)
        _, h = self.gru(x, h0)
        return torch.log_softmax(self.fc(torch.cat((h[-2], h[-1]), dim=1)), dim=-1)


class SqueezedState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        _, h = self.gru(x)
        return self.fc(torch.squeeze(h, 0))


@pytest.mark.parametrize("cls,batch_first,ids", [
    (LastStepHead, True, False), (EmbeddingClassifier, True, True), (SeqFirst, False, False),
    (Chained, True, False), (ZeroH0Bidirectional, True, False), (SqueezedState, False, False)])
def test_custom_modules_match_torch(cls, batch_first, ids):
    torch.manual_seed(5)
    model = cls().eval()
    layers, info = layers_from_torch(model)
    assert info == {"batch_first": batch_first, "source": "pytorch"}
    x = torch.randint(0, 20, (3, 7)) if ids else randn(3, 7, 3 if cls is not LastStepHead else 4)
    with torch.no_grad():
        y = model(x if batch_first else x.transpose(0, 1))
    assert max_err(layers, y, x.numpy()) <= TOL


def test_custom_module_layer_lists():
    (emb, g1, g2, fc, sm), _ = layers_from_torch(EmbeddingClassifier())
    assert isinstance(emb, Embedding) and isinstance(fc, Dense) and sm.activation.kind == "softmax"
    assert g1.return_sequences and not g2.return_sequences  # h[-1] = final state of the last layer
    kinds = [type(l).__name__ for l in layers_from_torch(LastStepHead())[0]]
    assert kinds == ["GRU", "GRU", "LastStep", "Dense", "ActivationLayer", "Dense"]


# ---------------------------------------------------------------------------------------------
# state_dicts and files

class Nested(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.rnn = nn.GRU(4, 5, **kw)


@pytest.mark.parametrize("num_layers,bidirectional,bias,nested", [
    (1, False, True, False), (2, True, True, True), (3, True, False, False), (2, False, True, True)])
def test_state_dict_file_matches_torch(tmp_path, num_layers, bidirectional, bias, nested):
    torch.manual_seed(6)
    gru = nn.GRU(4, 5, num_layers=num_layers, bidirectional=bidirectional, bias=bias, batch_first=True)
    owner = Nested(num_layers=num_layers, bidirectional=bidirectional, bias=bias, batch_first=True)
    owner.encoder.rnn = gru
    path = tmp_path / "gru.pt"
    torch.save((owner if nested else gru).state_dict(), path)
    layers, info = load_torch_file(path)
    assert info["batch_first"] is None and info["source"] == "pytorch"
    assert info["prefix"] == ("encoder.rnn." if nested else "")
    x = randn(2, 6, 4)
    with torch.no_grad():
        assert max_err(layers, gru(x)[0], x.numpy()) <= TOL


def test_state_dict_of_numpy_arrays_and_gru_cell():
    torch.manual_seed(7)
    cell = nn.GRUCell(3, 4).double()
    sd = {"cell." + k: v.numpy() for k, v in cell.state_dict().items()}
    (g,), _ = layers_from_state_dict(sd)
    (g2,), _ = layers_from_torch(cell)
    for a, b in zip(vars(g.directions[0]).values(), vars(g2.directions[0]).values()):
        np.testing.assert_array_equal(a, b)


def test_state_dict_errors():
    torch.manual_seed(8)
    sd = nn.GRU(4, 5, num_layers=3).state_dict()

    extra = dict(sd, **{"fc.weight": torch.zeros(2, 5), "fc.bias": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"\['fc.bias', 'fc.weight'\].*gru_infer.from_torch\(module\)"):
        layers_from_state_dict(extra)

    bad = dict(sd, weight_ih_l1=torch.zeros(15, 4))
    with pytest.raises(ValueError, match=r"'weight_ih_l1': expected shape \(15, 5\), got \(15, 4\)"):
        layers_from_state_dict(bad)

    no_l1 = {k: v for k, v in sd.items() if "_l1" not in k}
    with pytest.raises(ValueError, match=r"missing.*weight_ih_l1"):
        layers_from_state_dict(no_l1)

    no_bias = {k: v for k, v in sd.items() if k != "bias_hh_l2"}
    with pytest.raises(ValueError, match="bias_hh_l2"):
        layers_from_state_dict(no_bias)

    with pytest.raises(ValueError, match="several GRU modules"):
        layers_from_state_dict({**{"a." + k: v for k, v in sd.items()}, **{"b." + k: v for k, v in sd.items()}})


def test_load_refuses_pickled_module(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(nn.GRU(2, 3), path)
    with pytest.raises(ValueError, match=r"not a plain state_dict.*execute.*state_dict\(\)"):
        load_torch_file(path)


# ---------------------------------------------------------------------------------------------
# Unsupported models give clear errors

class CumSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)

    def forward(self, x):
        out, _ = self.gru(x)
        return torch.cumsum(out, dim=1)


class BidiLastState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, bidirectional=True, batch_first=True)

    def forward(self, x):
        _, h_n = self.gru(x)
        return h_n[-1]


class CallerH0(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)

    def forward(self, x, h0):
        return self.gru(x, h0)[0]


class WrongIndex(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)

    def forward(self, x):
        out, _ = self.gru(x)
        return out[-1]  # the last batch element, not the last step


class LayoutMismatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.GRU(3, 4, batch_first=True)
        self.b = nn.GRU(4, 4)

    def forward(self, x):
        return self.b(self.a(x)[0])[0]


class OutAndState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        out, h = self.gru(x)
        return self.fc(out[:, -1]) * 0 + self.fc(h[-1])


class WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)

    def forward(self, x):
        return self.lstm(x)[0]


class SoftmaxOverTime(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)

    def forward(self, x):
        return F.softmax(self.gru(x)[0], dim=1)


@pytest.mark.parametrize("cls,pattern", [
    (CumSum, r"unsupported operation torch\.cumsum at node 'cumsum'"),
    (BidiLastState, r"h_n\[-1\] of bidirectional GRU 'gru'.*node 'getitem_\d+'"),
    (CallerH0, r"h0 of GRU 'gru' comes from the forward argument 'h0'"),
    (WrongIndex, r"indexing -1 of a batch-first sequence.*out\[:, -1\].*node 'getitem_\d+'"),
    (LayoutMismatch, r"GRU 'b' has batch_first=False but its input sequence is batch-first"),
    (OutAndState, r"both the output and h_n of GRU 'gru' are used"),
    (WithLSTM, r"unsupported module nn\.LSTM \('lstm'\) at node 'lstm'"),
    (SoftmaxOverTime, r"softmax\(dim=1\) on a 3-d value"),
])
def test_unsupported_models(cls, pattern):
    with pytest.raises(UnsupportedModelError, match=pattern):
        layers_from_torch(cls())


def test_unsupported_module_settings():
    with pytest.raises(ValueError, match="max_norm"):
        layers_from_torch(nn.Embedding(5, 3, max_norm=1.0))
    with pytest.raises(ValueError, match="beta=2"):
        layers_from_torch(nn.Sequential(nn.Linear(2, 2), nn.Softplus(beta=2)))
    with pytest.raises(ValueError, match="unsupported module nn.LSTM"):
        layers_from_torch(nn.LSTM(2, 3))


def test_import_does_not_import_torch():
    code = "import sys, gru_infer.torch_import; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
