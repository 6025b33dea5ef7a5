"""The gru-infer command line: info, convert (native and C array), verify against the real
frameworks, and format detection by content through gru_infer.load."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gru_infer
from gru_infer import cli
from gru_infer import verify as verify_mod

torch = pytest.importorskip("torch")


class GruHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 5, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.fc(self.gru(x)[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    torch.manual_seed(3)
    m = GruHead().eval()
    # Misleading names: the format is told by content, not by the extension.
    torch.save(m.state_dict(), d / "state_dict.bin")
    torch.onnx.export(torch.nn.GRU(3, 5, batch_first=True), (torch.randn(2, 7, 3),), d / "gru.model",
                      dynamo=False, opset_version=14, input_names=["x"], output_names=["y", "h"],
                      dynamic_axes={"x": {0: "b", 1: "t"}})
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    k = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4, return_sequences=True), keras.layers.Dense(2)])
    k.save(d / "k.keras")
    return {"torch": d / "state_dict.bin", "onnx": d / "gru.model", "keras": d / "k.keras", "module": m, "dir": d}


def run_cli(*args):
    return cli.main([str(a) for a in args])


@pytest.mark.parametrize("kind,fmt", [("torch", "pytorch"), ("onnx", "onnx"), ("keras", "keras")])
def test_load_detects_format_by_content(files, kind, fmt):
    assert gru_infer.loading.detect_format(str(files[kind])) == fmt
    assert gru_infer.load(files[kind]).info["source"] == {"pytorch": "pytorch", "onnx": "onnx", "keras": "keras"}[fmt]


@pytest.mark.parametrize("kind", ["torch", "onnx", "keras"])
def test_verify_passes_against_the_framework(files, kind, capsys):
    assert run_cli("verify", files[kind]) == 0
    out = capsys.readouterr().out
    assert "max abs error" in out and "OK" in out


def test_verify_fails_when_the_framework_disagrees(files, monkeypatch, capsys):
    real = verify_mod.reference

    def off_by_a_bit(path, model):
        ref = real(path, model)
        return lambda x: ref(x) + 1e-3
    monkeypatch.setattr(verify_mod, "reference", off_by_a_bit)
    assert run_cli("verify", files["torch"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_verify_without_a_reference_says_so(files, tmp_path, capsys):
    native = tmp_path / "m.gru"
    gru_infer.from_torch(files["module"]).save(native)
    assert run_cli("verify", native) == 2
    assert "no framework to compare with" in capsys.readouterr().err


def test_info_and_convert(files, tmp_path, capsys):
    assert run_cli("info", files["torch"]) == 0
    out = capsys.readouterr().out
    assert "GRU 3 -> 5" in out and "Dense 5 -> 2" in out and "parameters: " in out
    out_file = tmp_path / "converted.gru"
    assert run_cli("convert", files["torch"], "-o", out_file) == 0
    x = np.random.default_rng(0).standard_normal((2, 9, 3)).astype(np.float32)
    with torch.no_grad():
        want = files["module"](torch.from_numpy(x)).numpy()
    assert np.abs(gru_infer.load(out_file).predict(x) - want).max() <= 1e-5


def test_convert_to_c_array(files, tmp_path):
    header = tmp_path / "model.h"
    assert run_cli("convert", files["torch"], "--c-array", header, "--symbol", "my_gru") == 0
    text = header.read_text()
    assert "my_gru" in text and "my_gru_size" in text


def test_errors_are_messages_not_tracebacks(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01not a model")
    r = subprocess.run([sys.executable, "-m", "gru_infer.cli", "info", str(junk)], capture_output=True, text=True)
    assert r.returncode == 2 and "gru-infer: error:" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "gru_infer.cli", "convert", str(junk)], capture_output=True, text=True)
    assert r.returncode == 2 and "needs -o" in r.stderr
