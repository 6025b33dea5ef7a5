"""Per-feature affine maps (BatchNormalization at inference, exporters' Mul + Add pairs) folded into
a neighbouring Dense where that is exact, so they cost nothing at run time:

- Dense then Affine: W' = diag(scale) W, b' = scale * b + shift;
- Affine then Dense (a LastStep between them commutes with both): W' = W diag(scale), b' = b + W shift.

Nothing else may sit between them (an activation is not linear; a GRU mixes the features through its
gates). Folded weights are computed in float64 and rounded once, so the folded model differs from the
unfolded one only by float32 rounding. An Affine with no Dense next to it stays an Affine layer.
"""
from __future__ import annotations

from typing import List

import numpy as np

from ..layers import Affine, Dense, LastStep


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _into_previous(dense: Dense, aff: Affine) -> Dense:
    s, t = _f64(aff.scale), _f64(aff.shift)
    w = _f64(dense.weight)
    b = np.zeros(w.shape[0]) if dense.bias is None else _f64(dense.bias)
    return Dense((s[:, None] * w).astype(np.float32), (s * b + t).astype(np.float32))


def _into_next(aff: Affine, dense: Dense) -> Dense:
    s, t = _f64(aff.scale), _f64(aff.shift)
    w = _f64(dense.weight)
    b = np.zeros(w.shape[0]) if dense.bias is None else _f64(dense.bias)
    return Dense((w * s[None, :]).astype(np.float32), (b + w @ t).astype(np.float32))


def fold_affine(layers: List[object]) -> List[object]:
    """The layers with every Affine that has a Dense right before it, or right after it (across
    LastSteps), folded into that Dense."""
    out: List[object] = []
    pending: List[Affine] = []  # Affines waiting for a Dense after them
    for layer in layers:
        if isinstance(layer, Affine):
            if out and isinstance(out[-1], Dense) and not pending:
                out[-1] = _into_previous(out[-1], layer)
            else:
                pending.append(layer)
            continue
        if isinstance(layer, LastStep) and pending:
            out.append(layer)  # commutes with a per-feature map; the Affine moves past it
            continue
        if isinstance(layer, Dense) and pending:
            for aff in reversed(pending):
                layer = _into_next(aff, layer)
            pending = []
            out.append(layer)
            continue
        if pending:
            out = _flush(out, pending)
            pending = []
        out.append(layer)
    return _flush(out, pending)


def _flush(out: List[object], pending: List[Affine]) -> List[object]:
    """Put waiting Affines back where they were: before the LastSteps they had moved past."""
    if not pending:
        return out
    k = len(out)
    while k and isinstance(out[k - 1], LastStep):
        k -= 1
    return out[:k] + pending + out[k:]
