"""Read `.safetensors` files (docs/importers.md, safetensors) with NumPy only, and import a GRU state_dict from one.

The format: an unsigned 64-bit little-endian header length N, N bytes of JSON
`{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}?}`,
then the raw little-endian tensor bytes; offsets are relative to the start of that buffer.
The `safetensors` package is not needed: the format is this simple, and parsing it here keeps
NumPy the only runtime dependency.
"""
from __future__ import annotations

import os
import struct
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import ModelFormatError
from ._state_dict import layers_from_state_dict
from ._untrusted import check_shape, load_json, safe_repr

FORMAT = "safetensors"

__all__ = ["FORMAT", "sniff", "read", "read_safetensors", "layers_from_safetensors"]

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "BF16": np.uint16,
           "I64": np.int64, "I32": np.int32}
_MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors library itself enforces


def sniff(head: bytes, path: str) -> bool:
    """A little-endian header length smaller than the file, followed by the header's JSON `{`."""
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < os.path.getsize(path)


def read(path, **options) -> Tuple[list, Dict[str, Any]]:
    return layers_from_safetensors(path, **options)


def _check_entry(name: str, entry, buffer_size: int) -> Tuple[np.dtype, Tuple[int, ...], int, int]:
    if not isinstance(entry, dict):
        raise ValueError(f"tensor {name!r}: expected a JSON object with dtype/shape/data_offsets, got "
                         f"{safe_repr(entry)}")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in _DTYPES:
        raise ValueError(f"tensor {name!r}: dtype {dtype!r} is not supported (expected one of {sorted(_DTYPES)})")
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0  # noqa: E731
    if not (isinstance(shape, list) and all(is_int(n) for n in shape)):
        raise ValueError(f"tensor {name!r}: shape must be a list of non-negative integers, got {safe_repr(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_int(o) for o in offsets)):
        raise ValueError(f"tensor {name!r}: data_offsets must be [begin, end], got {safe_repr(offsets)}")
    begin, end = offsets
    if not begin <= end <= buffer_size:
        raise ValueError(f"tensor {name!r}: data_offsets [{begin}, {end}] are outside the {buffer_size}-byte "
                         f"data buffer")
    dt = np.dtype(_DTYPES[dtype]).newbyteorder("<")
    needed = check_shape(shape, f"tensor {name!r}", dt.itemsize)
    if end - begin != needed:
        raise ValueError(f"tensor {name!r}: {dtype} of shape {shape} needs {needed} bytes, data_offsets give "
                         f"{end - begin}")
    return dt, tuple(shape), begin, end


def read_safetensors(path) -> Dict[str, np.ndarray]:
    """The tensors of a .safetensors file as {name: ndarray}, in header order.

    F32/F64/F16/I64/I32 keep their dtype; BF16 is widened to float32 (exact). A file that is too
    short, has a bad header or offsets outside the data raises ValueError.
    """
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    if size < 8:
        raise ValueError(f"{path}: {size} bytes, too short for a safetensors file (8-byte header length first)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(size - 8, _MAX_HEADER):
        raise ValueError(f"{path}: header length {n} does not fit in the {size}-byte file (not a safetensors "
                         f"file, or truncated)")
    header = load_json(data[8:8 + n], f"{path}: the safetensors header")
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header must be a JSON object, got {type(header).__name__}")
    buffer = memoryview(data)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dt, shape, begin, end = _check_entry(name, entry, len(buffer))
        except ModelFormatError as e:
            raise ModelFormatError(f"{path}: {e}") from None
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        arr = np.frombuffer(buffer[begin:end], dt).reshape(shape)
        if entry["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            tensors[name] = (arr.astype(np.uint32) << 16).view(np.float32)
        else:
            tensors[name] = arr.astype(dt.newbyteorder("="))
    return tensors


def layers_from_safetensors(path, head: Optional[str] = None) -> Tuple[list, Dict[str, Any]]:
    """Import a PyTorch state_dict saved as safetensors (GRU modules, optionally followed by Linear layers).

    safetensors stores keys sorted by dtype and name, not in module order, so the module order is
    inferred from the shapes (`layers_from_state_dict(..., module_order="shapes")`). info is that
    function's, with "source": "safetensors" and "path".
    """
    layers, info = layers_from_state_dict(read_safetensors(path), module_order="shapes", head=head)
    info.update(source="safetensors", path=str(path))
    return layers, info
