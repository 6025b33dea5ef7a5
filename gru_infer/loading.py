"""`gru_infer.load(path)`: recognise a model file by its content, then hand it to its importer.

The importers (`gru_infer.importers`) return framework-neutral layers (gru_infer.layers) and an
`info` dict; each one imports its framework (if it needs one at all) only when called.
"""
from __future__ import annotations

import os
from typing import Optional, Union

from .model import Model

__all__ = ["load", "from_torch", "detect_format"]


def detect_format(path: str) -> str:
    """The format of a model file, from its content (first bytes, zip member names), never its name."""
    from . import importers  # imported on first use: `import gru_infer` stays light
    return importers.detect_format(path)


def load(path: Union[str, os.PathLike], format: Optional[str] = None) -> Model:
    """Load a model file of any supported format (`gru_infer.importers.FORMATS`), recognised by its content.

    `format` forces one format instead of detecting it. The model's `info` says where it came from
    and what the importer had to assume (e.g. activations a weights-only file cannot store).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    from . import importers
    fmt = format or importers.detect_format(path)
    layers, info = importers.importer(fmt).read(path)
    if isinstance(layers, Model):  # the native format: the core loaded the file itself
        model = layers
        model.info = {**info, "format": fmt}
        return model
    model = Model.from_layers(layers, source=info.get("source", fmt))
    model.info = {"format": fmt, **info}
    return model


def from_torch(module) -> Model:
    """Convert a live PyTorch module (nn.GRU, nn.GRUCell, nn.Sequential, or a module whose forward
    is GRU -> last step or all steps -> Linear/activations). predict always takes batch-first input."""
    from .importers.torch_module import layers_from_torch
    layers, info = layers_from_torch(module)
    model = Model.from_layers(layers, source=info.get("source", "pytorch"))
    model.info = info
    return model
