"""`gru_infer.load(path)`: recognise a model file by its content, then hand it to its importer.

Every importer returns framework-neutral layers (gru_infer.layers) and an `info` dict; each one
imports its framework (if it needs one at all) only when called.
"""
from __future__ import annotations

import os
import struct
import zipfile
from typing import Any, Callable, Dict, Optional, Tuple, Union

from . import _core
from .model import Model

NATIVE_MAGIC = b"GRUINFER"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

FORMATS = ("native", "pytorch", "safetensors", "keras", "onnx", "npz", "rtneural")


def detect_format(path: str) -> str:
    """The format of a model file, from its first bytes (and zip member names), never its name."""
    with open(path, "rb") as f:
        head = f.read(16)
    size = os.path.getsize(path)
    if head and NATIVE_MAGIC.startswith(head[:8]):  # ours, maybe truncated: the core says what is wrong
        return "native"
    if head[:8] == HDF5_MAGIC:
        return "keras"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise ValueError(f"{path!r} looks like a zip file but cannot be read: {e}") from None
        if "config.json" in names:
            return "keras"
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "pytorch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise ValueError(f"{path!r} is not a model file gru_infer reads: a zip file of an unknown kind "
                         f"(members: {names[:5]})")
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < size:
        return "safetensors"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):  # PyTorch's legacy format
        return "pytorch"
    if head.lstrip()[:1] == b"{":
        return "rtneural"
    if head[:1] == b"\x08":  # protobuf field 1 (ir_version) opens every ONNX ModelProto
        return "onnx"
    raise ValueError(f"{path!r} is not a model file gru_infer reads: expected one of {', '.join(FORMATS)}, "
                     f"got " + (f"a file starting with {head[:8]!r}" if head else "an empty file"))


def _importer(fmt: str) -> Callable[[str], Tuple[list, Dict]]:
    if fmt == "pytorch":
        from .torch_import import load_torch_file
        return load_torch_file
    if fmt == "safetensors":
        from .safetensors_reader import layers_from_safetensors
        return layers_from_safetensors
    if fmt == "keras":
        from .keras_import import layers_from_keras
        return layers_from_keras
    if fmt == "onnx":
        from .onnx_import import layers_from_onnx
        return layers_from_onnx
    if fmt == "npz":
        from .npz_import import layers_from_npz
        return layers_from_npz
    if fmt == "rtneural":
        from .rtneural_import import layers_from_rtneural_json
        return layers_from_rtneural_json
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def load(path: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview], format: Optional[str] = None) -> Model:
    """Load a model file of any supported format (see FORMATS), recognised by its content.

    `path` is a file name, or the file's contents as bytes, bytearray or memoryview.

    `format` forces one format instead of detecting it. The model's `info` says where it came from
    and what the importer had to assume (e.g. activations a weights-only file cannot store).
    """
    if isinstance(path, (bytes, bytearray, memoryview)):  # a file's contents, not its name
        from .serialization import load_bytes
        return load_bytes(path, format)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    fmt = format or detect_format(path)
    if fmt == "native":
        model = Model(_core.Model.load(path))
        model.info = {"source": model.source, "format": "native"}
        return model
    layers, info = _importer(fmt)(path)
    model = Model.from_layers(layers, source=info.get("source", fmt))
    model.info = {"format": fmt, **info}
    return model


def from_torch(module: Any) -> Model:
    """Convert a live PyTorch module (nn.GRU, nn.GRUCell, nn.Sequential, or a module whose forward
    is GRU -> last step or all steps -> Linear/activations). predict always takes batch-first input."""
    from .torch_import import layers_from_torch
    layers, info = layers_from_torch(module)
    model = Model.from_layers(layers, source=info.get("source", "pytorch"))
    model.info = info
    return model
