"""Shared fixtures: the active-ISA restorer and a recorder of measured errors.

`errors.check(category, got, ref, tol)` asserts max|got - ref| <= tol and remembers the largest
error seen per category; the table is printed at the end of the run (pytest's terminal summary).
"""
import os
from collections import defaultdict

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on PyTorch: no TensorFlow needed

import numpy as np
import pytest

import gru_infer

try:
    import torch
except ImportError:  # the torch-based test files fail on their own import; the others still run
    torch = None
else:
    # One torch thread: the references are small, and torch's OpenMP workers spin-wait between
    # calls, which on a 2-core machine steals the cores the engine runs on.
    torch.set_num_threads(1)

_MAX_ERR = defaultdict(float)
_COUNT = defaultdict(int)


class ErrorRecorder:
    def check(self, category: str, got, ref, tol: float) -> float:
        got = np.asarray(got, dtype=np.float64)
        ref = np.asarray(ref, dtype=np.float64)
        assert got.shape == ref.shape, f"{category}: shape {got.shape} != reference shape {ref.shape}"
        assert np.all(np.isfinite(got)), f"{category}: non-finite values in the output"
        err = float(np.max(np.abs(got - ref))) if got.size else 0.0
        _MAX_ERR[category] = max(_MAX_ERR[category], err)
        _COUNT[category] += 1
        assert err <= tol, f"{category}: max abs error {err:.3g} > {tol:g}"
        return err


@pytest.fixture
def errors():
    return ErrorRecorder()


@pytest.fixture
def restore_isa():
    """Restores the ISA that was active before the test, whatever the test sets."""
    before = gru_infer.active_isa()
    yield before
    gru_infer.set_isa(before)


@pytest.fixture
def restore_threads():
    """Restores the engine's thread count after the test."""
    before = gru_infer.get_num_threads()
    yield before
    gru_infer.set_num_threads(before)


def pytest_terminal_summary(terminalreporter):
    if not _MAX_ERR:
        return
    terminalreporter.section("max abs error per category (vs reference)")
    for cat in sorted(_MAX_ERR):
        terminalreporter.write_line(f"{cat:<48} {_MAX_ERR[cat]:.3e}  ({_COUNT[cat]} checks)")
