"""Guitar-amp model files made here with the frameworks themselves, against the frameworks' output:

- Automated-GuitarAmpModelling's SimpleRNN (CoreAudioML networks.SimpleRNN, reproduced below with its
  forward and save_model) on time-major input, as the project trains and runs it;
- AIDA-X JSON / .aidax: RTNeural's Keras form of a Keras 3 model plus in_skip / out_gain / metadata,
  against Keras' output * gain (+ the input sample);
- RTNeural JSON's GRU `activation` field: honoured (the Keras model's candidate activation).
"""
import json
import os

import numpy as np
import pytest
import torch
from helpers import check_roundtrip
from torch import nn

import gru_infer

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


class SimpleRNN(nn.Module):
    """CoreAudioML's networks.SimpleRNN (Automated-GuitarAmpModelling), forward and save_model."""

    def __init__(self, input_size=1, output_size=1, unit_type="GRU", hidden_size=8, skip=1, bias_fl=True,
                 num_layers=1):
        super().__init__()
        self.input_size, self.output_size = input_size, output_size
        self.rec = getattr(nn, unit_type)(input_size, hidden_size, num_layers, bias=bias_fl)
        self.lin = nn.Linear(hidden_size, output_size, bias=bias_fl)
        self.bias_fl, self.skip, self.hidden = bias_fl, skip, None

    def forward(self, x):  # x: (T, B, input_size), time-major
        if self.skip:
            res = x[:, :, 0:self.skip]
            x, self.hidden = self.rec(x, self.hidden)
            return self.lin(x) + res
        x, self.hidden = self.rec(x, self.hidden)
        return self.lin(x)

    def save_model(self, path):
        model_data = {"model_data": {"model": "SimpleRNN", "input_size": self.rec.input_size, "skip": self.skip,
                                     "output_size": self.lin.out_features, "unit_type": self.rec._get_name(),
                                     "num_layers": self.rec.num_layers, "hidden_size": self.rec.hidden_size,
                                     "bias_fl": self.bias_fl}}
        model_data["state_dict"] = {k: v.tolist() for k, v in self.state_dict().items()}
        with open(path, "w") as f:
            json.dump(model_data, f)


def _torch_out(module, x_bt):
    """The module on batch-first x, run time-major as the project does, returned batch-first."""
    module.hidden = None
    with torch.no_grad():
        return module(torch.from_numpy(x_bt).transpose(0, 1)).transpose(0, 1).numpy()


