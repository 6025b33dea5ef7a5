"""tf2onnx's Keras 3 GRU as a `Loop` (no GRU op): read exactly, checked against onnxruntime on the
graphs tests/tf2onnx_loop_models.py builds in the exporter's shape, with the variations a Keras GRU
has; anything else in such a loop is refused naming the Loop node and pointing to the Keras file."""
import itertools
import os

import numpy as np
import pytest
from helpers import check_roundtrip
from tf2onnx_loop_models import keras_gru_loop_model, random_keras_gru

import gru_infer

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
TOL = 1e-5


def _ort(model, x):
    return ort.InferenceSession(model.SerializeToString()).run(None, {"input": x})[0]


def _save(model, tmp_path, name="model.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


VARIANTS = list(itertools.product([True, False], [True, False], ["Tanh", "Relu", "Sigmoid"],
                                  ["Sigmoid", "HardSigmoid"], [False, True], [False, True]))


@pytest.mark.parametrize("reset_after,use_bias,act,gate,per_gate,return_sequences", VARIANTS,
                         ids=["-".join(map(str, v)) for v in VARIANTS])
def test_keras_gru_loop_matches_onnxruntime(reset_after, use_bias, act, gate, per_gate, return_sequences,
                                            tmp_path, errors):
    rng = np.random.default_rng(hash((reset_after, use_bias, act, gate, per_gate, return_sequences)) % 2 ** 32)
    layer = random_keras_gru(rng, 3, 7, reset_after=reset_after, use_bias=use_bias, activation=act,
                             recurrent_activation=gate, per_gate_matmuls=per_gate, return_sequences=return_sequences)
    model = keras_gru_loop_model([layer], T=11)
    x = rng.uniform(-1, 1, (4, 11, 3)).astype(np.float32)
    m = gru_infer.load(_save(model, tmp_path))
    errors.check("tf2onnx Keras GRU loop vs onnxruntime", m.predict(x), _ort(model, x), TOL)


def test_stacked_loops_with_batchnorm_and_dense(tmp_path, errors):
    rng = np.random.default_rng(5)
    layers = [random_keras_gru(rng, 2, 8, return_sequences=True),
              random_keras_gru(rng, 8, 5, reset_after=False, return_sequences=True),
              random_keras_gru(rng, 5, 6)]
    model = keras_gru_loop_model(layers, T=17, batch_norm=(rng.uniform(0.5, 2, 6), rng.uniform(-1, 1, 6)),
                                 dense=(rng.standard_normal((6, 2)), rng.standard_normal(2)))
    path = _save(model, tmp_path)
    m = gru_infer.load(path)
    assert [type(layer).__name__ for layer in m.layers] == ["GRU", "GRU", "GRU", "LastStep", "Dense"]  # BN folded
    x = rng.uniform(-1, 1, (3, 17, 2)).astype(np.float32)
    errors.check("tf2onnx stacked Keras GRU loops vs onnxruntime", m.predict(x), _ort(model, x), TOL)
    check_roundtrip(m, x, tmp_path)


def test_generated_loop_is_the_keras_gru(errors):
    """The builder's graph computes what Keras computes (so the cases above are Keras GRUs)."""
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    for reset_after, gate in ((True, "Sigmoid"), (False, "HardSigmoid")):
        layer = random_keras_gru(rng, 3, 5, reset_after=reset_after, recurrent_activation=gate)
        g = keras.layers.GRU(5, reset_after=reset_after,
                             recurrent_activation="sigmoid" if gate == "Sigmoid" else "hard_sigmoid")
        g.build((None, 9, 3))
        g.set_weights([layer.kernel, layer.recurrent_kernel, layer.bias])
        x = rng.uniform(-1, 1, (2, 9, 3)).astype(np.float32)
        errors.check("tf2onnx-shaped loop (onnxruntime) vs Keras GRU", _ort(keras_gru_loop_model([layer], 9), x),
                     np.asarray(g(x).detach().cpu()), TOL)


def _with_extra_body_op(model):
    """Scale the new state by 2 inside the body: no longer a GRU cell."""
    from onnx import helper, numpy_helper
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    body = next(a.g for a in loop.attribute if a.name == "body")
    node = next(n for n in body.node if n.op_type == "Identity")
    body.initializer.append(numpy_helper.from_array(np.array(2.0, np.float32), "two"))
    scaled = helper.make_node("Mul", [node.input[0], "two"], ["scaled"], name="extra")
    body.node.insert(list(body.node).index(node), scaled)
    node.input[0] = "scaled"
    return model


REFUSALS = {
    "dynamic_steps": (dict(dynamic_steps=True), "trip count is computed at run time"),
    "ends_early": (dict(threshold=10), "may end the loop before the last time step"),
    "initial_state_input": (dict(initial_state_input=True), "does not start at zero"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS) + ["extra_op_in_body"])
def test_other_loops_are_refused(name, tmp_path):
    rng = np.random.default_rng(0)
    kw, why = REFUSALS.get(name, ({}, "not z \\* h"))
    model = keras_gru_loop_model([random_keras_gru(rng, 2, 4)], T=12, **kw)
    if name == "extra_op_in_body":
        model = _with_extra_body_op(model)
        why = "per-step output is not the new state|not z"
    path = _save(model, tmp_path)
    with pytest.raises(gru_infer.UnsupportedModelError) as e:
        gru_infer.load(path)
    msg = str(e.value)
    assert "Loop node 'while_loop" in msg and str(path) in msg and ".keras" in msg and ".h5" in msg, msg
    assert __import__("re").search(why, msg), msg
