"""A CRNN (Conv1d front-end -> GRU -> Linear head) in PyTorch against the same module after
gru_infer.torch.accelerate, batch 1, T = 100, one thread each (conftest.py sets both), under
torch.no_grad(). Issue 23's target: >= 5x. The two outputs agree within 1e-5 before timing.

    python -m pytest benchmarks/test_bench_torch_accelerate.py
"""
import pytest
import torch
from bench_cases import ACCELERATE_CASES, ACCELERATED
from torch import nn

import gru_infer.torch

STEPS, MELS, CONV, HIDDEN, CLASSES = 100, 40, 64, 128, 10  # as the case names in bench_cases say
FRAMEWORKS = ["torch", ACCELERATED]


class CRNN(nn.Module):
    """A speech-style classifier: (B, MELS, T) features -> per-frame class scores (B, T, CLASSES)."""

    def __init__(self, bidirectional: bool):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(MELS, CONV, 3, padding=1), nn.BatchNorm1d(CONV), nn.ReLU())
        self.gru = nn.GRU(CONV, HIDDEN, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(HIDDEN * (2 if bidirectional else 1), CLASSES)

    def forward(self, x):
        y, _ = self.gru(self.conv(x).transpose(1, 2))
        return self.head(y)


_BUILT = {}


def calls(case: str):
    """{framework: callable} for a case, built once and checked to agree."""
    if case not in _BUILT:
        torch.manual_seed(0)
        net = CRNN(ACCELERATE_CASES[case]).eval()
        fast = gru_infer.torch.accelerate(net)
        x = torch.randn(1, MELS, STEPS, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            assert (fast(x) - net(x)).abs().max().item() <= 1e-5
        _BUILT[case] = {"torch": lambda: net(x), ACCELERATED: lambda: fast(x)}
    return _BUILT[case]


@pytest.mark.parametrize(("case", "framework"), [(c, f) for c in ACCELERATE_CASES for f in FRAMEWORKS],
                         ids=lambda v: v.replace(" ", "-").replace(",", ""))
def test_crnn(benchmark, case, framework):
    call = calls(case)[framework]
    benchmark.group = case
    benchmark.extra_info.update(case=case, framework=framework)
    with torch.no_grad():
        benchmark(call)
