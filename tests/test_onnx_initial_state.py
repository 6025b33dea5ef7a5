"""A GRU's default initial state: an ONNX GRU whose initial_h is a non-zero constant (a learned or
fixed initial state) runs from it in predict (without h0=), streams and their resets; it survives
save / load, pickling, Model.layers / from_layers and quantize; files without one are unchanged.

Comparisons with onnxruntime use 1e-5 x max(1, |ref|) (docs/importers.md, ONNX: onnxruntime's
rational sigmoid / tanh).
"""
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import helper  # noqa: E402
from onnx_models import gru_model, gru_stack_model, gru_weights, ort_run, to_batch_first  # noqa: E402

import gru_infer  # noqa: E402
from gru_infer import layers as L  # noqa: E402
from gru_infer.importers.onnx._reader import layers_from_onnx  # noqa: E402

TOL = 1e-5
DIRECTIONS = ("forward", "reverse", "bidirectional")
CORPUS = Path(__file__).resolve().parent / "data" / "fuzz" / "corpus" / "native_memory"


def load(source):
    layers, info = layers_from_onnx(source)
    return gru_infer.Model.from_layers(layers, source=info["source"]), info


def check(errors, label, got, ref):
    scale = np.maximum(1.0, np.abs(ref))
    errors.check(label, np.asarray(got) / scale, np.asarray(ref) / scale, TOL)


def rng_for(*key):
    return np.random.default_rng([ord(c) for c in "|".join(map(str, key))])


def with_constant_node(m):
    """The same graph with initial_h from a Constant node instead of an initializer."""
    h0 = next(t for t in m.graph.initializer if t.name == "h0")
    m.graph.initializer.remove(h0)
    m.graph.node.insert(0, helper.make_node("Constant", [], ["h0"], value=h0, name="h0_const"))
    return m


@pytest.mark.parametrize("source", ["initializer", "constant_node"])
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_constant_initial_h_matches_ort(errors, direction, layout, source):
    """onnxruntime runs layout 0 only: a layout-1 graph is checked against the layout-0 one."""
    rng = rng_for("const h0", direction, layout, source)
    D, I, H, B, T = 2 if direction == "bidirectional" else 1, 3, 5, 3, 6
    w = gru_weights(rng, I, H, D)
    state = rng.uniform(-1.5, 1.5, (D, 1, H)).astype(np.float32)
    rows = np.repeat(state, B, axis=1)  # a batch of equal rows: ORT runs it at batch B
    m = gru_model(w, direction=direction, layout=layout, initial_h=rows if layout == 0 else rows.transpose(1, 0, 2))
    if source == "constant_node":
        m = with_constant_node(m)
    model, info = load(m)
    assert info["initial_h_input"] is None
    np.testing.assert_array_equal(model.layers[0].initial_state, state[:, 0])
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    Y, Y_h = ort_run(gru_model(w, direction=direction, initial_h=rows), {"X": x.transpose(1, 0, 2)})
    y, hn = model.predict(x, return_state=True)
    check(errors, "onnx constant initial_h vs ORT", y, to_batch_first(Y, "TDBH"))
    check(errors, "onnx constant initial_h vs ORT", hn, Y_h)

    # An explicit h0= replaces the default in every row: the graph with initial_h as an input.
    h0 = rng.standard_normal((D, B, H)).astype(np.float32)
    Y, _ = ort_run(gru_model(w, direction=direction, initial_h="input"), {"X": x.transpose(1, 0, 2), "h0": h0})
    check(errors, "onnx constant initial_h, h0= overrides", model.predict(x, h0=h0), to_batch_first(Y, "TDBH"))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_batch_one_constant_is_used_for_any_batch(errors, direction):
    rng = rng_for("batch one", direction)
    D, I, H, B, T = 2 if direction == "bidirectional" else 1, 2, 4, 3, 5
    m = gru_model(gru_weights(rng, I, H, D), direction=direction,
                  initial_h=rng.uniform(-2, 2, (D, 1, H)).astype(np.float32))
    model, _ = load(m)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    ref = np.concatenate([to_batch_first(ort_run(m, {"X": x[b:b + 1].transpose(1, 0, 2)})[0], "TDBH")
                          for b in range(B)])
    check(errors, "onnx batch-1 initial_h broadcast vs ORT per row", model.predict(x), ref)
    check(errors, "onnx batch-1 initial_h, one unbatched sequence", model.predict(x[1]), ref[1])


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_stacked_gru_nodes_with_constant_initial_h(errors, direction):
    rng = rng_for("stack const", direction)
    D, H, I, B, T = 2 if direction == "bidirectional" else 1, 4, 3, 2, 6
    ws = [gru_weights(rng, I, H, D), gru_weights(rng, D * H, H, D), gru_weights(rng, D * H, H, D)]
    states = [rng.uniform(-1, 1, (D, 1, H)).astype(np.float32) for _ in ws]
    states[1][:] = 0  # a zero constant between two non-zero ones: zeros, as before
    m = gru_stack_model(ws, direction=direction, initial_h=[np.repeat(s, B, axis=1) for s in states])
    model, info = load(m)
    assert [layer.initial_state is None for layer in model.layers] == [False, True, False]
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    out, h_n = ort_run(m, {"X": x.transpose(1, 0, 2)})
    y, hn = model.predict(x, return_state=True)
    check(errors, "onnx stacked constant initial_h vs ORT", y, to_batch_first(out, "TBF"))
    check(errors, "onnx stacked constant initial_h vs ORT", hn, h_n)
    zeros = np.zeros((3 * D, B, H), np.float32)  # h0= sets every layer, those with a default too
    assert not np.array_equal(model.predict(x, h0=zeros), y)
    check(errors, "onnx stacked, h0= zeros vs the layers without defaults", model.predict(x, h0=zeros),
          gru_infer.Model.from_layers([L.GRU(**{**vars(g), "initial_state": None}) for g in model.layers]).predict(x))


