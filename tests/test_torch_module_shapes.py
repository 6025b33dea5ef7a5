"""from_torch on the module shapes torch users write, each against the module's own output:
forward(x, h) returning (out, h); .squeeze / .view / .flatten / .reshape on the head's output;
element-wise activations (PReLU, GELU, SiLU, Hardtanh, ReLU6, ...), as modules and functions;
torch.cat of the last layer's two final states of a multi-layer bidirectional GRU."""
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import check_roundtrip
from torch import nn

import gru_infer

TOL = 1e-5


class StatefulNet(nn.Module):
    """The energy-forecasting GRUNet: forward(x, h) -> (fc(relu(out[:, -1])), h)."""

    def __init__(self, layers=2, bidirectional=False):
        super().__init__()
        self.gru = nn.GRU(5, 16, layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(16 * (2 if bidirectional else 1), 1)
        self.relu = nn.ReLU()

    def forward(self, x, h):
        out, h = self.gru(x, h)
        return self.fc(self.relu(out[:, -1])), h


class StatefulSeq(nn.Module):
    """forward(x, h=None) -> (per-step head, h), seq-first."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 8, 1)
        self.out = nn.Linear(8, 2)

    def forward(self, x, hidden=None):
        y, hidden = self.rnn(x, hidden)
        return self.out(y), hidden


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
def test_forward_x_h_returning_out_h(layers, bidirectional, tmp_path, errors):
    torch.manual_seed(layers)
    module = StatefulNet(layers, bidirectional).eval()
    m = gru_infer.from_torch(module)
    assert "h0" in m.info.get("forward_state", "") and "return_state" in m.info["forward_state"]
    x = torch.rand(3, 20, 5)
    h = 0.5 * torch.randn(layers * (2 if bidirectional else 1), 3, 16)
    with torch.no_grad():
        ref_y, ref_h = module(x, h)
    y, h_n = m.predict(x.numpy(), h0=h.numpy(), return_state=True)
    errors.check("forward(x, h) -> (out, h): out", y, ref_y.numpy(), TOL)
    errors.check("forward(x, h) -> (out, h): h", h_n, ref_h.numpy(), TOL)
    with torch.no_grad():  # h = zeros, as the project's init_hidden gives
        errors.check("forward(x, zeros)", m.predict(x.numpy()), module(x, torch.zeros_like(h))[0].numpy(), TOL)
    check_roundtrip(m, x.numpy(), tmp_path)


def test_forward_x_h_default_none_seq_first(errors):
    torch.manual_seed(0)
    module = StatefulSeq().eval()
    m = gru_infer.from_torch(module)
    x = torch.randn(7, 2, 3)  # (T, B, F)
    h = torch.randn(1, 2, 8)
    with torch.no_grad():
        ref_y, ref_h = module(x, h)
    y, h_n = m.predict(x.transpose(0, 1).numpy(), h0=h.numpy(), return_state=True)
    errors.check("forward(x, hidden=None) seq-first: out", y, ref_y.transpose(0, 1).numpy(), TOL)
    errors.check("forward(x, hidden=None) seq-first: h", h_n, ref_h.numpy(), TOL)


class TwoGRUsWithState(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.GRU(3, 4, batch_first=True), nn.GRU(4, 4, batch_first=True)

    def forward(self, x, h):
        y, h = self.a(x, h)
        return self.b(y)[0], h


def test_state_argument_refusals():
    with pytest.raises(gru_infer.UnsupportedModelError, match="h"):
        gru_infer.from_torch(TwoGRUsWithState().eval())


class Head(nn.Module):
    def __init__(self, shape_op, out=1, seq=False):
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.fc = nn.Linear(6, out)
        self.shape_op, self.seq = shape_op, seq

    def forward(self, x):
        out, _ = self.gru(x)
        y = self.fc(out if self.seq else out[:, -1])
        return self.shape_op(y, x)


SHAPE_OPS = {  # name: (fn(y, x), out features, per-step head)
    "squeeze_-1": (lambda y, x: y.squeeze(-1), 1, False),
    "squeeze_1": (lambda y, x: y.squeeze(1), 1, False),
    "torch.squeeze": (lambda y, x: torch.squeeze(y, -1), 1, False),
    "squeeze_seq_-1": (lambda y, x: y.squeeze(-1), 1, True),
    "view_B_-1": (lambda y, x: y.view(x.size(0), -1), 3, False),
    "view_shape0": (lambda y, x: y.view(x.shape[0], -1), 3, False),
    "reshape_B_-1": (lambda y, x: y.reshape(x.size(0), -1), 3, False),
    "reshape_-1_O": (lambda y, x: y.reshape(-1, 3), 3, False),
    "flatten_1": (lambda y, x: y.flatten(1), 3, False),
    "torch.flatten": (lambda y, x: torch.flatten(y, 1), 3, False),
    "flatten_seq": (lambda y, x: y.flatten(1), 2, True),
    "view_seq_B_-1": (lambda y, x: y.view(x.size(0), -1), 2, True),
    "view_-1_flat": (lambda y, x: y.view(-1), 1, False),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_head_output_reshapes(name, errors):
    """predict returns torch's shape and numbers (issue 26 item 12: a traced .squeeze(-1) included)."""
    op, out, seq = SHAPE_OPS[name]
    torch.manual_seed(1)
    module = Head(op, out, seq).eval()
    m = gru_infer.from_torch(module)
    x = torch.randn(3, 9, 4)
    with torch.no_grad():
        ref = module(x).numpy()
    errors.check(f"head output {name}", m.predict(x.numpy()), ref, TOL)


@pytest.mark.parametrize("seq", [False, True])
def test_squeezed_head_one_sequence_pickle_and_save(seq, tmp_path, errors):
    """`self.fc(out[:, -1]).squeeze(-1)`: one sequence gives torch's output for x[None] without the batch
    axis; a pickled model keeps the reshape, a saved native file the engine's shape."""
    torch.manual_seed(2)
    module = Head(lambda y, x: y.squeeze(-1), 1, seq).eval()
    m = gru_infer.from_torch(module)
    assert m.info["predict_reshape"] == "squeeze_features", m.info
    x = torch.randn(3, 9, 4)
    with torch.no_grad():
        one = module(x[:1])[0].numpy()  # () or (T,)
        ref = module(x).numpy()
    errors.check("head .squeeze(-1), one sequence", m.predict(x[0].numpy()), one, TOL)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(m)).predict(x.numpy()), m.predict(x.numpy()))
    m.save(tmp_path / "m.gru")
    np.testing.assert_array_equal(gru_infer.load(tmp_path / "m.gru").predict(x.numpy()),
                                  m.predict(x.numpy())[..., None])
    assert ref.shape == ((3, 9) if seq else (3,))


