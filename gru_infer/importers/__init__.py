"""One module (or package) per model file format, each with the same three names:

- `FORMAT`: the format's name, as `gru_infer.load(path, format=...)` takes it and `info["format"]` reports it;
- `sniff(head, path) -> bool`: whether a file is of this format, from its first 16 bytes `head` (and, for
  zip-based formats, its member names); never from the file name;
- `read(path) -> (layers, info)`: the framework-neutral layers (`gru_infer.layers`) and what the file said
  or what had to be assumed. The native format returns the loaded `Model` instead of layers.

`REGISTRY` lists them (format name, module) in the order they are tried: each format's test is
only reached when the ones before it did not match (e.g. a safetensors header length may begin with
the bytes of a pickle opcode, so safetensors is tried before PyTorch's legacy pickle format).
Importers do not import each other: what several share lives in private modules (`_state_dict`,
`_keras_layout`, `_zip`). A module is imported only when its turn comes (loading a native file
imports no other importer), and each imports its framework (torch, onnx, h5py), if it needs one,
only when it reads a file.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from ._zip import zip_members

REGISTRY = (  # (format, module): the format is also the module's FORMAT (tests/test_layout.py checks)
    ("native", "native"),
    ("keras", "keras"),
    ("npz", "npz"),
    ("safetensors", "safetensors"),
    ("pytorch", "torch_file"),
    ("rtneural", "rtneural"),
    ("onnx", "onnx"),
)
FORMATS = tuple(fmt for fmt, _ in REGISTRY)
HEAD_SIZE = 16

__all__ = ["REGISTRY", "FORMATS", "detect_format", "importer"]


def importer(fmt: str) -> ModuleType:
    """The importer module of format `fmt`."""
    for name, module in REGISTRY:
        if name == fmt:
            return importlib.import_module(f"{__name__}.{module}")
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def detect_format(path: str) -> str:
    """The format of a model file, from its content (first bytes, zip member names), never its name."""
    with open(path, "rb") as f:
        head = f.read(HEAD_SIZE)
    for fmt in FORMATS:
        if importer(fmt).sniff(head, path):
            return fmt
    names = zip_members(path)
    if names is not None:
        raise ValueError(f"{path!r} is not a model file gru_infer reads: a zip file of an unknown kind "
                         f"(members: {names[:5]})")
    raise ValueError(f"{path!r} is not a model file gru_infer reads: expected one of {', '.join(FORMATS)}, "
                     f"got " + (f"a file starting with {head[:8]!r}" if head else "an empty file"))