def test_constant_initial_h_with_different_rows_is_refused():
    rng = rng_for("refuse")
    w = gru_weights(rng, 3, 4, 2)
    bad = gru_model(w, direction="bidirectional", initial_h=rng.standard_normal((2, 3, 4)).astype(np.float32))
    with pytest.raises(ValueError, match=r"GRU node 'the_gru'.*initial_h is a constant of shape \(2, 3, 4\)"):
        layers_from_onnx(bad)
    wrong_d = gru_model(gru_weights(rng, 3, 4, 1), initial_h=np.ones((2, 1, 4), np.float32))
    with pytest.raises(ValueError, match=r"initial_h is a constant of shape \(2, 1, 4\); expected \(1, batch, 4\)"):
        layers_from_onnx(wrong_d)


def test_layer_spec_initial_state_is_validated():
    rng = rng_for("spec")
    d = [L.GRUDirection(*(rng.standard_normal(s) for s in [(6, 3), (6, 2), (6,), (6,)]))]
    with pytest.raises(ValueError, match=r"GRU initial_state: expected shape \(1, 2\), got \(2,\)"):
        gru_infer.Model.from_layers([L.GRU(3, 2, d, initial_state=np.ones(2))])
    with pytest.raises(ValueError, match="GRU initial_state: contains NaN"):
        gru_infer.Model.from_layers([L.GRU(3, 2, d, initial_state=[[np.nan, 0]])])


# ---------------------------------------------------------------------------------------------
# Streams, files, pickling, quantize

def model_with_default(rng, I=3, H=6):
    """A forward GRU with a default state (streamable), a second GRU without one, and a Dense head."""
    m = gru_stack_model([gru_weights(rng, I, H, 1), gru_weights(rng, H, H, 1)],
                        initial_h=[rng.uniform(-1, 1, (1, 1, H)).astype(np.float32), np.zeros((1, 1, H), np.float32)])
    model, _ = load(m)
    head = L.Dense(rng.standard_normal((2, H)).astype(np.float32), np.zeros(2, np.float32))
    return gru_infer.Model.from_layers(model.layers + [head], source="onnx")


