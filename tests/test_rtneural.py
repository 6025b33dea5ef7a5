"""RTNeural JSON models: the project's external fixtures (models and outputs produced by RTNeural's
own training scripts, in TensorFlow and PyTorch) and Keras models written in RTNeural's Keras form.

The fixtures live in ../shared/fixtures/rtneural beside the repository (see its README.md); when the
folder is missing these tests are skipped, or fail if CI is set (helpers.shared_path). Their CSV
values are written with 18 significant digits, so they do not limit the 1e-5 tolerance.
"""
import json
import os

import numpy as np
import pytest
from helpers import model_of, shared_path

import gru_infer
from gru_infer.importers.rtneural import layers_from_rtneural_json

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # keras + numpy 2


@pytest.fixture
def fixtures():
    return shared_path("fixtures", "rtneural", what="the RTNeural fixtures",
                       origin="RTNeural's example models and outputs, github.com/jatinchowdhury18/RTNeural")


@pytest.mark.parametrize("name,form,kinds", [
    ("gru", "keras", ["Dense", "ActivationLayer", "GRU", "Dense", "ActivationLayer", "Dense"]),
    ("gru_1d", "keras", ["GRU", "Dense", "ActivationLayer", "Dense"]),
    ("gru_torch", "pytorch", ["GRU", "GRU", "GRU", "GRU", "Dense"]),
])
def test_fixture_reproduces_framework_output(fixtures, tmp_path, errors, name, form, kinds):
    layers, info = layers_from_rtneural_json(fixtures / f"{name}.json")
    assert info["form"] == form and info["source"] == "rtneural"
    assert [type(layer).__name__ for layer in layers] == kinds
    x = np.loadtxt(fixtures / f"{name}_x_python.csv").astype(np.float32)[None, :, None]  # (1, T, 1)
    y = np.loadtxt(fixtures / f"{name}_y_python.csv")
    model = model_of(layers, info)
    errors.check(f"rtneural fixture: {name}.json", model.predict(x)[0, :, 0], y, TOL)
    path = tmp_path / "roundtrip.gru"
    model.save(path)
    assert np.array_equal(gru_infer.load(path).predict(x), model.predict(x))


def keras_module():
    os.environ["KERAS_BACKEND"] = "torch"  # effective only before keras' first import
    import keras
    assert keras.backend.backend() == "torch", "these tests need keras on the torch backend"
    return keras


def test_keras_form_reset_after_false_and_last_step(tmp_path, errors):
    """A GRU RTNeural's own loader cannot run (reset_after=False, bias (3H,)), returning only its last
    state, then Dense(tanh): written the way RTNeural's model_utils.save_model writes it."""
    keras = keras_module()
    keras.utils.set_random_seed(1)
    gru = keras.layers.GRU(6, reset_after=False, activation="relu")
    dense = keras.layers.Dense(3, activation="tanh")
    model = keras.Sequential([keras.Input((None, 2)), gru, dense])
    rng = np.random.default_rng(2)
    model.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    as_lists = lambda layer: [w.tolist() for w in layer.get_weights()]  # noqa: E731
    doc = {"in_shape": [None, None, 2], "layers": [
        {"type": "gru", "activation": "relu", "shape": [None, 6], "weights": as_lists(gru)},
        {"type": "dense", "activation": "tanh", "shape": [None, 3], "weights": as_lists(dense)}]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    layers, info = layers_from_rtneural_json(path)
    assert layers[0].linear_before_reset is False and layers[0].return_sequences is False
    x = rng.standard_normal((4, 7, 2)).astype(np.float32)
    errors.check("rtneural: Keras form, reset_after=False, last step", model_of(layers, info).predict(x),
                 model.predict(x, verbose=0), TOL)


def test_broken_files(tmp_path, fixtures):
    doc = json.loads((fixtures / "gru_1d.json").read_text())

    def write(name, content):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    cases = {
        "lstm": ({**doc, "layers": [dict(doc["layers"][0], type="lstm")]}, r"layer 0 \('lstm'\): layer type 'lstm' "
                                                                          r"is not supported"),
        "activation": ({**doc, "layers": doc["layers"][:1] + [dict(doc["layers"][1], activation="swish")]},
                       r"layer 1 \('dense'\): activation 'swish' is not supported"),
        "chain": ({**doc, "layers": [doc["layers"][i] for i in (0, 2, 1)]},
                  r"layer 2 \('dense'\): takes 8 inputs but the previous layer .* gives 1"),
        "in_shape": ({**doc, "in_shape": [None, None, 3]}, r"layer 0 \('gru'\): takes 1 inputs .* gives 3"),
        "bias": ({**doc, "layers": [dict(doc["layers"][0], weights=doc["layers"][0]["weights"][:2] + [[0.0] * 5])]},
                 r"bias must be \(2, 24\) .* or \(24,\)"),
        "ragged": ({"gru.weight_ih_l0": [[1.0], [2.0, 3.0]]}, "rectangular"),
        "not_json": ("{\"layers\": [", "not valid JSON"),
        "list": ([1, 2], "expected RTNeural's Keras form"),
    }
    for name, (content, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            layers_from_rtneural_json(write(f"{name}.json", content))
