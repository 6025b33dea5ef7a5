"""Stream.run, the block call: run of T steps returns what T calls of step return (and leaves the
same state), chained blocks of any lengths return what predict returns on the whole signal, and
run/step calls mix freely. Models: those of test_stream.py (GRU layers with heads, last-step and
id models, a GRUCell, a Cho-form model on the generic path) plus two with enough input features
that a block's input projection is a separate GEMM, in both GRU forms. Every available ISA.
"""
import numpy as np
import pytest
import torch
from test_stream import KINDS, STREAM_TOL, build, check_states, random_state
from torch import nn

import gru_infer
from gru_infer import layers as L

TOL = 1e-6


class WideHead(nn.Module):
    """40 input features (above the fused-input limit): a block's projection is one GEMM."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(40, 33, num_layers=2, batch_first=True)
        self.fc = nn.Linear(33, 5)

    def forward(self, x):
        return self.fc(self.gru(x)[0])


def build_any(kind):
    if kind == "wide_lbr":
        torch.manual_seed(5)
        m = WideHead().eval()
        return gru_infer.from_torch(m), m, lambda r, B, T: r.standard_normal((B, T, 40), dtype=np.float32)
    if kind == "wide_cho":  # Cho form on the packed kernels (sigmoid / tanh)
        rng = np.random.default_rng(6)
        F, H = 20, 12
        w = lambda *s: (0.4 * rng.standard_normal(s)).astype(np.float32)  # noqa: E731
        gru = L.GRU(F, H, [L.GRUDirection(w(3 * H, F), w(3 * H, H), w(3 * H), w(3 * H))], linear_before_reset=False)
        model = gru_infer.Model.from_layers([gru, L.Dense(w(3, H), w(3))])
        return model, None, lambda r, B, T: r.standard_normal((B, T, F), dtype=np.float32)
    return build(kind)


ALL_KINDS = KINDS + ["wide_lbr", "wide_cho"]


def steps_of(stream, x):
    return np.stack([stream.step(x[:, t]) for t in range(x.shape[1])], axis=1)


@pytest.mark.parametrize("isa", gru_infer.available_isas())
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_run_equals_step_calls(kind, batch, isa, restore_isa, errors):
    gru_infer.set_isa(isa)
    model, _, make = build_any(kind)
    rng = np.random.default_rng(300 + batch)
    x = make(rng, batch, 23)
    h0 = random_state(model, batch, rng)
    a, b = model.stream(batch, max_block=8), model.stream(batch)
    a.state = h0
    b.state = h0
    for t0, t1 in [(0, 5), (5, 21), (21, 23)]:  # shorter than, longer than and equal to... max_block
        y = a.run(x[:, t0:t1])
        assert y.shape == (batch, t1 - t0, model.output_size) and y.dtype == np.float32
        errors.check("stream run vs step calls", y, steps_of(b, x[:, t0:t1]), TOL)
        check_states(errors, a.state, b.state, TOL)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_chained_blocks_equal_predict(kind, batch, errors):
    model, module, make = build_any(kind)
    rng = np.random.default_rng(400 + batch)
    T = 70
    x = make(rng, batch, T)
    ref, ref_h = model.predict(x, return_state=True)
    stream = model.stream(batch, max_block=16)
    ys, t = [], 0
    for n in [1, 16, 17, 3, 33]:  # pieces within, at and over max_block
        ys.append(stream.run(x[:, t:t + n]))
        t += n
    y = np.concatenate(ys, axis=1)
    assert t == T
    if ref.ndim == 3:
        errors.check("stream run vs predict", y, ref, STREAM_TOL)
    else:  # the model keeps only the last step: run gives every step's, the last is predict's
        errors.check("stream run vs predict", y[:, -1], ref, STREAM_TOL)
    check_states(errors, stream.state, ref_h)
    if module is not None and ref.ndim == 3:
        with torch.no_grad():
            errors.check("stream run vs torch", y, module(torch.from_numpy(x)).numpy(), 1e-5)


@pytest.mark.parametrize("kind", ["seq_head", "embedding_seq", "wide_lbr", "cho_from_layers"])
def test_mixed_run_and_step_equal_predict(kind, errors):
    model, _, make = build_any(kind)
    x = make(np.random.default_rng(8), 2, 30)
    ref = model.predict(x)
    stream = model.stream(2, max_block=4)
    parts = [stream.step(x[:, 0])[:, None], stream.run(x[:, 1:12]), stream.step(x[:, 12])[:, None],
             stream.step(x[:, 13])[:, None], stream.run(x[:, 14:30])]
    errors.check("stream run vs predict", np.concatenate(parts, axis=1), ref, STREAM_TOL)


def test_single_sequence_shapes_and_out_buffer(errors):
    model, _, make = build_any("seq_head")
    x = make(np.random.default_rng(12), 1, 10)
    a, b = model.stream(), model.stream()
    y = a.run(x[0])
    assert y.shape == (10, model.output_size)
    buf = np.full((10, model.output_size), np.nan, np.float32)
    assert b.run(x[0], out=buf) is buf
    np.testing.assert_array_equal(buf, y)
    ids_model, _, make_ids = build_any("embedding_seq")
    ids = make_ids(np.random.default_rng(13), 1, 6)
    s, r = ids_model.stream(), ids_model.stream()
    errors.check("stream run vs step calls", s.run(ids[0]), np.stack([r.step(i) for i in ids[0]]), TOL)
    assert model.stream().run(np.zeros((0, 5), np.float32)).shape == (0, model.output_size)


def test_float64_and_list_input_converted(errors):
    model, _, make = build_any("seq_head")
    x = make(np.random.default_rng(14), 1, 4)
    ref = model.stream().run(x[0])
    errors.check("stream run vs step calls", model.stream().run(x[0].astype(np.float64)), ref, 0.0)
    errors.check("stream run vs step calls", model.stream().run(x[0].tolist()), ref, 0.0)


def test_bad_blocks_raise_value_error():
    model, _, _ = build_any("seq_head")  # 5 features, 4 outputs
    s1, s2 = model.stream(), model.stream(2)
    with pytest.raises(ValueError, match=r"expected shape \(T, 5\) or \(1, T, 5\), got \(3, 4\)"):
        s1.run(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected shape \(2, T, 5\), got \(3, 5\)"):
        s2.run(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected shape \(2, T, 5\), got \(3, 7, 5\)"):
        s2.run(np.zeros((3, 7, 5), np.float32))
    with pytest.raises(ValueError, match=r"out: expected a writable C-contiguous float32 array of shape \(7, 4\)"):
        s1.run(np.zeros((7, 5), np.float32), out=np.zeros((7, 4), np.float64))
    with pytest.raises(ValueError, match=r"out: .* shape \(7, 4\)"):
        s1.run(np.zeros((7, 5), np.float32), out=np.zeros((4, 7), np.float32).T)
    with pytest.raises(ValueError, match="numeric"):
        s1.run(np.array([["a"] * 5]))
    ids_model, _, _ = build_any("embedding_seq")  # 30 ids
    s = ids_model.stream()
    with pytest.raises(ValueError, match="outside"):
        s.run(np.array([1, 2, 30]))
    with pytest.raises(ValueError, match="integer"):
        s.run(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="max_block"):
        model.stream(1, max_block=0)


def test_bad_id_leaves_state_unchanged():
    model, _, make = build_any("embedding_seq")
    s = model.stream()
    s.run(make(np.random.default_rng(15), 1, 5)[0])
    before = s.state.copy()
    with pytest.raises(ValueError):
        s.run(np.array([3, 4, -1, 5]))
    np.testing.assert_array_equal(s.state, before)


def test_max_block_default_and_given():
    model, _, _ = build_any("seq_head")
    assert model.stream().max_block == 64
    assert model.stream(128).max_block == 32
    assert model.stream(10000).max_block == 1
    assert model.stream(2, max_block=500).max_block == 500


@pytest.mark.parametrize("isa", gru_infer.available_isas())
@pytest.mark.parametrize("fmt", ["int8", "bf16", "fp16"])
@pytest.mark.parametrize("features,batch", [(40, 1), (40, 3), (40, 5), (40, 8), (6, 2), (6, 4)])
@pytest.mark.parametrize("hidden", [37, 70])  # 37: on the fp32 kernels for some formats and ISAs
def test_quantized_run_blocks_equal_predict_bit_for_bit(fmt, features, batch, hidden, isa, restore_isa):
    """A quantized GRU's run hoists its block's input projection (qgemm over rows x steps) as
    predict does: chained blocks give predict's values bit for bit, and step calls' too (the step
    kernels' fused input product equals qgemm's). Batches of 4+ rows take the batch kernels."""
    gru_infer.set_isa(isa)
    torch.manual_seed(features + batch)
    model = gru_infer.from_torch(nn.GRU(features, hidden, num_layers=2, batch_first=True).eval()).quantize(fmt)
    x = np.random.default_rng(batch).standard_normal((batch, 45, features), dtype=np.float32)
    ref, ref_h = model.predict(x, return_state=True)
    stream = model.stream(batch, max_block=16)
    ys, t = [], 0
    for n in [1, 16, 17, 11]:  # pieces within, at and over max_block
        ys.append(stream.run(x[:, t:t + n]))
        t += n
    np.testing.assert_array_equal(np.concatenate(ys, axis=1), ref)
    np.testing.assert_array_equal(np.asarray(stream.state)[-1], ref_h[-1])
    steps = model.stream(batch)
    key = "batches_compute_in" if batch >= 4 else "computes_in"
    if all(d[key] == fmt for d in model._core.describe(with_weights=False)):
        np.testing.assert_array_equal(steps_of(steps, x[:, :20]), ref[:, :20])
    else:  # on the fp32 kernels (small layers; fp16 / bf16 batches, docs/quantization.md): as fp32's
        np.testing.assert_allclose(steps_of(steps, x[:, :20]), ref[:, :20], rtol=0, atol=1e-6)
