"""Keras weights saved apart from the architecture: `gru_infer.load(weights, config=...)`, with the
config from model.to_json() (and as YAML, the form Keras 2's to_yaml() wrote, with its
!!python/tuple tags), the weights from Keras 3 save_weights or in the Keras 2 save_weights layout
(layer groups at the root, weight_names attributes), against Keras' own output."""
import json
import os

import numpy as np
import pytest
from helpers import check_roundtrip

import gru_infer

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def keras_module():
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    return keras


def _models(keras):
    K = keras.layers
    seq = keras.Sequential([keras.Input((7, 3)), K.Bidirectional(K.GRU(5)), K.Dense(4), K.Activation("softmax")],
                           name="seq")
    inp = keras.Input((None, 3))
    h = K.GRU(6, return_sequences=True, reset_after=False, recurrent_activation="hard_sigmoid")(inp)
    h = K.BatchNormalization()(h)
    out = K.TimeDistributed(K.Dense(2, activation="tanh"))(K.GRU(4, return_sequences=True)(h))
    func = keras.Model(inp, out, name="func")
    return {"sequential_bigru_softmax": seq, "functional_two_grus_bn": func}


def _yaml_with_tuples(config: dict) -> str:
    """The config as YAML, with shapes tagged !!python/tuple as Keras 2's to_yaml() wrote them."""
    yaml = pytest.importorskip("yaml")

    class Dumper(yaml.SafeDumper):
        pass

    class Shape(list):
        pass

    Dumper.add_representer(Shape, lambda d, v: d.represent_sequence("tag:yaml.org,2002:python/tuple", v))

    def tag(obj):
        if isinstance(obj, dict):
            return {k: Shape(v) if k in ("batch_input_shape", "batch_shape") and isinstance(v, list) else tag(v)
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [tag(v) for v in obj]
        return obj

    return yaml.dump(tag(config), Dumper=Dumper)


def _legacy_weights_file(model, path):
    """Keras 2 save_weights layout: root attrs layer_names / keras_version, one group per layer with
    weight_names, datasets at <layer>/<weight name>."""
    import h5py
    with h5py.File(path, "w") as f:
        names = [layer.name for layer in model.layers]
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["keras_version"] = b"2.3.1"
        f.attrs["backend"] = b"tensorflow"
        for layer in model.layers:
            g = f.create_group(layer.name)
            wnames = [f"{layer.name}/{v.path.split('/', 1)[-1]}:0".encode() for v in layer.weights]
            g.attrs["weight_names"] = np.array(wnames)
            for wn, v in zip(wnames, layer.weights):
                g.create_dataset(wn.decode(), data=np.asarray(v.numpy()))


@pytest.mark.parametrize("config_form", ["json", "yaml"])
@pytest.mark.parametrize("name", ["sequential_bigru_softmax", "functional_two_grus_bn"])
def test_weights_with_separate_config(name, config_form, tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(11)
    model = _models(keras)[name]
    rng = np.random.default_rng(0)
    model.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype(np.float32) if w.ndim else w
                       for w in model.get_weights()])
    for layer in model.layers:  # trained-looking batch statistics
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    weights = tmp_path / "m.weights.h5"
    model.save_weights(weights)
    config = json.loads(model.to_json())
    cfg_path = tmp_path / f"m.{config_form}"
    cfg_path.write_text(json.dumps(config) if config_form == "json" else _yaml_with_tuples(config))
    m = gru_infer.load(weights, config=cfg_path)
    x = rng.standard_normal((3, 7, 3)).astype(np.float32)
    ref = model.predict(x, verbose=0)
    errors.check(f"Keras save_weights + {config_form} config", m.predict(x), ref, TOL)
    check_roundtrip(m, x, tmp_path)


def test_keras2_layout_weights_with_yaml(tmp_path, errors):
    """The Keras 2 layout (as in ../shared/real_models' protein BiGRU) from a model built here; tf.keras
    2 wrote hard_sigmoid as 0.2x + 0.5, so the model here uses sigmoid gates to compare with Keras 3."""
    keras = keras_module()
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((9, 2)), keras.layers.GRU(5, reset_after=False, return_sequences=True),
                              keras.layers.GRU(3), keras.layers.Dense(2)])
    path = tmp_path / "weights.h5"
    _legacy_weights_file(model, path)
    cfg = tmp_path / "model.yaml"
    cfg.write_text(_yaml_with_tuples(json.loads(model.to_json())))
    m = gru_infer.load(path, config=cfg)
    x = np.random.default_rng(1).standard_normal((2, 9, 2)).astype(np.float32)
    errors.check("Keras 2 save_weights layout + yaml config", m.predict(x), model.predict(x, verbose=0), TOL)


def test_config_errors(tmp_path):
    keras = keras_module()
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.GRU(3)])
    weights = tmp_path / "m.weights.h5"
    model.save_weights(weights)
    other = keras.Sequential([keras.Input((4, 2)), keras.layers.GRU(5)])
    cfg = tmp_path / "other.json"
    cfg.write_text(other.to_json())
    with pytest.raises(ValueError, match="do not belong|shape"):
        gru_infer.load(weights, config=cfg)  # weights of GRU(3) with the config of GRU(5)
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: [a, list\n")
    with pytest.raises(ValueError, match="YAML"):
        gru_infer.load(weights, config=bad)
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ValueError):
        gru_infer.load(weights, config=evil)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="config= is for weights-only files"):
        gru_infer.load(tmp_path / "m.keras", config=cfg)
    np.savez(tmp_path / "w.npz", a=np.zeros((3, 9)))
    with pytest.raises(ValueError, match="config= is for Keras weights files"):
        gru_infer.load(tmp_path / "w.npz", config=cfg)
