"""gru_infer against PyTorch and onnxruntime, one thread each, float32, one benchmark group per case.

    python -m pytest benchmarks            # or: python benchmarks/run.py (also writes results.md)
"""
import pytest
import torch

from bench_cases import CASES, FRAMEWORKS


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.replace(" ", "-"))
def test_gru(benchmark, timed_calls, case, framework):
    calls, max_err = timed_calls(case)  # all three agree within 1e-5 before anything is timed
    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, framework=framework, max_abs_err_vs_torch=max_err)
    with torch.no_grad():
        benchmark(calls[framework])
