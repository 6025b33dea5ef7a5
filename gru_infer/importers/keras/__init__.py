"""Keras model and weights files (.keras zip, .h5 model, .weights.h5), read without Keras or TensorFlow.

What is read, assumed and refused: `_reader` (its docstring) and docs/importers.md. The reader is
imported on first use, so that recognising a file costs nothing more than this module.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from .._zip import zip_members
from ._magic import HDF5_MAGIC

FORMAT = "keras"

__all__ = ["FORMAT", "HDF5_MAGIC", "sniff", "read"]


def sniff(head: bytes, path: str) -> bool:
    """An HDF5 file, or a zip holding a config.json (a Keras 3 .keras archive)."""
    if head[:8] == HDF5_MAGIC:
        return True
    names = zip_members(path)
    return names is not None and "config.json" in names


def read(path, **options) -> Tuple[list, Dict[str, Any]]:
    """`_reader.layers_from_keras(path)`: (layers, info)."""
    from ._reader import layers_from_keras
    return layers_from_keras(path, **options)