def test_stream_starts_from_the_default_and_reset_returns_to_it(errors):
    rng = rng_for("stream")
    model = model_with_default(rng)
    B, T = 3, 7
    x = rng.standard_normal((B, T, 3)).astype(np.float32)
    ref = model.predict(x)
    s = model.stream(B)
    default = model.layers[0].initial_state
    state = s.state
    np.testing.assert_array_equal(state[0], np.repeat(default, B, axis=0))
    np.testing.assert_array_equal(state[1], 0)
    steps = np.stack([s.step(x[:, t]) for t in range(T)], axis=1)
    errors.check("stream with a default state vs predict", steps, ref, 1e-6)
    s.reset()
    np.testing.assert_array_equal(s.state[0], np.repeat(default, B, axis=0))
    errors.check("stream after reset() vs predict", s.run(x), ref, 1e-6)
    s.reset(slots=[1])
    np.testing.assert_array_equal(s.state[0][1], default[0])
    errors.check("stream after reset(slots) vs predict", np.stack([s.step(x[1:2, t], slots=[1])[0]
                                                                    for t in range(T)]), ref[1], 1e-6)


def test_save_load_pickle_layers_round_trip(tmp_path):
    rng = rng_for("files")
    model = model_with_default(rng)
    data = model.to_bytes()
    assert int.from_bytes(data[8:12], "little") == 4
    path = tmp_path / "m.gru"
    model.save(path)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    for back in (gru_infer.load(path), pickle.loads(pickle.dumps(model)),
                 gru_infer.Model.from_layers(model.layers, source="onnx")):
        assert back.to_bytes() == data
        np.testing.assert_array_equal(back.predict(x), model.predict(x))
        np.testing.assert_array_equal(back.layers[0].initial_state, model.layers[0].initial_state)
        assert back.layers[1].initial_state is None


@pytest.mark.parametrize("kind", ["int8", "bf16", "fp16"])
def test_quantize_keeps_the_default_state(kind):
    rng = rng_for("quant", kind)
    model = model_with_default(rng)
    q = model.quantize(kind)
    np.testing.assert_array_equal(q.layers[0].initial_state, model.layers[0].initial_state)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    h0 = np.stack([np.repeat(layer.initial_state if layer.initial_state is not None else np.zeros((1, 6)), 2, axis=0)
                   for layer in q.layers[:2]]).astype(np.float32)
    np.testing.assert_array_equal(q.predict(x), q.predict(x, h0=h0))
    assert not np.array_equal(q.predict(x), q.predict(x, h0=np.zeros_like(h0)))
    data = q.to_bytes()
    assert int.from_bytes(data[8:12], "little") == 4 and gru_infer.load(data).to_bytes() == data


def _det_gru(I, H, D=1, **kw):
    def a(*s, k=0):
        return (np.sin(np.arange(int(np.prod(s))) * 0.37 + k) * 0.3).reshape(s).astype(np.float32)
    return L.GRU(I, H, [L.GRUDirection(a(3 * H, I, k=d), a(3 * H, H, k=d + 1), a(3 * H, k=d + 2), a(3 * H, k=d + 3))
                        for d in range(D)], **kw)


def test_files_without_an_initial_state_are_unchanged():
    """Hashes of files written by the code before initial states existed (main at d10ec93)."""
    m = gru_infer.Model.from_layers([_det_gru(3, 5), _det_gru(5, 4, 2, direction="bidirectional",
                                                                linear_before_reset=False),
                                     L.Dense(np.ones((2, 8)) * 0.1, np.zeros(2))], source="old")
    assert hashlib.sha256(m.to_bytes()).hexdigest() == \
        "9d5a5b384d54a0f3a5def1f007e232286c9b0b1c168704a6cd5900d5cfdd20a3"
    assert hashlib.sha256(m.quantize("int8").to_bytes()).hexdigest() == \
        "7dd276b1642d72e0362f3f99d71194416379c9fcf6ddcf4f8cdb53c44c2e1b5b"
    for f in sorted(CORPUS.glob("*.gru")):  # seeds written by the old writer: read and written back as is
        data = f.read_bytes()
        if int.from_bytes(data[8:12], "little") in (2, 3):
            assert gru_infer.load(data).to_bytes() == data, f.name
