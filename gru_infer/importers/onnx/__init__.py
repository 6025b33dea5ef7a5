"""ONNX models (a GRU operator graph plus the ops exporters put around it), read with the onnx package.

`_reader` reads the file (its docstring lists the info keys), `_walker` interprets the graph; see
also docs/importers.md. They are imported on first use, so that recognising a file costs nothing
more than this module.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Tuple

FORMAT = "onnx"
HYBRID_HINT = ('gru_infer.load(path, rest="onnxruntime") runs the GRU nodes in gru_infer and the rest of the '
               'graph in onnxruntime')

__all__ = ["FORMAT", "sniff", "read"]


def sniff(head: bytes, path: str) -> bool:
    """Protobuf field 1 (ir_version, a varint): the first byte of every serialized ModelProto."""
    return head[:1] == b"\x08"


def read(source, **options) -> Tuple[list, Dict[str, Any]]:
    """`_reader.layers_from_onnx(source)`: (layers, info); source a path, bytes or an onnx.ModelProto."""
    from ...errors import OnnxImportError
    from ._reader import layers_from_onnx
    try:
        return layers_from_onnx(source, **options)
    except OnnxImportError as e:  # name the file, and the way to run such a graph anyway
        where = f"{os.fspath(source)}: " if isinstance(source, (str, os.PathLike)) and \
            os.fspath(source) not in str(e) else ""
        raise OnnxImportError(f"{where}{e} [{HYBRID_HINT}]") from None
    except ValueError as e:  # name the file in every refusal
        if isinstance(source, (str, os.PathLike)) and os.fspath(source) not in str(e):
            raise type(e)(f"{os.fspath(source)}: {e}") from None
        raise
