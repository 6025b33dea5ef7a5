"""Every gru-infer error is one line `gru-infer: error: ...` and a non-zero exit, never a traceback
and never "wrote" after a failed write (issue 26, item 8); verify and bench use the sizes a model
declares for its input."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gru_infer
from gru_infer import layers as L

REAL_MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "real_models", "models")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gru_infer.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _one_line_error(r, *words):
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gru-infer: error: "), r.stderr
    assert "wrote" not in r.stdout
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = np.random.default_rng(0)
    H, I = 4, 2
    d = L.GRUDirection(*(rng.standard_normal(s).astype(np.float32) for s in ((3 * H, I), (3 * H, H), 3 * H, 3 * H)))
    path = tmp_path_factory.mktemp("cli_errors") / "tiny.gru"
    gru_infer.Model.from_layers([L.GRU(I, H, [d])]).save(path)
    return path


@pytest.mark.parametrize("flag", ["-o", "--c-array"])
def test_convert_to_a_full_device(tiny, flag):
    _one_line_error(_cli("convert", tiny, flag, "/dev/full"), "/dev/full", "No space left")


def test_convert_to_a_folder_and_a_missing_folder(tiny, tmp_path):
    _one_line_error(_cli("convert", tiny, "-o", tmp_path), "folder")
    _one_line_error(_cli("convert", tiny, "-o", tmp_path / "no" / "m.gru"), "No such file")


def test_quantize_to_a_full_device(tiny):
    _one_line_error(_cli("quantize", tiny, "--to", "int8", "-o", "/dev/full"), "No space left")


@pytest.mark.parametrize("args,words", [
    (["--batch", "100000000"], ["GiB"]),
    (["--time", "-1"], ["--time", "positive"]),
    (["--time", "nan"], ["--time", "finite"]),
    (["--steps", "0"], ["--steps", "positive integer"]),
    (["--threads", "x"], ["--threads"]),
])
def test_bench_arguments(tiny, args, words):
    _one_line_error(_cli("bench", tiny, *args), *words)


def test_verify_arguments(tiny):
    _one_line_error(_cli("verify", tiny, "--tolerance", "nan"), "--tolerance")
    _one_line_error(_cli("verify", tiny, "--batch", "-2"), "--batch")


def test_missing_and_unreadable_files(tmp_path):
    _one_line_error(_cli("info", tmp_path / "nope.gru"), "no model file")
    _one_line_error(_cli("info", "/dev/zero"), "regular model file")


def _real(name):
    path = os.path.join(REAL_MODELS, name)
    if not os.path.exists(path):
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing (../shared/real_models)")
        pytest.skip(f"{path} is missing (../shared/real_models)")
    return path


def test_verify_and_bench_take_the_declared_time_axis():
    """wunder_lob_baseline_gru3.onnx fixes its time axis at 100: verify ran onnxruntime on 16 steps."""
    path = _real("wunder_lob_baseline_gru3.onnx")
    r = _cli("verify", path)
    assert r.returncode == 0, r.stderr
    assert "steps 100 declared by the model's input" in r.stdout and "OK" in r.stdout
    _one_line_error(_cli("verify", path, "--steps", "16"), "declares steps = 100", "16")
    r = _cli("bench", path, "--time", "0.02")
    assert r.returncode == 0, r.stderr
    assert "steps: 100" in r.stdout and "max abs difference" in r.stdout
