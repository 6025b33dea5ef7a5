"""PyTorch -> layer spec conversion: what the importer produces and the errors it gives.

Converted layer lists are run with the engine (gru_infer.Model.from_layers) and compared with the
torch module itself. Plain nn.GRU / GRUCell parity over many shapes is in test_parity_torch.py;
this file keeps the importer-specific cases: fx patterns, state_dict key handling, dtypes and
error messages.
"""
import subprocess
import sys

import numpy as np
import pytest
import torch

import gru_infer
from gru_infer import UnsupportedModelError
from gru_infer.importers._state_dict import layers_from_state_dict
from gru_infer.importers.torch_file import load_torch_file
from gru_infer.importers.torch_module import layers_from_torch
from gru_infer.layers import GRU, ActivationLayer, Dense, Embedding

nn = torch.nn
F = torch.nn.functional

TOL = 1e-5


def check_layers(errors, category, layers, torch_out, x_bf):
    """The engine running `layers` on batch-first `x_bf` matches torch's batch-first output."""
    got = gru_infer.Model.from_layers(layers).predict(x_bf)
    return errors.check(category, got, torch_out.detach().numpy(), TOL)


def randn(*shape):
    return torch.randn(*shape)


# ---------------------------------------------------------------------------------------------
# nn.GRU / GRUCell / simple modules

GRU_CONFIGS = [  # (num_layers, bidirectional, bias, batch_first)
    (1, False, True, True), (1, True, True, False), (2, False, False, True), (2, True, True, True),
    (3, False, True, False), (3, True, False, True), (1, False, False, False), (2, True, False, False),
]


@pytest.mark.parametrize("num_layers,bidirectional,bias,batch_first", GRU_CONFIGS)
def test_nn_gru_layer_specs(num_layers, bidirectional, bias, batch_first, errors):
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
    if num_layers > 1:  # inter-layer dropout=0.3 is a training-only setting: eval output is unchanged
        x = randn(3, 6, 5)  # batch-first
        with torch.no_grad():
            out, _ = gru(x if batch_first else x.transpose(0, 1))
        out = out if batch_first else out.transpose(0, 1)
        check_layers(errors, "importer: GRU with dropout", layers, out, x.numpy())


def test_gru_weight_reordering_is_z_r_n():
    torch.manual_seed(0)
    gru = nn.GRU(2, 3, bias=False)
    (g,), _ = layers_from_torch(gru)
    w = gru.weight_ih_l0.detach().numpy()
    np.testing.assert_array_equal(g.directions[0].W[:3], w[3:6])  # z first
    np.testing.assert_array_equal(g.directions[0].W[3:6], w[:3])  # then r
    assert not g.has_bias and not g.directions[0].bW.any() and not g.directions[0].bR.any()


def test_float64_and_bfloat16_parameters_become_float32(errors):
    torch.manual_seed(1)
    for dtype in (torch.float64, torch.bfloat16):
        gru = nn.GRU(3, 4).to(dtype)
        (g,), _ = layers_from_torch(gru)
        assert g.directions[0].W.dtype == np.float32
        np.testing.assert_array_equal(g.directions[0].R[8:], gru.weight_hh_l0.detach().float().numpy()[8:])
    # float64 weights that are not float32-representable: the engine rounds them once, and still
    # matches the float64 module to float32 accuracy
    gru = nn.GRU(3, 4, num_layers=2).double().eval()
    x = randn(2, 7, 3).double()
    with torch.no_grad():
        ref = gru(x.transpose(0, 1))[0].transpose(0, 1)
    check_layers(errors, "importer: float64 module", layers_from_torch(gru)[0], ref, x.numpy())


def test_gru_cell_spec():
    torch.manual_seed(2)
    cell = nn.GRUCell(4, 6, bias=False)
    layers, info = layers_from_torch(cell)
    assert info == {"batch_first": None, "source": "pytorch"}
    (g,) = layers
    assert (g.input_size, g.hidden_size, g.direction, g.return_sequences, g.has_bias) == (4, 6, "forward", True, False)
    np.testing.assert_array_equal(g.directions[0].R[:6], cell.weight_hh.detach().numpy()[6:12])  # z block


def test_sequential_heads_and_all_activation_modules(errors):
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
    x = randn(2, 3, 4) * 3
    with torch.no_grad():
        check_layers(errors, "importer: activation modules", layers, model(x), x.numpy())


def test_sequential_ending_in_gru_gives_its_output_sequence():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.GRU(4, 5, num_layers=2, batch_first=True)).eval()
    layers, info = layers_from_torch(model)
    assert info["batch_first"] is True
    assert [type(l).__name__ for l in layers] == ["Dense", "ActivationLayer", "GRU", "GRU"]
    assert all(l.return_sequences for l in layers[2:])


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


# LastStepHead / EmbeddingClassifier / SeqFirst patterns are run against torch in test_parity_torch.py;
# the fx patterns below (method activations, F.dropout, .contiguous(), flatten(1), explicit zero h0,
# torch.cat of both directions' final states, squeeze(0) of h_n, an unused forward argument with a
# default) only here.
@pytest.mark.parametrize("cls,batch_first", [(Chained, True), (ZeroH0Bidirectional, True),
                                             (SqueezedState, False)])
