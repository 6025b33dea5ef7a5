"""Keras model and weights files (.keras zip, .h5 model, .weights.h5), read without Keras or TensorFlow.

See `_reader` for what is read, assumed and refused.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from .._zip import zip_members
from ._reader import layers_from_keras
from ._weights import HDF5_MAGIC

FORMAT = "keras"

__all__ = ["FORMAT", "sniff", "read", "layers_from_keras"]


def sniff(head: bytes, path: str) -> bool:
    """An HDF5 file, or a zip holding a config.json (a Keras 3 .keras archive)."""
    if head[:8] == HDF5_MAGIC:
        return True
    names = zip_members(path)
    return names is not None and "config.json" in names


def read(path, **options) -> Tuple[list, Dict[str, Any]]:
    return layers_from_keras(path, **options)
