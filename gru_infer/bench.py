"""`gru-infer bench MODEL`: the numbers to size a deployment with, measured on this machine.

Stream step latency (median and p99 of single steps timed one by one, from Python), predict time
per call and per sequence, throughput, the ISA the kernels run on, the model's memory, and, when
the framework the file came from is installed, the same predict in it (onnxruntime for ONNX,
PyTorch for a state_dict, Keras for a Keras model: gru_infer.verify rebuilds each).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from . import _core
from .model import Model

KINDS = ("fp32", "int8", "bf16", "fp16")


def parse_kinds(text: str) -> List[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad:
        raise ValueError(f"--kinds: expected a comma-separated list of {', '.join(KINDS)}, got {text!r}")
    return kinds


def _model_of_kind(model: Model, kind: str) -> Model:
    if kind == "fp32":
        return model
    return model.quantize(kind)


def _timed_calls(fn: Callable[[], Any], budget_s: float, min_calls: int = 3) -> List[float]:
    """Seconds per call of fn, called until budget_s has passed (at least min_calls times)."""
    fn()  # warm-up: first-call allocations, kernel choice
    times: List[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < min_calls or time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _stream_latency(model: Model, x: np.ndarray, budget_s: float) -> Dict[str, float]:
    stream = model.stream(batch=x.shape[0])
    out = np.empty((x.shape[0], model.output_size), np.float32)
    steps = [np.ascontiguousarray(x[:, t]) for t in range(x.shape[1])]
    for s in steps[:8]:
        stream.step(s, out=out)
    clock = time.perf_counter_ns
    times: List[int] = []
    end = time.perf_counter() + budget_s
    i = 0
    while len(times) < 200 or time.perf_counter() < end:
        s = steps[i % len(steps)]
        t0 = clock()
        stream.step(s, out=out)
        times.append(clock() - t0)
        i += 1
    us = np.asarray(times, np.float64) / 1e3
    return {"stream_step_median_us": float(np.median(us)), "stream_step_p99_us": float(np.percentile(us, 99)),
            "stream_steps_timed": len(times)}


def _predict_numbers(run: Callable[[], Any], batch: int, steps: int, budget_s: float) -> Dict[str, float]:
    median = float(np.median(_timed_calls(run, budget_s)))
    return {"predict_ms": median * 1e3, "predict_per_sequence_us": median * 1e6 / batch,
            "throughput_sequences_per_s": batch / median, "throughput_steps_per_s": batch * steps / median}


def _reference(path: str, model: Model, threads: Optional[int]) -> Optional[Dict[str, Any]]:
    from .verify import NoReference, reference
    framework = {"onnx": "onnxruntime", "keras": "keras", "pytorch": "torch"}
    name = framework.get(model.info.get("source", ""), framework.get(model.info.get("format", ""), ""))
    if name == "torch":
        try:
            import torch
        except ImportError:
            return {"framework": name, "skipped": "PyTorch is not installed"}
        if threads is not None:
            torch.set_num_threads(threads)
    try:
        found: Dict[str, Any] = {"framework": name or model.info.get("source", ""), "run": reference(path, model)}
        if name in ("onnxruntime", "keras"):
            found["note"] = f"{name} with its default threads"
        return found
    except NoReference as e:
        rebuilt = _torch_rebuilt(model) if name == "torch" else None
        if rebuilt is not None:  # e.g. a native file converted from PyTorch
            return {"framework": "torch", "note": "nn.GRU/nn.Linear rebuilt from the model's layers", "run": rebuilt}
        return {"framework": name, "skipped": str(e)} if name else None


def _torch_rebuilt(model: Model) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    """nn.GRU / nn.Linear / activation modules with the model's weights, if it has only those."""
    import torch

    from . import layers as L
    steps: List[Callable[[Any], Any]] = []
    acts = {"identity": lambda t: t, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "softmax": lambda t: torch.softmax(t, -1)}
    for spec in model.layers:
        if isinstance(spec, L.GRU):
            g = spec
            if (not g.linear_before_reset or g.clip or g.gate_activation.kind != "sigmoid"
                    or g.candidate_activation.kind != "tanh" or g.direction == "reverse"
                    or g.merge_mode != "concat" or not g.return_sequences):
                return None
            gru = torch.nn.GRU(g.input_size, g.hidden_size, batch_first=True,
                               bidirectional=g.direction == "bidirectional")
            for d, w in enumerate(g.directions):
                sfx = "_l0" + ("_reverse" if d else "")
                for name, a in (("weight_ih", w.W), ("weight_hh", w.R), ("bias_ih", w.bW), ("bias_hh", w.bR)):
                    getattr(gru, name + sfx).data = torch.from_numpy(L.swap_rz_blocks(a, g.hidden_size).copy())
            gru.eval()
            steps.append(lambda t, gru=gru: gru(t)[0])
        elif isinstance(spec, L.Dense):
            lin = torch.nn.Linear(spec.weight.shape[1], spec.weight.shape[0], bias=spec.bias is not None)
            lin.weight.data = torch.from_numpy(spec.weight.copy())
            if spec.bias is not None:
                lin.bias.data = torch.from_numpy(spec.bias.copy())
            steps.append(lin.eval())
        elif isinstance(spec, L.ActivationLayer) and spec.activation.kind in acts:
            steps.append(acts[spec.activation.kind])
        elif isinstance(spec, L.LastStep):
            steps.append(lambda t: t[:, -1])
        else:
            return None

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            t = torch.from_numpy(x)
            for f in steps:
                t = f(t)
            out: np.ndarray = t.numpy()
            return out
    return run


