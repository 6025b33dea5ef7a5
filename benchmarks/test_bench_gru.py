"""gru_infer against PyTorch and onnxruntime, one thread each, one benchmark group per case: float32,
and our int8 / bf16 models (quantized from the fp32 one, also timed) against their float32.

    python -m pytest benchmarks            # or: python benchmarks/run.py (also writes results.md)
"""
import pytest
import torch
from bench_cases import CASES, FRAMEWORKS, OURS_FP32, QUANT_CASES, TWO_THREADS

import gru_infer

TIMED = [(c, f) for c in CASES for f in FRAMEWORKS] + [(c, f) for c in QUANT_CASES for f in FRAMEWORKS + [OURS_FP32]]


@pytest.mark.parametrize(("case", "framework"), TIMED,
                         ids=[f"{c.name.replace(' ', '-')}-{f.replace(' ', '-')}" for c, f in TIMED])
def test_gru(benchmark, timed_calls, case, framework):
    calls, (max_err, quant_err) = timed_calls(case)  # all agree (conftest.check_agreement) before timing
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, framework=framework, max_abs_err_vs_torch=max_err)
    if case.quant:
        benchmark.extra_info.update(quant=case.quant, max_abs_err_vs_fp32=quant_err)
    with torch.no_grad():
        benchmark(calls[framework])


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "predict" and c.batch == 1 and c.input_size > 16],
                         ids=lambda c: c.name.replace(" ", "-"))
def test_gru_infer_two_threads(benchmark, timed_calls, case):
    """Outside the one-thread table: a batch of one with a second thread (gru_infer's default on a
    2-core machine), which runs the input projection ahead of the steps."""
    calls, (max_err, _) = timed_calls(case)
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, framework=TWO_THREADS, max_abs_err_vs_torch=max_err)
    gru_infer.set_num_threads(2)
    try:
        benchmark(calls["gru_infer"])
    finally:
        gru_infer.set_num_threads(1)
