"""The stream contract: stream.step(x[:, t]) is the last step of predict(x[:, :t+1]), stream.state is
predict's h_n, reset/state/out behave as documented. Models are random (seeded) torch modules
converted with gru_infer.from_torch, plus one Model.from_layers model with lbr=False, so each
step is also checked against the torch module run on the same prefix where there is one.
"""
import numpy as np
import pytest
import torch
from torch import nn

import gru_infer
from gru_infer import layers as L

STREAM_TOL = 1e-6  # stream vs predict: same engine, same arithmetic
TORCH_TOL = 1e-5   # vs the torch module
T = 9


class SeqHead(nn.Module):
    """Multi-layer GRU with a per-step head: GRU -> Linear -> ReLU -> Linear."""

    def __init__(self, F, H, O):
        super().__init__()
        self.gru = nn.GRU(F, H, num_layers=3, batch_first=True)
        self.fc1 = nn.Linear(H, 11)
        self.fc2 = nn.Linear(11, O)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc2(torch.relu(self.fc1(out)))


class LastStepHead(nn.Module):
    def __init__(self, F, H, O):
        super().__init__()
        self.gru = nn.GRU(F, H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(H, O)

    def forward(self, x):
        out, _ = self.gru(x)
        return torch.softmax(self.fc(out[:, -1]), dim=-1)


class EmbeddingSeq(nn.Module):
    def __init__(self, V, E, H, O):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.gru = nn.GRU(E, H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(H, O)

    def forward(self, ids):
        out, _ = self.gru(self.emb(ids))
        return torch.tanh(self.fc(out))


class EmbeddingLastState(nn.Module):
    def __init__(self, V, E, H, O):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.gru = nn.GRU(E, H, batch_first=True)
        self.fc = nn.Linear(H, O)

    def forward(self, ids):
        _, h = self.gru(self.emb(ids))
        return self.fc(h[-1])


class TwoSizes(nn.Module):
    """Two GRU modules of different hidden sizes: the state is a tuple of per-layer arrays."""

    def __init__(self, F):
        super().__init__()
        self.pre = nn.Linear(F, 6)
        self.gru1 = nn.GRU(6, 17, num_layers=2, batch_first=True)
        self.gru2 = nn.GRU(17, 5, batch_first=True)

    def forward(self, x):
        out, _ = self.gru1(torch.tanh(self.pre(x)))
        out, _ = self.gru2(out)
        return out


def _cho_model(rng):
    """Model.from_layers: lbr=False GRU with a hard_sigmoid gate, then Dense + softmax (no torch twin)."""
    F, H, O = 4, 7, 3

    def w(*shape):
        return (0.4 * rng.standard_normal(shape)).astype(np.float32)

    gru = L.GRU(F, H, [L.GRUDirection(w(3 * H, F), w(3 * H, H), w(3 * H), w(3 * H))],
                linear_before_reset=False, gate_activation=L.Activation("hard_sigmoid", 0.2, 0.5))
    return gru_infer.Model.from_layers([gru, L.Dense(w(O, H), w(O)), L.ActivationLayer(L.Activation("softmax"))])


def build(kind):
    """(model, torch module or None, make_input(rng, B, T))."""
    seed = sum(map(ord, kind))  # fixed per kind
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    floats = lambda F: (lambda r, B, T: r.standard_normal((B, T, F), dtype=np.float32))  # noqa: E731
    ids = lambda V: (lambda r, B, T: r.integers(0, V, size=(B, T)))  # noqa: E731
    if kind == "seq_head":
        m = SeqHead(5, 17, 4).eval()
        return gru_infer.from_torch(m), m, floats(5)
    if kind == "last_step":
        m = LastStepHead(3, 9, 4).eval()
        return gru_infer.from_torch(m), m, floats(3)
    if kind == "embedding_seq":
        m = EmbeddingSeq(30, 6, 10, 3).eval()
        return gru_infer.from_torch(m), m, ids(30)
    if kind == "embedding_last_state":
        m = EmbeddingLastState(12, 4, 8, 2).eval()
        return gru_infer.from_torch(m), m, ids(12)
    if kind == "two_sizes":
        m = TwoSizes(4).eval()
        return gru_infer.from_torch(m), m, floats(4)
    if kind == "gru_cell":
        m = nn.GRUCell(3, 6).eval()
        return gru_infer.from_torch(m), None, floats(3)
    if kind == "cho_from_layers":
        return _cho_model(rng), None, floats(4)
    raise KeyError(kind)


KINDS = ["seq_head", "last_step", "embedding_seq", "embedding_last_state", "two_sizes", "gru_cell",
         "cho_from_layers"]


def last_output(y):
    """The last-step output of predict: (B, O) models already end on the last step."""
    return y if y.ndim == 2 else y[:, -1]


def torch_last(module, x):
    with torch.no_grad():
        y = module(torch.from_numpy(x))
    return last_output(y.numpy())


def check_states(errors, got, ref, tol=STREAM_TOL):
    if isinstance(ref, tuple):
        assert isinstance(got, tuple) and len(got) == len(ref)
        for g, r in zip(got, ref):
            errors.check("stream state vs predict h_n", g, r, tol)
    else:
        assert isinstance(got, np.ndarray)
        errors.check("stream state vs predict h_n", got, ref, tol)


def random_state(model, B, rng):
    shape = model.state_shape(B)
    if isinstance(shape, tuple):
        return (0.7 * rng.standard_normal(shape)).astype(np.float32)
    return tuple((0.7 * rng.standard_normal(s)).astype(np.float32) for s in shape)


def zeros_like_state(state):
    return tuple(np.zeros_like(s) for s in state) if isinstance(state, tuple) else np.zeros_like(state)


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_step_equals_predict_prefix(kind, batch, errors):
    model, module, make = build(kind)
    x = make(np.random.default_rng(100 + batch), batch, T)
    stream = model.stream(batch)
    assert stream.batch == batch
    check_states(errors, stream.state, zeros_like_state(model.predict(x[:, :1], return_state=True)[1]), 0.0)
    for t in range(T):
        y = stream.step(x[:, t])
        assert y.shape == (batch, model.output_size) and y.dtype == np.float32
        ref_y, ref_h = model.predict(x[:, :t + 1], return_state=True)
        errors.check("stream step vs predict", y, last_output(ref_y), STREAM_TOL)
        check_states(errors, stream.state, ref_h)
        if module is not None:
            errors.check("stream step vs torch", y, torch_last(module, x[:, :t + 1]), TORCH_TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_reset_returns_to_zero_state(kind, errors):
    model, _, make = build(kind)
    B = 3
    x = make(np.random.default_rng(7), B, 4)
    stream = model.stream(B)
    first = stream.step(x[:, 0]).copy()
    for t in range(1, 4):
        stream.step(x[:, t])
    state = stream.state
    assert any(np.any(s != 0) for s in (state if isinstance(state, tuple) else (state,)))
    stream.reset()
    check_states(errors, stream.state, zeros_like_state(state), 0.0)
    np.testing.assert_array_equal(stream.step(x[:, 0]), first)


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_set_state_then_step_equals_predict_with_h0(kind, batch, errors):
    model, _, make = build(kind)
    rng = np.random.default_rng(200 + batch)
    x = make(rng, batch, 6)
    h0 = random_state(model, batch, rng)
    stream = model.stream(batch)
    stream.step(x[:, 0])  # some history that the assignment must replace
    stream.state = h0
    check_states(errors, stream.state, h0, 0.0)
    for t in range(6):
        y = stream.step(x[:, t])
        ref_y, ref_h = model.predict(x[:, :t + 1], h0=h0, return_state=True)
        errors.check("stream step vs predict", y, last_output(ref_y), STREAM_TOL)
        check_states(errors, stream.state, ref_h)


def test_set_state_matches_torch_h0(errors):
    torch.manual_seed(3)
    gru = nn.GRU(4, 8, num_layers=2, batch_first=True).eval()
    model = gru_infer.from_torch(gru)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4), dtype=np.float32)
    h0 = rng.standard_normal((2, 2, 8)).astype(np.float32)
    with torch.no_grad():
        ref, ref_h = gru(torch.from_numpy(x), torch.from_numpy(h0))
    stream = model.stream(2)
    stream.state = h0
    for t in range(5):
        errors.check("stream step vs torch", stream.step(x[:, t]), ref[:, t].numpy(), TORCH_TOL)
    errors.check("stream step vs torch", stream.state, ref_h.numpy(), TORCH_TOL)


@pytest.mark.parametrize("kind", ["seq_head", "embedding_seq", "last_step"])
def test_step_into_out_buffer(kind):
    model, _, make = build(kind)
    x = make(np.random.default_rng(9), 4, 3)
    a, b = model.stream(4), model.stream(4)
    buf = np.full((4, model.output_size), np.nan, dtype=np.float32)
    for t in range(3):
        ret = b.step(x[:, t], out=buf)
        assert ret is buf
        np.testing.assert_array_equal(buf, a.step(x[:, t]))


@pytest.mark.parametrize("kind", ["seq_head", "embedding_seq", "embedding_last_state", "gru_cell"])
def test_single_row_input_for_batch_one(kind):
    model, _, make = build(kind)
    x = make(np.random.default_rng(10), 1, 4)
    a, b, c = model.stream(1), model.stream(1), model.stream()
    O = model.output_size
    for t in range(4):
        row = x[0, t]  # (F,) floats, or a scalar id
        assert np.ndim(row) == (0 if model.takes_ids else 1)
        y1 = a.step(row)
        assert y1.shape == (O,)
        y2 = b.step(x[:, t])
        assert y2.shape == (1, O)
        np.testing.assert_array_equal(y1, y2[0])
        buf = np.empty(O, np.float32)
        assert c.step(row, out=buf) is buf
        np.testing.assert_array_equal(buf, y1)


def test_stream_batch_rows_are_independent(errors):
    """Row b of a batch-4 stream equals a batch-1 stream fed row b alone."""
    model, _, make = build("seq_head")
    x = make(np.random.default_rng(11), 4, 5)
    s4 = model.stream(4)
    singles = [model.stream(1) for _ in range(4)]
    for t in range(5):
        y4 = s4.step(x[:, t])
        for b, s in enumerate(singles):
            errors.check("stream step vs predict", y4[b], s.step(x[b, t]), STREAM_TOL)


def test_bidirectional_stream_raises():
    torch.manual_seed(0)
    model = gru_infer.from_torch(nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    with pytest.raises(ValueError, match="bidirectional"):
        model.stream()
    with pytest.raises(ValueError, match="bidirectional"):
        model.stream(4)


def test_reverse_stream_raises():
    rng = np.random.default_rng(0)
    d = L.GRUDirection(*(rng.standard_normal(s).astype(np.float32) for s in [(9, 2), (9, 3), (9,), (9,)]))
    model = gru_infer.Model.from_layers([L.GRU(2, 3, [d], direction="reverse")])
    with pytest.raises(ValueError, match="reverse"):
        model.stream()
