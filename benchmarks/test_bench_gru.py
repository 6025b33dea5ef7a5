"""gru_infer against PyTorch and onnxruntime, one thread each, float32, one benchmark group per case.

    python -m pytest benchmarks            # or: python benchmarks/run.py (also writes results.md)
"""
import pytest
import torch
from bench_cases import CASES, FRAMEWORKS, TWO_THREADS

import gru_infer


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.replace(" ", "-"))
def test_gru(benchmark, timed_calls, case, framework):
    calls, max_err = timed_calls(case)  # all three agree within 1e-5 before anything is timed
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, framework=framework, max_abs_err_vs_torch=max_err)
    with torch.no_grad():
        benchmark(calls[framework])


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "predict" and c.batch == 1 and c.input_size > 16],
                         ids=lambda c: c.name.replace(" ", "-"))
def test_gru_infer_two_threads(benchmark, timed_calls, case):
    """Outside the one-thread table: a batch of one with a second thread (gru_infer's default on a
    2-core machine), which runs the input projection ahead of the steps."""
    calls, max_err = timed_calls(case)
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, framework=TWO_THREADS, max_abs_err_vs_torch=max_err)
    gru_infer.set_num_threads(2)
    try:
        benchmark(calls["gru_infer"])
    finally:
        gru_infer.set_num_threads(1)
