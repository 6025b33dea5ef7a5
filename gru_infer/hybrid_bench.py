"""`gru-infer bench FILE --rest onnxruntime`: the hybrid (GRU nodes in gru_infer, the rest in
onnxruntime) against onnxruntime running the full graph, on the same random feed.

Both sides get the same number of threads, 1 unless --threads says otherwise: gru_infer's threads
and, for every onnxruntime session (the hybrid's parts and the full graph's), intra_op_num_threads,
with inter_op_num_threads 1. Predict times are medians of calls (bench.py's helpers); the feed is
hybrid_inputs.random_feeds (float inputs N(0, 1), seed 0) at --batch / --steps (default 1 and 100).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _core
from .bench import _predict_numbers


def bench_hybrid(path: str, batch: Optional[int] = None, steps: Optional[int] = None, threads: Optional[int] = None,
                 kinds: Sequence[str] = ("fp32",), budget_s: float = 0.5) -> Dict[str, Any]:
    import onnxruntime as ort

    import gru_infer

    from .hybrid_inputs import random_feeds
    batch, steps, threads = batch or 1, steps or 100, threads or 1
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    hybrid = gru_infer.load(path, rest="onnxruntime", session_options=options)
    _core.set_num_threads(threads)
    feeds = random_feeds(hybrid, batch, steps)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    want = dict(zip(names, session.run(None, feeds)))
    result: Dict[str, Any] = {
        "model": str(path), "format": "onnx", "rest": "onnxruntime", "isa": _core.active_isa(), "threads": threads,
        "batch": batch, "steps": steps, "inputs": {n: list(v.shape) for n, v in feeds.items()},
        "parts": [p["runs_in"] for p in hybrid.parts], "kinds": {},
    }
    for kind in kinds:
        model = hybrid if kind == "fp32" else hybrid.quantize(kind)
        got = model.predict(feeds)
        diff = {n: float(np.abs(np.asarray(got[n], np.float64) - want[n]).max()) if want[n].size else 0.0
                for n in names}
        numbers = _predict_numbers(lambda m=model: m.predict(feeds), batch, steps, budget_s)
        result["kinds"][kind] = {**numbers, "max_abs_difference": diff, "max_abs_error": max(diff.values())}
    ref = _predict_numbers(lambda: session.run(None, feeds), batch, steps, budget_s)
    ours = result["kinds"]["fp32" if "fp32" in kinds else kinds[0]]
    result["reference"] = {"framework": "onnxruntime", "note": f"the full graph, {threads} intra-op thread(s)",
                           **ref, "max_abs_error": ours["max_abs_error"],
                           "gru_infer_speedup": ref["predict_ms"] / ours["predict_ms"]}
    return result


def format_hybrid(r: Dict[str, Any]) -> str:
    lines = [f"model: {r['model']} (onnx, hybrid: {' + '.join(r['parts'])})",
             f"isa: {r['isa']}, threads: {r['threads']} each, batch: {r['batch']}, steps: {r['steps']}, inputs: "
             + ", ".join(f"{n} {tuple(s)}" for n, s in r["inputs"].items()), ""]
    head = f"{'':<28}{'predict':>11}{'per seq':>12}{'steps/s':>12}{'max abs diff':>14}"
    lines += [head, "-" * len(head)]
    rows = [(f"hybrid {kind}", n, f"{n['max_abs_error']:.3g}") for kind, n in r["kinds"].items()]
    rows.append(("onnxruntime (full graph)", r["reference"], "-"))
    for name, n, diff in rows:
        lines.append(f"{name:<28}{n['predict_ms']:>8.3f} ms{n['predict_per_sequence_us']:>9.1f} us"
                     f"{n['throughput_steps_per_s']:>12.3g}{diff:>14}")
    lines += ["", f"the hybrid's predict is {r['reference']['gru_infer_speedup']:.2f}x onnxruntime's speed; "
                  f"differences are against onnxruntime on the full graph, max over every output"]
    return "\n".join(lines)
