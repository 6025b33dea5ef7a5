"""Models by value: `Model.to_bytes`, pickling, and `gru_infer.load(bytes)`.

A pickled Model carries its native file bytes (docs/native_format.md), never a path, so it can
go to another process or machine (multiprocessing, Dask, Ray, Spark). Protocol 5 hands the bytes
to a `buffer_callback` out of band (pickle.PickleBuffer). Unpickling loads the bytes with the
core's copy loader: version 2 files keep GRU weights packed, so nothing is repacked, and the
model predicts bit for bit as the original. A Stream pickles as its model plus its state
(gru_infer/_stream.pyx).

Where the code lives (docs/ARCHITECTURE.md, "Layers"): pickling and native bytes -> Model are in
`gru_infer.model` (`Model.__reduce_ex__` names `_rebuild_model`, which builds a Model), and
`load_bytes` (bytes of any format) is in `gru_infer.loading` beside `load`, which it calls. This
module gives them their names here as before: pickles written by gru_infer 0.2.0 name
`gru_infer.serialization._rebuild_model`, which must keep existing.
"""
from __future__ import annotations

from .loading import load_bytes
from .model import NATIVE_MAGIC, BytesLike, _contiguous_bytes, _rebuild_model, model_from_native_bytes, reduce_model

__all__ = ["NATIVE_MAGIC", "BytesLike", "load_bytes", "model_from_native_bytes", "reduce_model", "_rebuild_model",
           "_contiguous_bytes"]
