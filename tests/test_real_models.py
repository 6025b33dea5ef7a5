"""Models that other projects trained and published (../shared/real_models/, see its README).

Every `match` model: gru_infer's output on the stored input equals the writing framework's stored
output within 1e-5 x max(1, max|ref|), the model round-trips through the native file bit for bit,
and (unless it has a bidirectional layer) a stream gives the same outputs step by step. Every
`refuse` model raises UnsupportedModelError naming the layer that has no exact equivalent.

PyTorch state_dicts record neither forward() nor activations: the file alone loads as "GRU ->
Linear at every step" (its last step is the project's `fc(out[:, -1])`), and the project's own
module, rebuilt here from its source as the README describes it, goes through from_torch.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import gru_infer
from gru_infer import UnsupportedModelError

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real_models"

if not (REAL / "models").is_dir():
    _why = (f"the real-model collection is missing: expected {REAL}/models and {REAL}/refs (the shared "
            f"fixtures directory ../shared/real_models next to the repository, described by its README.md)")
    if os.environ.get("CI"):
        raise RuntimeError(_why + "; CI is set, so this is a failure, not a skip")
    pytest.skip(_why, allow_module_level=True)


def _ref(stem):
    return np.load(REAL / "refs" / f"{stem}.x.npy"), np.load(REAL / "refs" / f"{stem}.y.npy")


def _tol(y):
    return 1e-5 * max(1.0, float(np.max(np.abs(y))))


# file -> (reference stem, whether the model has a bidirectional layer)
MATCH = {
    "klon_centaur_gain0.json": False,
    "neuralseed_gru8_ts9.json": False,
    "cse5393_imdb_gru_keras204.h5": False,
    "arima_gru_stock.h5": False,
    "langrecognition_gru.h5": False,
    "circuitrnn_gru.h5": False,
    "pos_tagger_gru.h5": False,
    "battery_soh_gru.h5": False,
    "appliances_energy_gru_bn.h5": False,
    "eye_risk_bigru_classifier.keras": True,
    "xauusd_gru.keras": False,
    "wunder_lob_baseline_gru3.onnx": False,
    "gilgabase_eurusd_gru_tf2onnx.onnx": False,
}

# state_dicts: file -> whether the project's module applies an activation between the GRU and
# the Linear, which the file cannot record (README: expectation "loads")
STATE_DICTS = {
    "greenhouse_sine_gru.pth": False,
    "codefinance_gru2.pt": False,
    "mosquito_traj_gru4.pth": False,
    "instrument_mfcc_gru_legacy.pt": True,
    "energy_pjm_gru.pt": True,
}

# file -> a word the refusal must contain (the layer with no exact equivalent)
REFUSE = {
    "water_gru_attention.keras": "attention",
    "wunder_predictor_conv_gru.onnx": "Conv",
    "reliance_attn_gru_weights.npz": "attn",
    "turbofan_gru_attention.pth": "attention",
    "protein_ss_bigru_keras204_theano.weights.h5": "activation_1",
}


def _stem(name):
    return name.split(".")[0]


def _check_roundtrip(model, x, tmp_path):
    path = tmp_path / "model.gru"
    model.save(path)
    np.testing.assert_array_equal(gru_infer.load(path).predict(x), model.predict(x))


def _check_stream(model, x, y, tol, errors, category):
    """Step the whole batch through a stream: each step equals predict's output at that step (or,
    for a model that ends without a time axis, the last step equals it)."""
    stream = model.stream(batch=x.shape[0])
    outs = np.stack([stream.step(np.ascontiguousarray(x[:, t])).copy() for t in range(x.shape[1])], axis=1)
    got = outs if y.ndim == 3 else outs[:, -1]
    errors.check(category, got, y, tol)
    # The same signal in blocks (Stream.run), split unevenly so that blocks chain.
    blocks = model.stream(batch=x.shape[0], max_block=16)
    cut = max(1, x.shape[1] // 3)
    ran = np.concatenate([blocks.run(np.ascontiguousarray(x[:, :cut])),
                          blocks.run(np.ascontiguousarray(x[:, cut:]))], axis=1)
    errors.check(category + " (run)", ran if y.ndim == 3 else ran[:, -1], y, tol)


@pytest.mark.parametrize("name", sorted(MATCH))
def test_match(name, tmp_path, errors):
    x, y = _ref(_stem(name))
    model = gru_infer.load(REAL / "models" / name)
    errors.check(f"real_models/{name}", model.predict(x), y, _tol(y))
    _check_roundtrip(model, x, tmp_path)
    if not MATCH[name]:
        _check_stream(model, x, y, _tol(y), errors, f"real_models/{name} stream")


def test_keras2_weights_with_separate_yaml_config(tmp_path, errors):
    name = "protein_ss_bigru_keras204_theano"
    x, y = _ref(name)
    model = gru_infer.load(REAL / "models" / f"{name}.weights.h5", config=REAL / "models" / f"{name}.yaml")
    errors.check(f"real_models/{name}.weights.h5 + .yaml", model.predict(x), y, _tol(y))
    _check_roundtrip(model, x, tmp_path)


@pytest.mark.parametrize("name", sorted(STATE_DICTS))
def test_state_dict_file(name, tmp_path, errors):
    x, y = _ref(_stem(name))
    model = gru_infer.load(REAL / "models" / name)
    _check_roundtrip(model, x, tmp_path)
    if STATE_DICTS[name]:  # the ReLU between GRU and Linear is not in the file: it must say so
        assert "activation" in " ".join(model.info.get("assumed", [])), model.info
        return
    errors.check(f"real_models/{name} (file, last step)", model.predict(x)[:, -1], y, _tol(y))
    _check_stream(model, x, model.predict(x), _tol(y), errors, f"real_models/{name} stream")


@pytest.mark.parametrize("name", sorted(REFUSE))
def test_refuse(name):
    with pytest.raises(UnsupportedModelError) as e:
        gru_infer.load(REAL / "models" / name)
    msg = str(e.value)
    assert REFUSE[name].lower() in msg.lower(), msg
    assert name in msg, f"the refusal should name the file: {msg}"


# ---- the projects' own PyTorch modules (from their source), loaded with the file, via from_torch

def _project_module(name):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Greenhouse(nn.Module):  # shohei/greenhouse_time_series GRU/GRU.ipynb
        def __init__(self):
            super().__init__()
            self.l1 = nn.GRU(1, 100, batch_first=True)
            self.l2 = nn.Linear(100, 1)

        def forward(self, x):
            h, _ = self.l1(x)
            return self.l2(h[:, -1])

    class CodeFinance(nn.Module):  # ColemanFarv/CodeFinance GRUNeuralNetwork
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(4, 64, num_layers=2, batch_first=True)
            self.fc = nn.Linear(64, 4)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.fc(out[:, -1, :])

    class Mosquito(nn.Module):  # dropyoon/Mosquito-Flight-Trajectory-Prediction model.py
        def __init__(self):
            super().__init__()
            self.num_layers, self.hidden = 4, 64
            self.gru = nn.GRU(3, 64, num_layers=4, batch_first=True)
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(64, 3)

        def forward(self, x):
            h0 = torch.zeros(self.num_layers, x.size(0), self.hidden).to(x.device)
            out, _ = self.gru(x, h0)
            return self.fc(self.dropout(out[:, -1, :]))

    class Instrument(nn.Module):  # RWDavid/rnn-instrument-recognition gru_model.py
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(13, 16, batch_first=True)
            self.relu = nn.ReLU()
            self.fc = nn.Linear(16, 7)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.fc(self.relu(out[:, -1]))

    class EnergyGRUNet(nn.Module):  # iamirmasoud/energy_consumption_prediction, notebook cell 33
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(5, 256, 2, batch_first=True, dropout=0.2)
            self.fc = nn.Linear(256, 1)
            self.relu = nn.ReLU()

        def forward(self, x, h):
            out, h = self.gru(x, h)
            out = self.fc(self.relu(out[:, -1]))
            return out, h

    cls = {"greenhouse_sine_gru.pth": Greenhouse, "codefinance_gru2.pt": CodeFinance,
           "mosquito_traj_gru4.pth": Mosquito, "instrument_mfcc_gru_legacy.pt": Instrument,
           "energy_pjm_gru.pt": EnergyGRUNet}[name]
    module = cls()
    module.load_state_dict(torch.load(REAL / "models" / name, map_location="cpu"), strict=True)
    return module.eval()


@pytest.mark.parametrize("name", sorted(STATE_DICTS))
def test_state_dict_through_project_module(name, tmp_path, errors):
    x, y = _ref(_stem(name))
    model = gru_infer.from_torch(_project_module(name))
    got = model.predict(x)
    if name == "energy_pjm_gru.pt":  # forward(x, h) -> (out, h), called with h = zeros
        got, h_n = model.predict(x, h0=np.zeros((2, x.shape[0], 256), np.float32), return_state=True)
        assert h_n.shape == (2, x.shape[0], 256)
    errors.check(f"real_models/{name} (project module)", got, y, _tol(y))
    _check_roundtrip(model, x, tmp_path)
    _check_stream(model, x, y, _tol(y), errors, f"real_models/{name} (project module) stream")
