"""Argument checks shared by Model (gru_infer/model.py) and Stream (src/_stream.pyx): a wrong shape,
dtype or flag raises a ValueError naming what was expected and what was given."""
from __future__ import annotations

import numpy as np


def _numeric(a, name: str, kinds: str = "biuf") -> np.ndarray:
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as e:  # ragged nested lists and the like
        raise ValueError(f"{name}: cannot be read as an array ({e})") from None
    if arr.dtype.kind not in kinds:
        want = "integer" if kinds == "iu" else "numeric"
        raise ValueError(f"{name}: expected a {want} array, got dtype {arr.dtype}")
    return arr


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _c_array(a, dtype) -> np.ndarray:
    """`a` as a C-contiguous array of `dtype` aligned to its element size (copied if it is not:
    np.ascontiguousarray keeps a misaligned view like np.frombuffer(buf, offset=1) as it is)."""
    return np.require(a, dtype, "CA")
