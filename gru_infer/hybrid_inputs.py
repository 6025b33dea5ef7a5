"""Inputs for a HybridModel at chosen sizes: each graph input's shape with its free axes set, and
random feeds of those shapes (what `verify --rest`, `bench --rest` and `HybridModel.quantize`'s
synthetic input run on)."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from .hybrid_layout import ONNX_NUMPY_TYPES


def concrete_shapes(hybrid: Any, batch: int, steps: int) -> Dict[str, Tuple[int, ...]]:
    """Each graph input's shape (info["input_shapes"], as the graph declares it) with its free dimensions
    set: batch and time for the first two axes (time first where the input feeds a seq-first GRU
    directly), 1 for any other; a named dimension keeps the value it got first."""
    seq_first = {p["io"]["input_name"] for p in hybrid._parts
                 if p["runs_in"] == "gru_infer" and p["io"]["input_layout"] == "seq_first"}
    named: Dict[str, int] = {}
    shapes = {}
    for name in hybrid.input_names:
        free = (steps, batch) if name in seq_first else (batch, steps)
        dims = []
        for k, d in enumerate(hybrid.info["input_shapes"][name]):
            if isinstance(d, int) and d > 0:
                dims.append(d)
                continue
            value = free[k] if k < 2 else 1
            if isinstance(d, str) and d:
                value = named.setdefault(d, value)
            dims.append(value)
        shapes[name] = tuple(dims)
    return shapes


def random_feeds(hybrid: Any, batch: int, steps: int, seed: int = 0, floats_only: bool = False
                 ) -> Dict[str, np.ndarray]:
    """Float inputs standard normal, integer and bool inputs zeros (floats_only: refused), at
    concrete_shapes(hybrid, batch, steps)."""
    shapes = concrete_shapes(hybrid, batch, steps)
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, elem in hybrid._inputs:
        dtype = np.dtype(ONNX_NUMPY_TYPES.get(elem, np.float32))
        if dtype.kind != "f" and floats_only:
            raise ValueError(f"input {name!r} is {dtype}: there is no synthetic input for it; pass calibration=")
        shape = shapes[name]
        feeds[name] = rng.standard_normal(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
    return feeds
