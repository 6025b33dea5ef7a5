"""The framework's output shape for a model whose head reshapes its output (from_torch's `.squeeze(-1)`,
`.view(-1)`, `.flatten(1)` of a sequence): `info["predict_reshape"]` names the reshape and
`Model.predict` applies it, so predict returns what the framework returns.

Each reshape acts on the engine's batched output ((B, F) or (B, T, F)); for one sequence, predict
then drops the batch axis where the reshape keeps one (torch's output for `x[None]`, minus the batch).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

RESHAPES = {  # name: (reshape of the batched output, keeps the batch axis)
    "squeeze_features": (lambda y: y[..., 0], True),                     # (B, 1) -> (B,), (B, T, 1) -> (B, T)
    "merge_time_features": (lambda y: y.reshape(y.shape[0], -1), True),  # (B, T, F) -> (B, T * F)
    "flatten": (lambda y: y.reshape(-1), False),                         # (B, F) -> (B * F,)
    "squeeze": (lambda y: y.squeeze(), False),                           # every axis of length 1
}


def reshape_output(y: np.ndarray, name: Optional[str], batched: bool) -> np.ndarray:
    """predict's output: `y` (the engine's batched output) reshaped as `name` says (None: as it is),
    without its batch axis for one sequence."""
    if name is None:
        return y if batched else y[0]
    if name not in RESHAPES:
        raise ValueError(f"info['predict_reshape'] must be one of {tuple(RESHAPES)} or absent, got {name!r}")
    reshape, keeps_batch = RESHAPES[name]
    y = reshape(y)
    return y[0] if keeps_batch and not batched else y
