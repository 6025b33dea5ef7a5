"""Model.quantize: int8, bf16 and fp16 copies of a model, with the error they cost measured.

The arithmetic is in the C++ core (docs/quantization.md). This module picks the input scales
from calibration data, builds the quantized model, and measures its error against the fp32 model
on the calibration data, or, when none is given, on a synthetic input: x ~ N(0, 1) of shape
(4, 1000, input_size) drawn with seed 0 (for id models, ids uniform over the table), which is
what the accuracy bounds of the README are stated for.

It sits below `gru_infer.model` (docs/ARCHITECTURE.md, "Layers"): it works on the model it is
given (`Model.quantize` passes itself) and builds the result with that model's own class, so it
imports no gru_infer module.
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

KINDS = ("fp16", "bf16", "int8")
SYNTHETIC = {"distribution": "N(0, 1)", "batch": 4, "steps": 1000, "seed": 0}


def _layer_indices(keep_fp32: Iterable[int], n: int) -> list:
    out = []
    for i in keep_fp32:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"keep_fp32: expected layer indices (integers), got {i!r}")
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise ValueError(f"keep_fp32: layer {i} does not exist (the model has {n} layers)")
        out.append(j)
    return sorted(set(out))


def _synthetic(model) -> np.ndarray:
    rng = np.random.default_rng(SYNTHETIC["seed"])
    B, T = SYNTHETIC["batch"], SYNTHETIC["steps"]
    if model.takes_ids:
        rows = model._core.describe(with_weights=False)[0]["rows"]
        return rng.integers(0, rows, size=(B, T), dtype=np.int64)
    return rng.standard_normal((B, T, model.input_size)).astype(np.float32)


def error_report(reference, candidate, x) -> dict:
    """Max and mean absolute difference of two models' outputs on x, overall and per output."""
    a = np.asarray(reference.predict(x), dtype=np.float64)
    b = np.asarray(candidate.predict(x), dtype=np.float64)
    d = np.abs(a - b).reshape(-1, a.shape[-1])
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean()),
            "max_abs_per_output": d.max(axis=0).tolist(), "mean_abs_per_output": d.mean(axis=0).tolist()}


def quantize(model, kind: str, calibration=None, keep_fp32: Iterable[int] = (), input_scale: str = "auto"):
    """`model.quantize(...)` (gru_infer.Model.quantize says what the arguments and the result are)."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if input_scale not in ("auto", "dynamic", "calibrated"):
        raise ValueError(f"input_scale: expected 'auto', 'dynamic' or 'calibrated', got {input_scale!r}")
    desc = model._core.describe(with_weights=False)
    keep = _layer_indices(keep_fp32, len(desc))
    data: Optional[np.ndarray] = None
    if calibration is not None:
        data, batched = model._sequence_input(calibration)
    if input_scale == "calibrated" and data is None:
        raise ValueError("input_scale='calibrated' needs calibration data")
    calibrated = kind == "int8" and data is not None and input_scale != "dynamic"
    scales = []
    if calibrated:
        scales = [float(a) / 127.0 for a in model._core.layer_input_absmax(data)]
    q = type(model)(model._core.quantize(kind, keep, scales))  # a gru_infer.Model
    q.info = dict(model.info)
    q._fast = model._fast  # the run-time default (with_options) carries over
    layers = []
    for i, (before, after) in enumerate(zip(desc, q._core.describe(with_weights=False))):
        entry = {"layer": i, "kind": before["kind"], "weight_format": after.get("weight_format", "none")}
        if before["kind"] in ("GRU", "Dense") and after["weight_format"] == "fp32":
            entry["kept_fp32"] = ("keep_fp32" if i in keep else
                                  "activations other than sigmoid/tanh run the fp32 path")
        if after.get("computes_in", entry["weight_format"]) != entry["weight_format"]:
            entry["computes_in"] = (f"{after['computes_in']}: the weights dequantized (faster at this size than "
                                    f"the {kind} kernels of this CPU, docs/quantization.md)")
        elif after.get("batches_compute_in", entry["weight_format"]) != entry["weight_format"]:
            entry["batches_compute_in"] = (f"{after['batches_compute_in']}: predict's batches of 4+ rows on the "
                                           "weights widened once and kept (+4 bytes per weight), faster than "
                                           f"the {kind} kernels of this CPU (docs/quantization.md)")
        if calibrated and after.get("weight_format") == "int8":
            entry["input_scale"] = scales[i] if scales[i] > 0 else "dynamic"
        layers.append(entry)
    evaluated = data if data is not None else _synthetic(model)
    report = error_report(model, q, evaluated)
    if data is not None:
        report["on"] = "calibration data"
    else:
        report["on"] = dict(SYNTHETIC, shape=list(evaluated.shape))
        if model.takes_ids:
            report["on"]["distribution"] = "ids uniform over the embedding table"
    q.info["quantization"] = {
        "kind": kind,
        "layers": layers,
        "input_scales": "calibrated" if calibrated else ("dynamic" if kind == "int8" else "not used"),
        "error_vs_fp32": report,
        "file_bytes": {"fp32": len(model.to_bytes()), kind: len(q.to_bytes())},
    }
    return q
