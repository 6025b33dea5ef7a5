"""ONNX models (a GRU operator graph plus the ops exporters put around it), read with the onnx package.

See `_reader` for the info keys and `_walker` for how the graph is interpreted.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from ._reader import OnnxImportError, layers_from_onnx, load_onnx_model

FORMAT = "onnx"

__all__ = ["FORMAT", "sniff", "read", "layers_from_onnx", "load_onnx_model", "OnnxImportError"]


def sniff(head: bytes, path: str) -> bool:
    """Protobuf field 1 (ir_version, a varint): the first byte of every serialized ModelProto."""
    return head[:1] == b"\x08"


def read(source, **options) -> Tuple[list, Dict[str, Any]]:
    return layers_from_onnx(source, **options)
