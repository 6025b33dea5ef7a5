"""ONNX models (a GRU operator graph plus the ops exporters put around it), read with the onnx package.

`_reader` reads the file (its docstring lists the info keys), `_walker` interprets the graph; see
also docs/importers.md. They are imported on first use, so that recognising a file costs nothing
more than this module.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

FORMAT = "onnx"

__all__ = ["FORMAT", "sniff", "read"]


def sniff(head: bytes, path: str) -> bool:
    """Protobuf field 1 (ir_version, a varint): the first byte of every serialized ModelProto."""
    return head[:1] == b"\x08"


def read(source, **options) -> Tuple[list, Dict[str, Any]]:
    """`_reader.layers_from_onnx(source)`: (layers, info); source a path, bytes or an onnx.ModelProto."""
    from ._reader import layers_from_onnx
    return layers_from_onnx(source, **options)