ACTIVATIONS = {
    "PReLU": nn.PReLU(init=0.3), "GELU": nn.GELU(), "GELU_tanh": nn.GELU(approximate="tanh"), "SiLU": nn.SiLU(),
    "Hardtanh": nn.Hardtanh(), "Hardtanh_-2_1": nn.Hardtanh(-2.0, 1.0), "ReLU6": nn.ReLU6(),
    "Hardswish": nn.Hardswish(), "Mish": nn.Mish(), "SELU": nn.SELU(), "CELU": nn.CELU(0.5),
    "Hardsigmoid": nn.Hardsigmoid(), "LeakyReLU": nn.LeakyReLU(0.2), "ELU": nn.ELU(0.7),
}


class ActHead(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.gru = nn.GRU(3, 6, batch_first=True)
        self.act = act
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.act(self.gru(x)[0]))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_modules(name, tmp_path, errors):
    torch.manual_seed(2)
    module = ActHead(ACTIVATIONS[name]).eval()
    m = gru_infer.from_torch(module)
    x = 3 * torch.randn(2, 10, 3)
    with torch.no_grad():
        errors.check(f"from_torch activation {name}", m.predict(x.numpy()), module(x).numpy(), TOL)
    check_roundtrip(m, x.numpy(), tmp_path)


FUNCTIONS = {
    "F.gelu": lambda v: F.gelu(v), "F.gelu_tanh": lambda v: F.gelu(v, approximate="tanh"),
    "F.silu": F.silu, "F.hardtanh": lambda v: F.hardtanh(v, -0.5, 0.5), "F.relu6": F.relu6,
    "F.hardswish": F.hardswish, "F.mish": F.mish, "F.selu": F.selu, "F.celu": lambda v: F.celu(v, 2.0),
    "torch.clamp": lambda v: torch.clamp(v, -0.25, 0.75), "Tensor.clamp": lambda v: v.clamp(min=-0.3, max=0.4),
}


class FnHead(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.gru = nn.GRU(3, 6, batch_first=True)
        self.fn = fn
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(self.fn(out[:, -1]))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_activation_functions(name, errors):
    torch.manual_seed(3)
    module = FnHead(FUNCTIONS[name]).eval()
    m = gru_infer.from_torch(module)
    x = 3 * torch.randn(2, 10, 3)
    with torch.no_grad():
        errors.check(f"from_torch function {name}", m.predict(x.numpy()), module(x).numpy(), TOL)


def test_per_channel_prelu_is_refused_clearly():
    module = ActHead(nn.PReLU(6)).eval()
    with pytest.raises(gru_infer.UnsupportedModelError, match="PReLU.*num_parameters=6"):
        gru_infer.from_torch(module)


class BiClassifier(nn.Module):
    """The usual text classifier: multi-layer BiGRU, cat of the last layer's final states."""

    def __init__(self, layers, form):
        super().__init__()
        self.gru = nn.GRU(4, 5, num_layers=layers, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(10, 3)
        self.form = form

    def forward(self, x):
        _, hidden = self.gru(x)
        if self.form == "minus":
            h = torch.cat((hidden[-2], hidden[-1]), dim=1)
        elif self.form == "slices":
            h = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        elif self.form == "list_dim_-1":
            h = torch.cat([hidden[-2], hidden[-1]], dim=-1)
        else:  # explicit indices of the last layer
            n = 2 * self.gru.num_layers
            h = torch.cat((hidden[n - 2], hidden[n - 1]), 1)
        return self.fc(h)


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("form", ["minus", "slices", "list_dim_-1", "computed_index"])
def test_bidirectional_cat_of_last_layer_states(layers, form, errors):
    torch.manual_seed(layers)
    module = BiClassifier(layers, form).eval()
    m = gru_infer.from_torch(module)
    x = torch.randn(3, 8, 4)
    with torch.no_grad():
        errors.check("cat(h_n[-2], h_n[-1]) of a BiGRU", m.predict(x.numpy()), module(x).numpy(), TOL)