CASES = {  # name: SimpleRNN kwargs
    "gru8_skip": dict(hidden_size=8),
    "gru16_2layers": dict(hidden_size=16, num_layers=2),
    "gru4_no_bias": dict(hidden_size=4, bias_fl=False),
    "no_skip": dict(hidden_size=8, skip=0),
    "two_inputs_skip_first": dict(input_size=2, hidden_size=8),  # e.g. a knob value as the second input
    "two_outputs_no_skip": dict(output_size=2, skip=0, hidden_size=6),
    "stereo_skip2": dict(input_size=2, output_size=2, skip=2, hidden_size=12),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_simple_rnn_json_matches_torch(name, tmp_path, errors):
    torch.manual_seed(len(name))
    module = SimpleRNN(**CASES[name]).eval()
    path = tmp_path / "model.json"
    module.save_model(path)
    model = gru_infer.load(path)
    assert model.info["form"] == "simple_rnn"
    rng = np.random.default_rng(0)
    x = (0.5 * rng.standard_normal((3, 300, module.rec.input_size))).astype(np.float32)
    ref = _torch_out(module, x)
    errors.check("SimpleRNN JSON vs torch", model.predict(x), ref, TOL)
    stream = model.stream(batch=3)  # a pedal runs it sample by sample
    got = np.stack([stream.step(x[:, t]).copy() for t in range(x.shape[1])], axis=1)
    errors.check("SimpleRNN JSON stream vs torch", got, ref, TOL)
    check_roundtrip(model, x, tmp_path)


def _write(tmp_path, doc, name="model.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_simple_rnn_refusals(tmp_path):
    torch.manual_seed(0)
    lstm = tmp_path / "lstm.json"
    SimpleRNN(unit_type="LSTM").save_model(lstm)
    with pytest.raises(gru_infer.UnsupportedModelError, match=r"lstm\.json.*'rec' is a 'LSTM'"):
        gru_infer.load(lstm)
    broadcast = tmp_path / "broadcast.json"
    SimpleRNN(output_size=2, skip=1).save_model(broadcast)
    with pytest.raises(gru_infer.UnsupportedModelError, match="skip=1 with output_size=2"):
        gru_infer.load(broadcast)
    doc = json.loads(lstm.read_text())
    doc["model_data"]["unit_type"] = "GRU"
    del doc["state_dict"]
    with pytest.raises(ValueError, match="holds no weights"):
        gru_infer.load(_write(tmp_path, doc, "nostate.json"))
    SimpleRNN(hidden_size=8).save_model(tmp_path / "ok.json")
    doc = json.loads((tmp_path / "ok.json").read_text())
    doc["model_data"]["hidden_size"] = 9
    with pytest.raises(ValueError, match="does not match model_data"):
        gru_infer.load(_write(tmp_path, doc, "wrong.json"))


# ---- RTNeural Keras form, AIDA-X --------------------------------------------------------------

def keras_module():
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    return keras


def _rtneural_doc(model, in_features):
    """RTNeural's model_utils.save_model output for a GRU/Dense Keras model."""
    layers = []
    for layer in model.layers:
        cls = type(layer).__name__
        kind = {"GRU": "gru", "Dense": "dense"}[cls]
        act = layer.get_config().get("activation", "")
        layers.append({"type": kind, "activation": "" if act == "linear" else act,
                       "shape": [None, None, layer.units], "weights": [w.tolist() for w in layer.get_weights()]})
    return {"in_shape": [None, None, in_features], "layers": layers}


@pytest.mark.parametrize("in_skip,out_gain,suffix", [(1, None, ".aidax"), (0, -3.5, ".json"), (1, 6.0, ".aidax"),
                                                     (0, None, ".aidax")])
def test_aida_x_files_match_keras(in_skip, out_gain, suffix, tmp_path, errors):
    keras = keras_module()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.GRU(12, return_sequences=True),
                              keras.layers.Dense(1)])
    doc = _rtneural_doc(model, 1)
    doc.update(in_skip=in_skip, samplerate="48000", author="test", esr=0.0123,
               metadata={"name": "test amp", "gear_type": "amp"})
    if out_gain is not None:
        doc["out_gain"] = out_gain
    m = gru_infer.load(_write(tmp_path, doc, "amp" + suffix))
    x = (0.3 * np.random.default_rng(1).standard_normal((2, 200, 1))).astype(np.float32)
    gain = 1.0 if out_gain is None else 10 ** (out_gain / 20)
    ref = model.predict(x, verbose=0) * gain + (x if in_skip else 0)
    errors.check("AIDA-X JSON vs Keras", m.predict(x), ref, TOL)
    assert m.info["metadata"]["author"] == "test" and m.info["metadata"]["metadata"]["gear_type"] == "amp"
    stream = m.stream()
    got = np.stack([stream.step(x[0, t]).copy() for t in range(x.shape[1])])
    errors.check("AIDA-X JSON stream vs Keras", got, ref[0], TOL)
    check_roundtrip(m, x, tmp_path)


def test_aida_x_in_skip_needs_one_output(tmp_path):
    keras = keras_module()
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.GRU(4, return_sequences=True),
                              keras.layers.Dense(2)])
    doc = dict(_rtneural_doc(model, 1), in_skip=1)
    with pytest.raises(gru_infer.UnsupportedModelError, match="in_skip=1 on a model with 2 outputs"):
        gru_infer.load(_write(tmp_path, doc))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_rtneural_gru_activation_is_honoured(activation, tmp_path, errors):
    """RTNeural's own loader ignores the field (RTNeural#124, always tanh); the Keras model that wrote
    it used `activation`, and gru_infer computes that."""
    keras = keras_module()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.GRU(6, activation=activation,
                                                                        return_sequences=True),
                              keras.layers.Dense(1)])
    m = gru_infer.load(_write(tmp_path, _rtneural_doc(model, 2)))
    x = np.random.default_rng(2).standard_normal((2, 30, 2)).astype(np.float32)
    errors.check(f"RTNeural GRU activation={activation} vs Keras", m.predict(x), model.predict(x, verbose=0), TOL)


def test_rtneural_gru_activation_refused_when_unknown(tmp_path):
    keras = keras_module()
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.GRU(3, activation="selu", return_sequences=True)])
    with pytest.raises(ValueError, match=r"GRU activation 'selu'.*model\.json|model\.json.*GRU activation 'selu'"):
        gru_infer.load(_write(tmp_path, _rtneural_doc(model, 1)))
