"""Big batches (servers): gru_infer fp32 / int8 / bf16 against onnxruntime, OpenVINO and PyTorch (fp32,
and PyTorch's own reduced precision: `quantize_dynamic` qint8 and bf16 weights), one and two threads.

    python -m pytest benchmarks/test_bench_batch.py      # or python benchmarks/run.py (the report's batch table)

Every engine runs the same torch.nn.GRU(H, H) on x ~ N(0, 1) of (B, T, H) from h = 0. Before timing, each
output's max abs difference from PyTorch fp32 is measured and kept (`max_abs_err_vs_fp32`); the fp32
engines must agree within 1e-4 (long sequences, big sums) and our int8 / bf16 within QUANT_MAX_ERROR
(the peers' reduced precision is only recorded). OpenVINO (`pip install openvino`, optional) runs at
the precision it picks for this CPU (bf16 where the CPU has AMX or AVX512_BF16, else fp32), recorded,
and as "OpenVINO fp32" forced to f32 (INFERENCE_PRECISION_HINT). Nothing is asserted about time:
compare medians per group (speed-up = theirs / ours).
"""
import copy

import numpy as np
import pytest
import torch
from bench_cases import BATCH_CASES, BATCH_ENGINES, BATCH_THREADS, QUANT_MAX_ERROR, batch_group
from bench_onnx import export_gru, ort_session

import gru_infer

FP32_TOLERANCE = 1e-4


def _openvino(path, case, threads, precision=None):
    """(compiled model, the precision it runs at), or None without the optional openvino package.
    precision: None for OpenVINO's own choice on this CPU, or e.g. "f32"."""
    try:
        import openvino as ov
    except ImportError:
        return None
    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape({"X": [case.batch, case.steps, case.input_size], "h0": [1, case.batch, case.hidden_size]})
    config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    compiled = core.compile_model(model, "CPU", config)
    return compiled, compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()


class BatchEngines:
    """Per case, the engines built once: ours and PyTorch's (their thread counts are process-wide settings,
    set per call by `_threads`) and the ONNX file. `at(threads)`: {engine: zero-argument callable}, with
    onnxruntime and OpenVINO compiled for that thread count, checked against PyTorch fp32 at it."""

    def __init__(self, case, tmp_path):
        torch.manual_seed(0)
        self.case = case
        gru = torch.nn.GRU(case.input_size, case.hidden_size, batch_first=True).eval()
        x = np.random.default_rng(1).standard_normal((case.batch, case.steps, case.input_size), dtype=np.float32)
        x_t = torch.from_numpy(x)
        self.path = export_gru(gru, tmp_path / "gru.onnx")
        self.feed = {"X": x, "h0": np.zeros((1, case.batch, case.hidden_size), np.float32)}
        ours = gru_infer.from_torch(gru)
        int8, bf16 = ours.quantize("int8"), ours.quantize("bf16")
        # (quantize_dynamic swaps a model's children, never the model itself: the GRU goes in a holder)
        torch_int8 = torch.ao.quantization.quantize_dynamic(torch.nn.ModuleDict({"gru": gru}), {torch.nn.GRU},
                                                            dtype=torch.qint8)["gru"]
        torch_bf16, x_bf16 = copy.deepcopy(gru).to(torch.bfloat16), x_t.to(torch.bfloat16)
        self.built = {
            "gru_infer fp32": lambda: ours.predict(x),
            "gru_infer int8": lambda: int8.predict(x),
            "gru_infer bf16": lambda: bf16.predict(x),
            "PyTorch fp32": lambda: gru(x_t)[0],
            "PyTorch qint8": lambda: torch_int8(x_t)[0],
            "PyTorch bf16": lambda: torch_bf16(x_bf16)[0],
        }
        self.threads = None

    def at(self, threads):
        """The engines at `threads` threads: sets calls, precision and errors (max abs vs PyTorch fp32)."""
        if threads != self.threads:
            self.threads, self.precision = threads, {}
            session = ort_session(self.path, threads)
            self.calls = {**self.built, "onnxruntime fp32": lambda: session.run(["Y"], self.feed)[0]}
            for engine, precision in (("OpenVINO", None), ("OpenVINO fp32", "f32")):
                ov_model = _openvino(self.path, self.case, threads, precision)
                if ov_model is not None:
                    self.calls[engine], self.precision[engine] = _openvino_call(*ov_model, self.feed)
            self.errors = self._check()
        return self

    def _check(self):
        with torch.no_grad():
            ref = self.calls["PyTorch fp32"]().numpy().astype(np.float64)
            errors = {}
            for name, call in self.calls.items():
                with _threads(self.threads):
                    out = call()
                out = out.float().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
                out = out.reshape(ref.shape).astype(np.float64)
                err = float(np.max(np.abs(out - ref)))
                errors[name] = err
                if name in ("gru_infer int8", "gru_infer bf16"):  # the peers' reduced precision: recorded only
                    limit = QUANT_MAX_ERROR[name.split()[1]]
                elif name.endswith("fp32"):
                    limit = FP32_TOLERANCE
                else:
                    continue
                assert err <= limit, f"{self.case.name}: {name} differs from PyTorch fp32 by {err:.3g} (<= {limit:g})"
        return errors


def _openvino_call(compiled, precision, feed):
    request = compiled.create_infer_request()
    return (lambda: request.infer(feed)[compiled.output(0)]), precision


class _threads:
    """Every engine's thread count for the duration (ours and PyTorch's are process-wide settings)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.saved = gru_infer.get_num_threads(), torch.get_num_threads()
        gru_infer.set_num_threads(self.n)
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        gru_infer.set_num_threads(self.saved[0])
        torch.set_num_threads(self.saved[1])


@pytest.fixture(scope="module")
def batch_engines(tmp_path_factory):
    built = {}

    def get(case, threads):
        if case not in built:
            built.clear()  # one case's engines at a time: the big ones hold hundreds of MB
            built[case] = BatchEngines(case, tmp_path_factory.mktemp("batch"))
        return built[case].at(threads)

    return get


TIMED = [(c, n, e) for c in BATCH_CASES for n in BATCH_THREADS for e in BATCH_ENGINES]


@pytest.mark.parametrize(("case", "threads", "engine"), TIMED,
                         ids=[f"{c.name.replace(' ', '-')}-{n}t-{e.replace(' ', '-')}" for c, n, e in TIMED])
def test_batch(benchmark, batch_engines, case, threads, engine):
    engines = batch_engines(case, threads)
    if engine not in engines.calls:
        pytest.skip(f"{engine} is not installed (pip install openvino)")
    benchmark.group = batch_group(case, threads)
    benchmark.extra_info.update(case=benchmark.group, framework=engine, threads=threads,
                                max_abs_err_vs_fp32=engines.errors[engine],
                                precision=engines.precision.get(engine, ""))
    with torch.no_grad(), _threads(threads):
        benchmark.pedantic(engines.calls[engine], rounds=case.rounds, iterations=1, warmup_rounds=1)