# The input and output bench allocates (besides the model's own buffers) stay under this.
MAX_BENCH_BYTES = 2 << 30


def bench(path: str, batch: Optional[int] = None, steps: Optional[int] = None, threads: Optional[int] = None,
          kinds: Sequence[str] = ("fp32",), budget_s: float = 0.5, compare: bool = True) -> Dict[str, Any]:
    """Measure gru_infer on the model file at `path`; a JSON-ready dict (see the keys below).
    batch / steps: default the sizes the file declares for its input, else 1 and 100."""
    import gru_infer

    from .verify import random_input, run_sizes
    for name, v in (("batch", batch), ("steps", steps), ("threads", threads)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"--{name}: expected a positive integer, got {v!r}")
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not 0 < budget_s < float("inf"):
        raise ValueError(f"--time: expected a positive, finite number of seconds, got {budget_s!r}")
    model = gru_infer.load(path)
    batch, steps, declared = run_sizes(path, model, batch, steps, (1, 100))
    need = batch * steps * (model.input_size + model.output_size) * 4
    if need > MAX_BENCH_BYTES:
        raise ValueError(f"--batch {batch} x --steps {steps}: the input and output would take {need / 2**30:.3g} GiB; "
                         f"bench allocates at most {MAX_BENCH_BYTES >> 30} GiB")
    if threads is not None:
        _core.set_num_threads(threads)
    x = random_input(model, batch, steps)
    result: Dict[str, Any] = {
        "model": str(path), "format": model.info.get("format", "native"), "source": model.source,
        "isa": _core.active_isa(), "threads": _core.get_num_threads(), "batch": batch, "steps": steps,
        "sizes_declared": declared,
        "input_size": model.input_size, "output_size": model.output_size,
        "parameters": model.num_parameters, "model_bytes": len(model.to_bytes()), "kinds": {},
    }
    for kind in kinds:
        m = _model_of_kind(model, kind)
        numbers: Dict[str, Any] = {}
        try:
            numbers.update(_stream_latency(m, x, budget_s / 2))
        except ValueError as e:  # a bidirectional model cannot stream
            numbers["stream_skipped"] = str(e)
        numbers.update(_predict_numbers(lambda m=m: m.predict(x), batch, steps, budget_s))
        result["kinds"][kind] = numbers
    result["reference"] = None
    if compare:
        ref = _reference(str(path), model, threads)
        if ref is not None and "run" in ref:
            run = ref.pop("run")
            err = float(np.abs(np.asarray(run(x), np.float64) - model.predict(x)).max())
            ref.update(_predict_numbers(lambda: run(x), batch, steps, budget_s), max_abs_error=err)
            ours = result["kinds"]["fp32" if "fp32" in kinds else kinds[0]]
            ref["gru_infer_speedup"] = ref["predict_ms"] / ours["predict_ms"]
        result["reference"] = ref
    return result


def format_table(r: Dict[str, Any]) -> str:
    """The plain-text report of a bench() result."""
    lines = [f"model: {r['model']} ({r['format']}, from {r['source'] or 'unknown'}): input {r['input_size']}, "
             f"output {r['output_size']}, {r['parameters']} parameters, {r['model_bytes'] / 1024:.1f} KiB loaded",
             f"isa: {r['isa']}, threads: {r['threads']}, batch: {r['batch']}, steps: {r['steps']}"
             + (f" ({r['sizes_declared']})" if r.get("sizes_declared") else ""), ""]
    head = f"{'':<14}{'step median':>12}{'step p99':>10}{'predict':>11}{'per seq':>11}{'steps/s':>12}"
    lines += [head, "-" * len(head)]

    def row(name: str, n: Dict[str, Any]) -> str:
        med = f"{n['stream_step_median_us']:.2f} us" if "stream_step_median_us" in n else "-"
        p99 = f"{n['stream_step_p99_us']:.2f} us" if "stream_step_p99_us" in n else "-"
        return (f"{name:<14}{med:>12}{p99:>10}{n['predict_ms']:>8.3f} ms{n['predict_per_sequence_us']:>8.1f} us"
                f"{n['throughput_steps_per_s']:>12.3g}")
    for kind, n in r["kinds"].items():
        lines.append(row(f"gru_infer {kind}", n))
    ref = r.get("reference")
    if ref and "predict_ms" in ref:
        lines.append(row(ref["framework"], ref))
        note = f" ({ref['note']})" if "note" in ref else ""
        lines += ["", f"{ref['framework']}{note} vs gru_infer: max abs difference {ref['max_abs_error']:.3g}; "
                      f"gru_infer predict {ref['gru_infer_speedup']:.2f}x faster"]
    elif ref and "skipped" in ref:
        lines += ["", f"no {ref['framework']} comparison: {ref['skipped']}"]
    for kind, n in r["kinds"].items():
        if "stream_skipped" in n:
            lines.append(f"{kind}: no stream latency: {n['stream_skipped']}")
    lines.append("stream steps are timed one by one from Python (Stream.step with out=); predict is the median call")
    return "\n".join(lines)
