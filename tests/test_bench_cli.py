"""`gru-infer bench` on every format gru_infer loads: the JSON parses and has its keys, and where
the source framework ran beside it, the two agree (no timing asserts: timings are not testable)."""
import json

import model_files
import numpy as np
import pytest
import torch

import gru_infer
from gru_infer import cli

FAST = ["--steps", "6", "--batch", "2", "--time", "0.02"]
KIND_KEYS = {"stream_step_median_us", "stream_step_p99_us", "stream_steps_timed", "predict_ms",
             "predict_per_sequence_us", "throughput_sequences_per_s", "throughput_steps_per_s"}
TOP_KEYS = {"model", "format", "source", "isa", "threads", "batch", "steps", "input_size", "output_size",
            "parameters", "model_bytes", "kinds", "reference"}
EXPECTED_REFERENCE = {"native": "torch", "pytorch": "torch", "onnx": "onnxruntime", "keras": "keras", "h5": "keras"}


def bench_json(capsys, *args):
    assert cli.main(["bench", *map(str, args), "--json", *FAST]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("fmt", model_files.FORMATS)
def test_bench_json_on_every_format(fmt, tmp_path, capsys):
    path = model_files.write(fmt, tmp_path)
    r = bench_json(capsys, path, "--threads", "1")
    assert TOP_KEYS <= set(r) and set(r["kinds"]) == {"fp32"} and KIND_KEYS <= set(r["kinds"]["fp32"])
    assert r["isa"] == gru_infer.active_isa() and r["threads"] == 1 and (r["batch"], r["steps"]) == (2, 6)
    assert r["model_bytes"] == len(gru_infer.load(path).to_bytes())
    n = r["kinds"]["fp32"]
    assert 0 < n["stream_step_median_us"] <= n["stream_step_p99_us"] and n["stream_steps_timed"] >= 200
    assert n["throughput_steps_per_s"] == pytest.approx(2 * 6 / (n["predict_ms"] / 1e3))
    ref = r["reference"]
    if fmt in EXPECTED_REFERENCE:
        assert ref["framework"] == EXPECTED_REFERENCE[fmt], ref
        assert ref["max_abs_error"] <= 1e-5 and ref["predict_ms"] > 0  # the framework really ran
    gru_infer.set_num_threads(0)


def test_bench_text_table(tmp_path, capsys):
    path = model_files.write("onnx", tmp_path)
    assert cli.main(["bench", str(path), *FAST]) == 0
    out = capsys.readouterr().out
    assert "gru_infer fp32" in out and "onnxruntime" in out and f"isa: {gru_infer.active_isa()}" in out
    assert "step median" in out and "steps/s" in out


def test_bench_bidirectional_has_no_stream_numbers(tmp_path, capsys):
    torch.manual_seed(0)
    gru_infer.from_torch(torch.nn.GRU(3, 5, bidirectional=True, batch_first=True)).save(tmp_path / "bi.gru")
    r = bench_json(capsys, tmp_path / "bi.gru")
    assert "cannot stream" in r["kinds"]["fp32"]["stream_skipped"] and "predict_ms" in r["kinds"]["fp32"]
    assert r["reference"]["max_abs_error"] <= 1e-5  # rebuilt as a bidirectional nn.GRU


def test_bench_reduced_precision_kinds_and_a_bad_kind(tmp_path, capsys):
    path = model_files.write("native", tmp_path)
    r = bench_json(capsys, path, "--kinds", "fp32,int8,fp16")
    assert set(r["kinds"]) == {"fp32", "int8", "fp16"}
    assert all(r["kinds"][k]["predict_ms"] > 0 for k in r["kinds"])
    assert cli.main(["bench", str(path), "--kinds", "fp64", *FAST]) == 2
    assert "expected a comma-separated list of fp32, int8, bf16, fp16, got 'fp64'" in capsys.readouterr().err


def test_bench_uses_quantize_when_the_model_has_it(tmp_path, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr(gru_infer.Model, "quantize", lambda self, kind: asked.append(kind) or self, raising=False)
    r = bench_json(capsys, model_files.write("native", tmp_path), "--kinds", "fp32,int8,bf16")
    assert asked == ["int8", "bf16"] and set(r["kinds"]) == {"fp32", "int8", "bf16"}


@pytest.mark.parametrize("args,message", [(["--batch", "0"], "--batch: expected a positive integer"),
                                          (["--threads", "0"], "--threads: expected a positive integer"),
                                          (["--time", "inf"], "--time: expected a positive, finite number")])
def test_bench_bad_arguments(tmp_path, capsys, args, message):
    assert cli.main(["bench", str(model_files.write("native", tmp_path)), *args]) == 2
    assert message in capsys.readouterr().err


def test_demo_model_bench(capsys):
    r = bench_json(capsys, gru_infer.__path__[0] + "/models/vibration_forecaster.gru")
    assert r["source"] == "pytorch" and r["reference"]["framework"] == "torch"
    assert np.isfinite(r["reference"]["gru_infer_speedup"])
