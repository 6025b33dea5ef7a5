"""Keras importer (gru_infer.importers.keras) against real Keras 3 (torch backend) and stored tf.keras 2 output.

Every reference is Keras' own `predict` (or tf.keras' output stored by tools/make_tf_keras_fixture.py).
Weights are randomised (Keras initialises biases to zero, which would hide bias mistakes).
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import check_roundtrip  # noqa: E402

import gru_infer  # noqa: E402
from gru_infer.importers.keras._reader import layers_from_keras  # noqa: E402

L = keras.layers
TOL = 1e-5
DATA = os.path.join(os.path.dirname(__file__), "data", "keras")
T, I, B = 6, 3, 3


# ---- helpers -------------------------------------------------------------------------------

def randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(w.dtype) for w in model.get_weights()])


def save_formats(model, tmp_path, formats=("keras", "h5")):
    """Save `model` in the requested formats; returns {format: path}."""
    paths = {}
    for fmt in formats:
        if fmt == "keras":
            paths[fmt] = str(tmp_path / "m.keras")
            model.save(paths[fmt])
        elif fmt == "h5":
            paths[fmt] = str(tmp_path / "m.h5")
            model.save(paths[fmt])
        elif fmt == "weights":
            paths[fmt] = str(tmp_path / "m.weights.h5")
            model.save_weights(paths[fmt])
    return paths


def load(path):
    layers, info = layers_from_keras(path)
    assert info["source"] == "keras"
    return gru_infer.Model.from_layers(layers, source=info["source"]), info



def check_formats(keras_model, x, tmp_path, errors, category, formats=("keras", "h5"), ref=None, roundtrip=True):
    """Save in each format, import, and compare with keras_model.predict(x) (or `ref`)."""
    ref = keras_model.predict(x, verbose=0) if ref is None else ref
    infos = {}
    for fmt, path in save_formats(keras_model, tmp_path, formats).items():
        model, info = load(path)
        errors.check(f"keras {category} [{fmt}]", model.predict(x), ref, TOL)
        if roundtrip:
            check_roundtrip(model, x, tmp_path)
        infos[fmt] = info
    return infos


def inputs(rng, batch=B, steps=T, features=I):
    return rng.normal(0.0, 1.0, (batch, steps, features)).astype(np.float32)


# ---- GRU options, randomised ---------------------------------------------------------------

ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "softsign", "elu", "softplus", "hard_sigmoid", "leaky_relu"]
GATES = ["sigmoid", "hard_sigmoid", "tanh", "softsign"]


@pytest.mark.parametrize("seed", range(6))
def test_random_gru_options(seed, tmp_path, errors):
    rng = np.random.default_rng(seed)

    def gru(units, return_sequences):
        return L.GRU(units, activation=str(rng.choice(ACTIVATIONS)), recurrent_activation=str(rng.choice(GATES)),
                     reset_after=bool(rng.integers(2)), use_bias=bool(rng.integers(2)),
                     go_backwards=bool(rng.integers(2)), return_sequences=return_sequences)

    model = keras.Sequential([keras.Input((T, I)), gru(4, True), gru(5, bool(rng.integers(2))),
                              L.Dense(3, activation=str(rng.choice(["linear", "softmax", "relu", "tanh"])))])
    randomize(model, rng, scale=0.8)
    check_formats(model, inputs(rng), tmp_path, errors, "random GRU options")


@pytest.mark.parametrize("reset_after", [True, False])
def test_reset_after_with_and_without_bias(reset_after, tmp_path, errors):
    rng = np.random.default_rng(10 + reset_after)
    for use_bias in (True, False):
        model = keras.Sequential([keras.Input((T, I)), L.GRU(4, reset_after=reset_after, use_bias=use_bias,
                                                             return_sequences=True)])
        randomize(model, rng)
        check_formats(model, inputs(rng), tmp_path, errors, f"reset_after={reset_after}")


# ---- go_backwards, Bidirectional, hard_sigmoid ---------------------------------------------

@pytest.mark.parametrize("return_sequences", [True, False])
def test_go_backwards(return_sequences, tmp_path, errors):
    rng = np.random.default_rng(20 + return_sequences)
    model = keras.Sequential([keras.Input((T, I)), L.GRU(4, go_backwards=True, return_sequences=return_sequences)])
    randomize(model, rng)
    check_formats(model, inputs(rng), tmp_path, errors, "go_backwards")


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional(merge_mode, return_sequences, tmp_path, errors):
    rng = np.random.default_rng(200 + 2 * ["concat", "sum", "mul", "ave"].index(merge_mode) + return_sequences)
    model = keras.Sequential([
        keras.Input((T, I)),
        L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=False), merge_mode="concat"),
        L.Bidirectional(L.GRU(3, return_sequences=return_sequences), merge_mode=merge_mode),
        L.Dense(2)])
    randomize(model, rng)
    check_formats(model, inputs(rng), tmp_path, errors, f"bidirectional {merge_mode}")


def test_hard_sigmoid_follows_keras3(tmp_path, errors):
    """Keras 3's hard_sigmoid is clip(x/6 + 0.5); Keras 2's clip(0.2x + 0.5) must give a different answer."""
    rng = np.random.default_rng(30)
    model = keras.Sequential([keras.Input((T, I)), L.GRU(4, recurrent_activation="hard_sigmoid",
                                                         activation="hard_sigmoid", return_sequences=True)])
    randomize(model, rng, scale=1.5)  # large pre-activations: the clamps are reached
    x = inputs(rng) * 2
    infos = check_formats(model, x, tmp_path, errors, "hard_sigmoid (Keras 3)")
    assert infos["keras"]["keras_version"] == keras.__version__
    layers, _ = layers_from_keras(tmp_path / "m.keras")
    assert (layers[0].gate_activation.alpha, layers[0].gate_activation.beta) == (pytest.approx(1 / 6), 0.5)
    layers[0].gate_activation.alpha = layers[0].candidate_activation.alpha = 0.2
    keras2_definition = gru_infer.Model.from_layers(layers).predict(x)
    assert np.abs(keras2_definition - model.predict(x, verbose=0)).max() > 1e-2


# ---- other layers ----------------------------------------------------------------------------

def test_embedding_gru_softmax_classifier(tmp_path, errors):
    rng = np.random.default_rng(40)
    ids = keras.Input((T,), dtype="int32")
    h = L.Embedding(11, 5)(ids)
    h = L.GRU(6)(h)
    out = L.Dense(4, activation="softmax")(h)
    model = keras.Model(ids, out)
    randomize(model, rng)
    x = rng.integers(0, 11, (B, T)).astype(np.int32)
    check_formats(model, x, tmp_path, errors, "embedding classifier")


def test_time_distributed_dropout_activation(tmp_path, errors):
    rng = np.random.default_rng(50)
    model = keras.Sequential([
        keras.Input((T, I)), L.GRU(5, return_sequences=True), L.Dropout(0.5), L.SpatialDropout1D(0.3),
        L.TimeDistributed(L.Dense(4, activation="relu")), L.Activation("tanh"), L.Dense(2, activation="softsign")])
    randomize(model, rng)
    check_formats(model, inputs(rng), tmp_path, errors, "TimeDistributed/Dropout/Activation")


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_weight_dtypes(dtype, tmp_path, errors):
    """Weights stored as float64/float16/bfloat16 load as float32. The reference is Keras running the same
    weights in float32 (Keras' own float16/bfloat16 arithmetic is itself approximate)."""
    rng = np.random.default_rng(60)

    def build(dt):
        # recurrent_initializer: torch has no float16 QR on CPU for the default Orthogonal (weights are set anyway)
        return keras.Sequential([
            keras.Input((T, I)), L.GRU(4, return_sequences=True, dtype=dt, recurrent_initializer="zeros"),
            L.Bidirectional(L.GRU(3, dtype=dt, recurrent_initializer="zeros"), dtype=dt), L.Dense(2, dtype=dt)])

    model = build(dtype)
    randomize(model, rng)
    twin = build("float32")
    twin.set_weights([np.asarray(w, dtype=np.float32) for w in model.get_weights()])
    x = inputs(rng)
    check_formats(model, x, tmp_path, errors, f"{dtype} weights", formats=("keras", "h5", "weights"),
                  ref=twin.predict(x, verbose=0))
    with zipfile.ZipFile(tmp_path / "m.keras") as z, z.open("model.weights.h5") as f:
        stored = h5py.File(f, "r")["layers/gru/cell/vars/0"]
        assert stored.attrs.get("dtype", stored.dtype.name) == dtype  # the file really holds that dtype


# ---- return_state, initial_state, stateful -----------------------------------------------------

def test_return_state_output_used(tmp_path, errors):
    rng = np.random.default_rng(70)
    x_in = keras.Input((T, I))
    seq, state = L.GRU(4, return_sequences=True, return_state=True, go_backwards=True)(x_in)
    model = keras.Model(x_in, L.Dense(2)(state))
    randomize(model, rng)
    infos = check_formats(model, inputs(rng), tmp_path, errors, "return_state")
    assert infos["keras"]["return_state_layers"] == [model.layers[1].name]
    # the state itself as the model output
    x_in = keras.Input((T, I))
    _, state = L.GRU(4, return_sequences=True, return_state=True)(x_in)
    model = keras.Model(x_in, state)
    randomize(model, rng)
    check_formats(model, inputs(rng), tmp_path, errors, "return_state")


def test_initial_state_maps_to_h0(tmp_path, errors):
    rng = np.random.default_rng(80)
    x_in, h_in = keras.Input((T, I)), keras.Input((4,))
    out = L.GRU(4, return_sequences=True)(x_in, initial_state=[h_in])
    model = keras.Model([x_in, h_in], L.Dense(2)(out))
    randomize(model, rng)
    x, h = inputs(rng), rng.normal(0, 1, (B, 4)).astype(np.float32)
    ref = model.predict([x, h], verbose=0)
    for fmt, path in save_formats(model, tmp_path).items():
        ours, info = load(path)
        x_name, h_name = (t._keras_history.operation.name for t in (x_in, h_in))
        assert info["initial_state_inputs"] == {model.layers[2].name: [h_name]}
        assert info["inputs"] == [x_name, h_name]
        errors.check(f"keras initial_state [{fmt}]", ours.predict(x, h0=h[None]), ref, TOL)
        check_roundtrip(ours, x, tmp_path, h0=h[None])
    # Bidirectional: initial_state=[h_forward, h_backward] is h0 (2, B, H)
    x_in, hf, hb = keras.Input((T, I)), keras.Input((3,)), keras.Input((3,))
    out = L.Bidirectional(L.GRU(3), merge_mode="sum")(x_in, initial_state=[hf, hb])
    model = keras.Model([x_in, hf, hb], out)
    randomize(model, rng)
    h2 = rng.normal(0, 1, (2, B, 3)).astype(np.float32)
    ref = model.predict([x, h2[0], h2[1]], verbose=0)
    ours, _ = load(save_formats(model, tmp_path, ("keras",))["keras"])
    errors.check("keras initial_state bidirectional [keras]", ours.predict(x, h0=h2), ref, TOL)


def test_stateful_carries_state_like_a_stream(tmp_path, errors):
    rng = np.random.default_rng(90)
    model = keras.Sequential([keras.Input((T, I), batch_size=2), L.GRU(4, stateful=True, return_sequences=True),
                              L.Dense(2)])
    randomize(model, rng)
    x1, x2 = inputs(rng, batch=2), inputs(rng, batch=2)
    ref1, ref2 = model.predict(x1, verbose=0), model.predict(x2, verbose=0)  # state carried from x1 to x2
    for fmt, path in save_formats(model, tmp_path).items():
        ours, info = load(path)
        assert info["stateful"] is True
        y1, state = ours.predict(x1, return_state=True)
        errors.check(f"keras stateful [{fmt}]", y1, ref1, TOL)
        errors.check(f"keras stateful [{fmt}]", ours.predict(x2, h0=state), ref2, TOL)


# ---- weights-only files ------------------------------------------------------------------------

@pytest.mark.parametrize("reset_after", [True, False])
def test_weights_only_with_keras_defaults(reset_after, tmp_path, errors):
    rng = np.random.default_rng(100 + reset_after)
    model = keras.Sequential([keras.Input((T, I)), L.GRU(4, return_sequences=True, reset_after=reset_after),
                              L.GRU(5, reset_after=reset_after), L.Dropout(0.2), L.Dense(2)])
    randomize(model, rng)
    infos = check_formats(model, inputs(rng), tmp_path, errors, "weights-only", formats=("weights",))
    assumed = " | ".join(infos["weights"]["assumed"])
    assert "recurrent_activation sigmoid" in assumed and "return_sequences False" in assumed
    # Bidirectional (concat) -> TimeDistributed(Dense), and an Embedding first
    ids = keras.Input((T,), dtype="int32")
    h = L.Embedding(9, 3)(ids)
    h = L.Bidirectional(L.GRU(3, return_sequences=True, reset_after=reset_after))(h)
    model = keras.Model(ids, L.TimeDistributed(L.Dense(2))(h))
    randomize(model, rng)
    check_formats(model, rng.integers(0, 9, (B, T)), tmp_path, errors, "weights-only", formats=("weights",))


def test_weights_only_refuses_unknown_activation(tmp_path):
    model = keras.Sequential([keras.Input((T, I)), L.GRU(4), L.Activation("relu")])
    path = save_formats(model, tmp_path, ("weights",))["weights"]
    with pytest.raises(ValueError, match="no tensors.*weights-only"):
        layers_from_keras(path)


# ---- refusals --------------------------------------------------------------------------------

def _refusal(tmp_path, model, match):
    for path in save_formats(model, tmp_path).values():
        with pytest.raises(ValueError, match=match):
            layers_from_keras(path)


def test_refuses_masking(tmp_path):
    _refusal(tmp_path, keras.Sequential([keras.Input((T, I)), L.Masking(), L.GRU(4)]), "masking is not supported")
    ids = keras.Input((T,), dtype="int32")
    model = keras.Model(ids, L.GRU(4)(L.Embedding(5, 3, mask_zero=True)(ids)))
    _refusal(tmp_path, model, "masking is not supported")


def test_refuses_merge_mode_none(tmp_path):
    x_in = keras.Input((T, I))
    fwd, bwd = L.Bidirectional(L.GRU(4), merge_mode=None)(x_in)
    _refusal(tmp_path, keras.Model(x_in, fwd), "merge_mode=None")


def test_refuses_other_layers_and_graphs(tmp_path):
    _refusal(tmp_path, keras.Sequential([keras.Input((T, I)), L.LSTM(4)]), "'LSTM' is not supported")
    x_in = keras.Input((T, I))
    a = L.GRU(4, return_sequences=True)(x_in)
    _refusal(tmp_path, keras.Model(x_in, L.Concatenate()([a, x_in])), "tensor inputs")
    _refusal(tmp_path, keras.Sequential([keras.Input((T, I)), L.GRU(4, activation="selu")]), "'selu'")


# ---- corrupt files -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    model = keras.Sequential([keras.Input((T, I)), L.GRU(4), L.Dense(2)])
    return save_formats(model, d, ("keras", "h5", "weights"))


def test_corrupt_keras_zip(saved_small, tmp_path):
    data = open(saved_small["keras"], "rb").read()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="not a readable .keras zip"):
        layers_from_keras(cut)
    bad = tmp_path / "badjson.keras"
    with zipfile.ZipFile(saved_small["keras"]) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"{not json" if name == "config.json" else src.read(name))
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        layers_from_keras(bad)
    other = tmp_path / "x.bin"
    other.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not a Keras file"):
        layers_from_keras(other)


