"""Optional dependencies, imported only when an importer needs them.

`require("torch")` returns the module, or raises ImportError naming the pip extra that installs it.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# module -> (what it is for, the pip extra of gru_infer that installs it)
_EXTRAS = {
    "torch": ("PyTorch", "torch"),
    "onnx": ("the onnx package", "onnx"),
    "h5py": ("h5py (Keras files are HDF5)", "keras"),
}


def require(name: str) -> ModuleType:
    """Import and return the optional module `name`; ImportError with the install command if absent."""
    try:
        return importlib.import_module(name)
    except ImportError:
        what, extra = _EXTRAS.get(name, (name, None))
        install = f'pip install "gru_infer[{extra}]" (or pip install {name})' if extra else f"pip install {name}"
        raise ImportError(f"this needs {what}, which is not installed: {install}") from None
