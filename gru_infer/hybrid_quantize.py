"""HybridModel.quantize: the GRU islands in int8, bf16 or fp16, the onnxruntime parts as they were.

Each island is quantized with Model.quantize. With calibration (a feed like predict's), the fp32
hybrid runs on it once and each island is calibrated on the input x it receives there. The error is
measured on the WHOLE graph: every graph output of the quantized hybrid against the fp32 hybrid, on
the calibration feed, or without one on a synthetic feed: float inputs ~ N(0, 1), seed 0, the free
axes batch 4 and time 1000 (gru_infer.hybrid_inputs.concrete_shapes; a graph with a non-float input
needs calibration).
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .hybrid_inputs import concrete_shapes, random_feeds

KINDS = ("int8", "bf16", "fp16")
SYNTHETIC: Dict[str, Any] = {"distribution": "N(0, 1)", "batch": 4, "steps": 1000, "seed": 0}


def quantize_hybrid(hybrid: Any, kind: str, calibration: Any = None, input_scale: str = "auto"
                    ) -> Any:
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if "quantization" in hybrid.info:
        raise ValueError(f"this hybrid is already quantized ({hybrid.info['quantization']['kind']}): quantize "
                         f"the fp32 one")
    seen: Dict[int, np.ndarray] = {}
    if calibration is not None:
        feeds, _ = hybrid._feeds(calibration)
        on: Any = "calibration data"
    else:
        feeds = random_feeds(hybrid, SYNTHETIC["batch"], SYNTHETIC["steps"], SYNTHETIC["seed"], floats_only=True)
        on = dict(SYNTHETIC, shapes={n: list(s) for n, s in
                                     concrete_shapes(hybrid, SYNTHETIC["batch"], SYNTHETIC["steps"]).items()})
    ref = hybrid._run(dict(feeds), seen if calibration is not None else None)
    parts, islands = [], []
    for k, p in enumerate(hybrid._parts):
        p = dict(p)
        if p["runs_in"] == "gru_infer":
            p["model"] = p["model"].quantize(kind, calibration=seen.get(k), input_scale=input_scale)
            q = p["model"].info["quantization"]
            islands.append({"part": k, "nodes": list(p["nodes"]), "layers": q["layers"],
                            "input_scales": q["input_scales"]})
        parts.append(p)
    out = type(hybrid)(parts, list(hybrid._inputs), list(hybrid._outputs), dict(hybrid.info), hybrid._threads,
                      hybrid._sessions)
    got = out._run(dict(feeds))
    errors = {}
    for name in hybrid.output_names:
        a, b = np.asarray(ref[name], np.float64), np.asarray(got[name], np.float64)
        d = np.abs(a - b)
        errors[name] = {"max_abs": float(d.max()) if d.size else 0.0, "mean_abs": float(d.mean()) if d.size else 0.0,
                        "max_abs_fp32": float(np.abs(a).max()) if a.size else 0.0}
    out.info["quantization"] = {"kind": kind, "islands": islands, "error_vs_fp32": {"outputs": errors, "on": on}}
    return out