def _recurrent_kernel_path(path):
    with h5py.File(path, "r") as f:
        if "layers" in f:
            return "layers/gru/cell/vars/1"
        layer = f["model_weights"].attrs["layer_names"][0]
        name = f["model_weights"][layer].attrs["weight_names"][1]
        return f"model_weights/{layer}/{name}"


def test_corrupt_h5(saved_small, tmp_path):
    for fmt in ("h5", "weights"):
        dataset = _recurrent_kernel_path(saved_small[fmt])
        missing = tmp_path / f"missing_{fmt}.h5"
        shutil.copy(saved_small[fmt], missing)
        with h5py.File(missing, "a") as f:
            del f[dataset]
        with pytest.raises(ValueError, match="missing"):
            layers_from_keras(missing)
        wrong = tmp_path / f"wrong_{fmt}.h5"
        shutil.copy(saved_small[fmt], wrong)
        with h5py.File(wrong, "a") as f:
            del f[dataset]
            f[dataset] = np.zeros((4, 9), np.float32)
        with pytest.raises(ValueError, match=r"shape \(4, 9\)"):
            layers_from_keras(wrong)
    data = open(saved_small["h5"], "rb").read()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="HDF5|truncated|cannot read"):
        layers_from_keras(cut)


def _mutations(obj, path=()):
    """(path, replacement) pairs: every dict entry and list item removed or replaced by a wrong type."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in items:
        for bad in ("<removed>", None, "x", -1, [], {}):
            yield path + (key,), bad
        yield from _mutations(value, path + (key,))


def _mutated(obj, path, bad):
    out = copy.deepcopy(obj)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if bad == "<removed>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = bad
    return out


def test_mutated_configs_raise_value_error_only(tmp_path):
    """Every single-field corruption of config.json gives a ValueError or a model, never another exception."""
    rng = np.random.default_rng(110)
    x_in = keras.Input((T, I))
    h = L.Bidirectional(L.GRU(3, return_sequences=True))(x_in)
    model = keras.Model(x_in, L.Dense(2)(L.GRU(4)(h)))
    src = save_formats(model, tmp_path, ("keras",))["keras"]
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    cases = list(_mutations(config))
    picked = [cases[i] for i in rng.choice(len(cases), size=min(100, len(cases)), replace=False)]
    outcomes = {"error": 0, "ok": 0}
    for path, bad in picked:
        members["config.json"] = json.dumps(_mutated(config, path, bad)).encode()
        target = tmp_path / "mutated.keras"
        with zipfile.ZipFile(target, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
        try:
            layers_from_keras(target)
            outcomes["ok"] += 1
        except ValueError:
            outcomes["error"] += 1
    assert outcomes["error"] > 10  # most corruptions are detected


# ---- tf.keras 2.x files (fixtures from tools/make_tf_keras_fixture.py) --------------------------

@pytest.fixture(scope="module")
def tf_io():
    return np.load(os.path.join(DATA, "tf_keras2_gru_io.npz"))


def test_tf_keras2_model_h5(tf_io, tmp_path, errors):
    model, info = load(os.path.join(DATA, "tf_keras2_gru.h5"))
    assert info["format"] == "h5_model" and info["keras_version"].startswith("2.")
    gru2 = model.layers[1]
    assert not gru2.linear_before_reset and gru2.gate_activation.alpha == pytest.approx(0.2)
    errors.check("keras tf.keras 2 .h5 model", model.predict(tf_io["x"]), tf_io["y"], TOL)
    check_roundtrip(model, tf_io["x"], tmp_path)


def test_tf_keras2_weights_h5(tf_io, tmp_path, errors):
    """save_weights carries no config: Keras defaults (sigmoid recurrent activation) are assumed, and the
    reference is tf.keras running the same weights with those defaults."""
    model, info = load(os.path.join(DATA, "tf_keras2_gru_weights.h5"))
    assert info["format"] == "h5_weights" and info["assumed"]
    errors.check("keras tf.keras 2 save_weights .h5", model.predict(tf_io["x"]), tf_io["y_defaults"], TOL)
    check_roundtrip(model, tf_io["x"], tmp_path)


def _rename_weights(path, rename):
    """Rewrite every model_weights/<layer> dataset path with rename(layer, old_name) (older Keras layouts)."""
    with h5py.File(path, "a") as f:
        for layer in f["model_weights"].attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            g = f["model_weights"][layer]
            old = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            new = [rename(layer, n) for n in old]
            for o, n in zip(old, new):
                if o != n:
                    g.move(o, n)
            g.attrs["weight_names"] = np.array([n.encode() for n in new])


@pytest.mark.parametrize("layout", ["keras22_no_cell_scope", "numbered_cell_scope"])
def test_tf_keras2_older_weight_names(layout, tf_io, tmp_path, errors):
    """Keras <= 2.2 wrote 'gru_1/kernel:0' (no cell scope); some tf.keras wrote 'gru_1/gru_cell_1/kernel:0'."""
    path = tmp_path / "renamed.h5"
    shutil.copy(os.path.join(DATA, "tf_keras2_gru.h5"), path)
    if layout == "keras22_no_cell_scope":
        _rename_weights(path, lambda layer, n: n.replace("/gru_cell/", "/"))
    else:
        _rename_weights(path, lambda layer, n: n.replace("gru_cell", "gru_cell_1") if layer == "gru_1" else n)
    with h5py.File(path, "r") as f:
        assert "gru_1/kernel:0" in f["model_weights/gru_1"] or "gru_1/gru_cell_1/kernel:0" in f["model_weights/gru_1"]
    model, _ = load(path)
    errors.check(f"keras tf.keras 2 .h5 ({layout})", model.predict(tf_io["x"]), tf_io["y"], TOL)


@pytest.mark.parametrize("version, ref_key", [("2.2.4", "y"), ("2.15.0", "y_defaults")])
def test_keras2_defaults_for_missing_config_keys(version, ref_key, tf_io, tmp_path, errors):
    """An old config without reset_after means False; without recurrent_activation it means hard_sigmoid
    before Keras 2.3 and sigmoid after (the second GRU is reset_after=False, hard_sigmoid in the fixture)."""
    path = tmp_path / "old.h5"
    shutil.copy(os.path.join(DATA, "tf_keras2_gru.h5"), path)
    with h5py.File(path, "a") as f:
        config = json.loads(f.attrs["model_config"])
        gru2 = [c for c in config["config"]["layers"] if c["class_name"] == "GRU"][1]["config"]
        del gru2["reset_after"], gru2["recurrent_activation"]
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = version
    model, _ = load(path)
    errors.check(f"keras missing config keys (Keras {version})", model.predict(tf_io["x"]), tf_io[ref_key], TOL)


def test_import_does_not_load_frameworks():
    code = ("import sys, gru_infer, gru_infer.importers.keras._reader; "
            "bad = [m for m in ('h5py', 'keras', 'tensorflow', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
