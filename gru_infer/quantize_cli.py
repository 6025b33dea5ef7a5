"""`gru-infer quantize`: size, error and step latency of a reduced-precision copy of a model."""
from __future__ import annotations

import time

import numpy as np


def step_latency_us(model, repeats: int = 7, steps: int = 200) -> float:
    """Median over `repeats` runs of the mean time of one stream step (batch 1), in microseconds."""
    s = model.stream(1)
    rng = np.random.default_rng(0)
    if model.takes_ids:
        x = np.zeros(1, dtype=np.int64)
    else:
        x = rng.standard_normal((1, model.input_size)).astype(np.float32)
    out = np.empty((1, model.output_size), dtype=np.float32)
    for _ in range(20):
        s.step(x, out=out)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            s.step(x, out=out)
        times.append((time.perf_counter() - t0) / steps * 1e6)
    return float(np.median(times))


def run(args) -> int:
    import gru_infer
    m = gru_infer.load(args.file)
    calibration = np.load(args.calibration) if args.calibration else None
    keep = [int(v) for v in args.keep_fp32.split(",") if v.strip()] if args.keep_fp32 else []
    q = m.quantize(args.to, calibration=calibration, keep_fp32=keep)
    q.save(args.output)
    info = q.info["quantization"]
    sizes = info["file_bytes"]
    err = info["error_vs_fp32"]
    print(f"wrote {args.output}: {args.to} weights ({q.weight_format})")
    print(f"file size: {sizes['fp32']} -> {sizes[args.to]} bytes ({sizes[args.to] / sizes['fp32']:.2f}x)")
    on = "calibration data" if calibration is not None else "synthetic input N(0, 1), (4, 1000, F), seed 0"
    print(f"error vs fp32 on {on}: max abs {err['max_abs']:.3g}, mean abs {err['mean_abs']:.3g}")
    kept = [d["layer"] for d in info["layers"] if "kept_fp32" in d]
    if kept:
        print(f"kept in fp32: layers {', '.join(map(str, kept))}")
    try:
        before, after = step_latency_us(m), step_latency_us(q)
        print(f"stream step latency (batch 1, median): {before:.2f} us -> {after:.2f} us ({before / after:.2f}x)")
    except ValueError as e:  # models that cannot stream (bidirectional, reverse)
        print(f"stream step latency: not measured ({e})")
    return 0
