"""PyTorch files: torch.save (state_dict or whole module) and torch.jit.save, read without torch.

The zip archives are read by the restricted unpickler of `_torch_zip`; the legacy non-zip format
needs torch (`torch.load(weights_only=True)`). The layers are inferred from the tensors by
`_state_dict.layers_from_state_dict`.
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any, Dict, Tuple

from .._optional import require
from ._state_dict import layers_from_state_dict
from ._zip import zip_members

FORMAT = "pytorch"

__all__ = ["FORMAT", "sniff", "read", "load_torch_file"]

_LEGACY_PICKLE_HEADS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")  # pickle protocols 2-5


def sniff(head: bytes, path: str) -> bool:
    """A zip holding a `data.pkl` (torch.save / torch.jit.save), or a pickle (the legacy format)."""
    names = zip_members(path)
    if names is not None:
        return any(n == "data.pkl" or n.endswith("/data.pkl") for n in names)
    return head[:2] in _LEGACY_PICKLE_HEADS


def read(path, **options) -> Tuple[list, Dict[str, Any]]:
    return load_torch_file(path, **options)


def load_torch_file(path) -> Tuple[list, Dict[str, Any]]:
    """Load a PyTorch file of a GRU model without torch and without running code from the file.

    Reads the zip archives of `torch.save(module.state_dict())`, `torch.save(module)` and
    `torch.jit.save` with `read_torch_zip`, then infers the layers from the tensors like
    `layers_from_state_dict` (keys of a whole module are its state_dict keys). The legacy non-zip
    format (`_use_new_zipfile_serialization=False`) needs torch and goes through
    `torch.load(weights_only=True)`. info is layers_from_state_dict's plus "path" and "saved"
    ("state_dict", "module", "torchscript" or "legacy_state_dict").
    """
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        from ._torch_zip import read_torch_zip_with_kind
        tensors, saved = read_torch_zip_with_kind(path)
    else:
        tensors, saved = _load_legacy_torch_file(path), "legacy_state_dict"
    layers, info = layers_from_state_dict(tensors)
    info.update(path=str(path), saved=saved)
    return layers, info


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy torch.save file is this number


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"the file references {module}.{name}")


def _starts_with_legacy_magic(path) -> bool:
    """Whether the file's first pickle is the legacy magic number (read without allowing any global)."""
    with open(path, "rb") as f:
        try:
            return _NoGlobalsUnpickler(f).load() == LEGACY_MAGIC
        except Exception:  # anything else, however broken, is simply not a legacy torch file
            return False


def _load_legacy_torch_file(path) -> Mapping:
    """The pre-1.6 torch.save format (not a zip): only torch can read it; weights_only keeps it safe."""
    if not _starts_with_legacy_magic(path):
        raise ValueError(f"{str(path)!r} is not a model file gru_infer reads: a pickle, but neither a torch.save zip "
                         f"archive nor PyTorch's legacy format (which starts with a pickled magic number)")
    try:
        torch = require("torch")
    except ImportError:
        raise ValueError(f"{path}: not a zip archive, so not a torch.save file of PyTorch >= 1.6; reading the "
                         f"legacy format needs PyTorch (pip install torch)") from None
    not_plain = (f"{path}: not a plain state_dict. Loading it would need weights_only=False, which can "
                 f"execute arbitrary code from the file; save `module.state_dict()` instead "
                 f"(torch.save(model.state_dict(), path)), or pass the module to gru_infer.from_torch(module)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{not_plain}. ({str(e).splitlines()[0]})") from e
    except (RuntimeError, EOFError) as e:
        raise ValueError(f"{path}: not a readable PyTorch file ({type(e).__name__}: {e})") from e
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}")
    non_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if non_tensors:
        raise ValueError(f"{path}: the dict has non-tensor entries {non_tensors}; if it is a training "
                         f"checkpoint, save only the model's state_dict")
    return obj
