"""`gru_infer.load(path)`: recognise a model file by its content, then hand it to its importer."""
from __future__ import annotations

import os
import zipfile
from typing import Union

from . import _core
from .model import Model

NATIVE_MAGIC = b"GRUINFER"


def load(path: Union[str, os.PathLike]) -> Model:
    """Load a model file: the native format, or a PyTorch state_dict saved with torch.save."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head == NATIVE_MAGIC:
        return Model(_core.Model.load(path))
    if zipfile.is_zipfile(path) and _is_torch_zip(path):
        from .torch_import import load_torch_file
        layers, info = load_torch_file(path)
        return Model.from_layers(layers, source=info.get("source", "pytorch"))
    raise ValueError(f"{path!r} is not a model file gru_infer reads: expected a gru_infer native file "
                     f"or a PyTorch state_dict saved with torch.save, got a file starting with {head!r}")


def _is_torch_zip(path: str) -> bool:
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/data.pkl") or n == "data.pkl" for n in z.namelist())


def from_torch(module) -> Model:
    """Convert a live PyTorch module (nn.GRU, nn.GRUCell, nn.Sequential, or a module whose forward
    is GRU -> last step or all steps -> Linear/activations). predict always takes batch-first input."""
    from .torch_import import layers_from_torch
    layers, info = layers_from_torch(module)
    return Model.from_layers(layers, source=info.get("source", "pytorch"))