def test_custom_modules_match_torch(cls, batch_first, errors):
    torch.manual_seed(5)
    model = cls().eval()
    layers, info = layers_from_torch(model)
    assert info == {"batch_first": batch_first, "source": "pytorch"}
    x = randn(3, 7, 3)
    with torch.no_grad():
        y = model(x if batch_first else x.transpose(0, 1))
    check_layers(errors, "importer: fx patterns", layers, y, x.numpy())


def test_custom_module_layer_lists():
    (emb, g1, g2, fc, sm), info = layers_from_torch(EmbeddingClassifier())
    assert info == {"batch_first": True, "source": "pytorch"}
    assert isinstance(emb, Embedding) and isinstance(fc, Dense) and sm.activation.kind == "softmax"
    assert g1.return_sequences and not g2.return_sequences  # h[-1] = final state of the last layer
    layers, info = layers_from_torch(LastStepHead())
    assert [type(l).__name__ for l in layers] == ["GRU", "GRU", "LastStep", "Dense", "ActivationLayer", "Dense"]
    assert info["batch_first"] is True
    layers, info = layers_from_torch(SeqFirst())
    assert [type(l).__name__ for l in layers] == ["GRU", "LastStep", "Dense", "ActivationLayer"]
    assert info["batch_first"] is False
    (g1, g2, g3, g4), _ = layers_from_torch(ZeroH0Bidirectional())
    assert [g.direction for g in (g1, g2)] == ["bidirectional"] * 2 and not g2.return_sequences
    assert isinstance(g3, Dense) and g4.activation.kind == "log_softmax"


# ---------------------------------------------------------------------------------------------
# state_dicts and files

class Nested(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.rnn = nn.GRU(4, 5, **kw)


@pytest.mark.parametrize("num_layers,bidirectional,bias,nested", [
    (1, False, True, False), (2, True, True, True), (3, True, False, False), (2, False, True, True)])
def test_state_dict_file_matches_torch(tmp_path, num_layers, bidirectional, bias, nested, errors):
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
        ref = gru(x)[0]
    check_layers(errors, "importer: state_dict file", layers, ref, x.numpy())
    model = gru_infer.load(path)  # the same file through the public loader
    assert model.source == "pytorch"
    np.testing.assert_array_equal(model.predict(x.numpy()), gru_infer.Model.from_layers(layers).predict(x.numpy()))


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

    extra = dict(sd, **{"bn.running_mean": torch.zeros(5), "bn.num_batches_tracked": torch.tensor(0)})
    with pytest.raises(ValueError, match=r"\['bn.num_batches_tracked', 'bn.running_mean'\].*"
                                         r"gru_infer.from_torch\(module\)"):
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

    # two GRU(4, 5) stacks cannot feed each other (5 outputs into 4 inputs)
    with pytest.raises(ValueError, match="several GRU modules.*does not chain"):
        layers_from_state_dict({**{"a." + k: v for k, v in sd.items()}, **{"b." + k: v for k, v in sd.items()}})


def test_state_dict_with_linear_head(errors):
    """A GRU followed by a Linear: the head is applied to every step, and the assumption is reported."""
    torch.manual_seed(9)
    gru = nn.GRU(4, 5, num_layers=2, batch_first=True).eval()
    fc = nn.Linear(5, 3).eval()
    sd = {**{"rnn." + k: v for k, v in gru.state_dict().items()},
          **{"fc." + k: v for k, v in fc.state_dict().items()}}
    layers, info = layers_from_state_dict(sd)
    assert [type(l).__name__ for l in layers] == ["GRU", "GRU", "Dense"]
    assert info["modules"] == [("rnn.", "GRU"), ("fc.", "Linear")] and info["prefix"] == "rnn."
    assert any("every time step" in a for a in info["assumed"])
    x = randn(2, 6, 4)
    with torch.no_grad():
        ref = fc(gru(x)[0])
    check_layers(errors, "importer: state_dict file", layers, ref, x.numpy())


def test_load_whole_module_file(tmp_path, errors):
    """torch.save(module) (not only its state_dict) is read without running code from the file."""
    torch.manual_seed(10)
    gru = nn.GRU(2, 3, num_layers=2, bidirectional=True).eval()
    path = tmp_path / "model.pt"
    torch.save(gru, path)
    layers, info = load_torch_file(path)
    assert info["saved"] == "module"
    x = randn(2, 5, 2)
    with torch.no_grad():
        ref = gru(x.transpose(0, 1))[0].transpose(0, 1)
    check_layers(errors, "importer: state_dict file", layers, ref, x.numpy())


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
    code = ("import sys, gru_infer.importers.torch_module, gru_infer.importers.torch_file; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("make", [
    lambda: nn.GRU(3, 5, num_layers=2, bidirectional=True),
    lambda: nn.GRU(4, 6, bias=False),
    lambda: nn.Sequential(nn.Embedding(11, 4), nn.Linear(4, 2)),
])
def test_parameter_count_matches_torch(make):
    """num_parameters (from the core's layer sizes) equals PyTorch's count of trained values."""
    module = make()
    assert gru_infer.from_torch(module).num_parameters == sum(p.numel() for p in module.parameters())
