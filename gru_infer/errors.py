"""The errors gru_infer raises for model files and models, both ValueErrors.

- `ModelFormatError`: the file is not a valid model file (truncated, corrupt, inconsistent). It is
  the class the C++ core raises (registered by the `_core` extension), re-exported here.
- `UnsupportedModelError`: the file (or live module) is valid, but uses a layer, operation or
  pattern that has no exact equivalent in gru_infer's layers. `OnnxImportError` is its ONNX
  subclass, kept for callers that caught it before.

Bad arguments raise plain ValueError; a missing optional package raises ImportError (`_optional`).
"""
from ._core import ModelFormatError


class UnsupportedModelError(ValueError):
    """The model uses a module, operation or pattern that has no exact equivalent in our layer list."""


class OnnxImportError(UnsupportedModelError):
    """The ONNX graph uses an op or pattern with no exact equivalent in our layer list."""


__all__ = ["ModelFormatError", "UnsupportedModelError", "OnnxImportError"]
