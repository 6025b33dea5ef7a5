"""Fixtures of the benchmark suite: one thread per framework, the three engines per GRU size, and
per case the zero-argument callables that are timed, checked against each other before timing
(a quantized case: PyTorch, onnxruntime and our fp32 model within TOLERANCE, ours quantized within
QUANT_MAX_ERROR of PyTorch, that error kept in the JSON for the report).

Run explicitly (`python -m pytest benchmarks`); the repo's default test run collects tests/ only.
"""
import os
import platform

import numpy as np
import onnxruntime as ort
import pytest
import torch
from bench_cases import OURS_FP32, QUANT_MAX_ERROR
from bench_onnx import export_gru, ort_session

import gru_infer

# One thread each: the comparison is of single-core engines, not of thread pools.
torch.set_num_threads(1)
gru_infer.set_num_threads(1)

TOLERANCE = 1e-5  # max abs difference allowed between any two frameworks before a case is timed
STREAM_CHECK_STEPS = 8  # streaming: steps compared (same input, carried state) before timing


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pytest_benchmark_update_machine_info(config, machine_info):
    """Recorded in the JSON so the report describes the run that produced the numbers."""
    machine_info["gru_infer_bench"] = {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "isa": gru_infer.active_isa(),
        "threads": {"gru_infer": gru_infer.get_num_threads(), "torch": torch.get_num_threads(),
                    "onnxruntime_intra_op": 1, "onnxruntime_inter_op": 1},
        "versions": {"gru_infer": gru_infer.__version__, "torch": torch.__version__,
                     "onnxruntime": ort.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


class GruEngines:
    """One nn.GRU (batch_first) and the same weights in onnxruntime and gru_infer."""

    def __init__(self, input_size: int, hidden_size: int, onnx_path):
        torch.manual_seed(0)
        self.torch = torch.nn.GRU(input_size, hidden_size, batch_first=True).eval()
        self.ours = gru_infer.from_torch(self.torch)
        self.ort = ort_session(export_gru(self.torch, onnx_path))
        self._quantized = {}

    def ours_as(self, quant: str) -> gru_infer.Model:
        """Our fp32 model, or model.quantize(quant) of it (made once per kind)."""
        if not quant:
            return self.ours
        if quant not in self._quantized:
            self._quantized[quant] = self.ours.quantize(quant)
        return self._quantized[quant]


def stream_steps(e: GruEngines, case):
    """Per framework a callable doing one streaming step on a fixed (1, 1, I) input, carrying h
    (a quantized case: also our fp32 model's step, as OURS_FP32)."""
    H = case.hidden_size
    x = np.random.default_rng(1).standard_normal((1, 1, case.input_size), dtype=np.float32)

    x_t, h = torch.from_numpy(x), torch.zeros(1, 1, H)

    def torch_step():
        nonlocal h
        y, h = e.torch(x_t, h)
        return y

    feed = {"X": x, "h0": np.zeros((1, 1, H), np.float32)}

    def ort_step():
        y, feed["h0"] = e.ort.run(None, feed)
        return y

    x_ours = x.reshape(-1).copy()

    def ours_step_of(model):
        stream, buf = model.stream(), np.empty(H, np.float32)
        return lambda: stream.step(x_ours, out=buf)

    calls = {"gru_infer": ours_step_of(e.ours_as(case.quant)), "torch": torch_step, "onnxruntime": ort_step}
    if case.quant:
        calls[OURS_FP32] = ours_step_of(e.ours)
    return calls


def predict_calls(e: GruEngines, case):
    """Per framework a callable running the whole (B, T, I) batch-first sequence from h = 0 (a
    quantized case: also our fp32 model, as OURS_FP32)."""
    x = np.random.default_rng(1).standard_normal((case.batch, case.steps, case.input_size), dtype=np.float32)
    x_t = torch.from_numpy(x)
    feed = {"X": x, "h0": np.zeros((1, case.batch, case.hidden_size), np.float32)}
    ours = e.ours_as(case.quant)
    calls = {"gru_infer": lambda: ours.predict(x),
             "torch": lambda: e.torch(x_t)[0],
             "onnxruntime": lambda: e.ort.run(["Y"], feed)[0]}
    if case.quant:
        calls[OURS_FP32] = lambda: e.ours.predict(x)
    return calls


def check_agreement(case, calls, repeats: int):
    """Call every framework `repeats` times and require all outputs to agree with PyTorch's: fp32 ones
    within TOLERANCE, a quantized model within QUANT_MAX_ERROR. Returns (the max error of the fp32
    ones, the quantized model's max error, or None for an fp32 case)."""
    worst, worst_quant = 0.0, 0.0
    for i in range(repeats):
        outs = {name: np.asarray(call(), dtype=np.float64).reshape(-1) for name, call in calls.items()}
        ref = outs["torch"]
        for name, out in outs.items():
            err = float(np.max(np.abs(out - ref)))
            if case.quant and name == "gru_infer":
                limit = QUANT_MAX_ERROR[case.quant]
                assert err <= limit, f"{case.name}: {case.quant} model differs from fp32 by {err:.3g} at call {i}"
                worst_quant = max(worst_quant, err)
                continue
            assert err <= TOLERANCE, f"{case.name}: {name} differs from torch by {err:.3g} at call {i}"
            worst = max(worst, err)
    return worst, (worst_quant if case.quant else None)


@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    """engines(I, H) -> GruEngines, built (and exported to ONNX) once per session."""
    built = {}

    def get(input_size: int, hidden_size: int) -> GruEngines:
        key = (input_size, hidden_size)
        if key not in built:
            path = tmp_path_factory.mktemp("onnx") / f"gru_i{input_size}_h{hidden_size}.onnx"
            built[key] = GruEngines(input_size, hidden_size, path)
        return built[key]

    return get


@pytest.fixture(scope="session")
def timed_calls(engines):
    """timed_calls(case) -> ({framework: callable}, (max fp32 error, quantized error or None)), checked
    for agreement once per case."""
    prepared = {}

    def get(case):
        if case not in prepared:
            e = engines(case.input_size, case.hidden_size)
            with torch.no_grad():
                if case.kind == "stream":
                    calls = stream_steps(e, case)
                    err = check_agreement(case, calls, STREAM_CHECK_STEPS)
                else:
                    calls = predict_calls(e, case)
                    err = check_agreement(case, calls, 1)
            prepared[case] = (calls, err)
        return prepared[case]

    return get
