"""How tensors cross between a HybridModel's parts: ONNX element types as NumPy dtypes, and a GRU
island's batch-first output laid out as the ONNX tensor the graph expects."""
from __future__ import annotations

import numpy as np

# ONNX element types (TensorProto.DataType) as NumPy dtypes, and onnxruntime's type names as ONNX's.
ONNX_NUMPY_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
                    10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
ORT_TYPES = {"tensor(float)": 1, "tensor(uint8)": 2, "tensor(int8)": 3, "tensor(int16)": 5, "tensor(int32)": 6,
             "tensor(int64)": 7, "tensor(bool)": 9, "tensor(float16)": 10, "tensor(double)": 11}


def to_onnx_layout(y: np.ndarray, letters: str, directions: int) -> np.ndarray:
    """predict's (B, T, F) / (B, F) as the ONNX tensor with axes `letters` (the importer's
    output_axes: B, T, D, H, F, and 1 for a unit axis)."""
    base = ["B", "T", "F"] if y.ndim == 3 else ["B", "F"]
    core = [c for c in letters if c != "1"]
    if "D" in core:
        y = y.reshape(*y.shape[:-1], directions, y.shape[-1] // directions)
        base = base[:-1] + ["D", "H"]
    if sorted(core) != sorted(base):
        raise ValueError(f"cannot lay out a GRU island's output {base} as {letters!r}")
    y = y.transpose([base.index(c) for c in core])
    dims = iter(y.shape)
    return np.ascontiguousarray(y.reshape([1 if c == "1" else next(dims) for c in letters]))
