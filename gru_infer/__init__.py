"""gru_infer: fast, exact CPU inference for GRU networks.

    import gru_infer
    model = gru_infer.load("model.gru")          # or gru_infer.from_torch(module)
    y = model.predict(x)                          # x: (batch, steps, features)
    s = model.stream(); y_t = s.step(x_t)         # one step at a time

Importing this package never imports torch, onnx or keras: each importer imports its
framework only when it is used.
"""
from ._core import (
    __version__,  # pyproject.toml's [project] version, compiled in by setup.py (VERSION_INFO)
    active_isa,
    available_isas,
    get_num_threads,
    set_isa,
    set_num_threads,
)
from .errors import ModelFormatError, UnsupportedModelError
from .loading import from_torch, load
from .model import Model, Stream

__all__ = [
    "Model", "Stream", "ModelFormatError", "UnsupportedModelError", "load", "from_torch", "set_isa", "active_isa",
    "available_isas", "set_num_threads", "get_num_threads", "__version__",
]
