"""Models by value: `Model.to_bytes`, pickling, and `gru_infer.load(bytes)`.

A pickled Model carries its native file bytes (docs/native_format.md), never a path, so it can
go to another process or machine (multiprocessing, Dask, Ray, Spark). Protocol 5 hands the bytes
to a `buffer_callback` out of band (pickle.PickleBuffer). Unpickling loads the bytes with the
core's copy loader: version 2 files keep GRU weights packed, so nothing is repacked, and the
model predicts bit for bit as the original. A Stream pickles as its model plus its state
(gru_infer/_stream.pyx).
"""
from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any, Dict, Optional, Tuple, Union

from . import _core
from .model import Model

NATIVE_MAGIC = b"GRUINFER"

BytesLike = Union[bytes, bytearray, memoryview]


def _contiguous_bytes(data: BytesLike) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError:
        raise ValueError(f"model bytes: expected bytes, bytearray or memoryview, got {type(data).__name__}") from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")


def model_from_native_bytes(data: BytesLike) -> Model:
    """A Model from native file bytes (bytes, bytearray, memoryview): the weights are copied."""
    model = Model(_core.Model.from_bytes(_contiguous_bytes(data)))
    model.info = {"source": model.source, "format": "native"}
    return model


def load_bytes(data: BytesLike, format: Optional[str] = None, **options: Any) -> Model:
    """`gru_infer.load` for a model file's contents in memory instead of a path.

    Native bytes load directly; any other format goes through a temporary file to the same
    content-sniffing importers `load(path)` uses.
    """
    view = _contiguous_bytes(data)
    if len(view) == 0:
        raise ValueError("model bytes: expected the contents of a model file, got 0 bytes")
    if format in (None, "native") and bytes(view[:8]) == NATIVE_MAGIC[:len(view[:8])]:
        return model_from_native_bytes(view)
    from .loading import load
    fd, path = tempfile.mkstemp(prefix="gru_infer_", suffix=".model")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(view)
        model = load(path, format=format, **options)
    except ValueError as e:  # name the bytes, not the temporary file
        raise _about_bytes(e, path, view) from None
    finally:
        os.unlink(path)
    if model.info.get("path") == path:
        del model.info["path"]
    return model


def _about_bytes(e: ValueError, path: str, view: memoryview) -> ValueError:
    message = str(e).replace(repr(path), "the given bytes").replace(path, "the given bytes")
    if len(view) < 4096 and b"\0" not in view and os.path.exists(bytes(view)):
        message += " (bytes are a model file's contents: pass a str or Path for a file name)"
    try:
        return type(e)(message)
    except TypeError:  # an exception class that takes other arguments
        return ValueError(message)


def reduce_model(model: Model, protocol: int) -> Tuple[Any, ...]:
    data = model.to_bytes()
    payload: Any = pickle.PickleBuffer(data) if protocol >= 5 else data
    return _rebuild_model, (payload, dict(model.info), model.fast_activations)


def _rebuild_model(data: BytesLike, info: Dict[str, Any], fast_activations: bool) -> Model:
    model = model_from_native_bytes(data)
    model.info = info
    return model.with_options(fast_activations=fast_activations) if fast_activations else model
