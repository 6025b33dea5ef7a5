"""PyTorch files: torch.save (state_dict or whole module) and torch.jit.save, read without torch.

The zip archives and the legacy non-zip format are both read by the restricted unpickler of
`_torch_zip`, which checks every declared size against the bytes in the file before reading.
The layers are inferred from the tensors by `_state_dict.layers_from_state_dict`.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

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


def load_torch_file(path, head: Optional[str] = None) -> Tuple[list, Dict[str, Any]]:
    """Load a PyTorch file of a GRU model without torch and without running code from the file.

    Reads the zip archives of `torch.save(module.state_dict())`, `torch.save(module)` and
    `torch.jit.save` with `read_torch_zip`, then infers the layers from the tensors like
    `layers_from_state_dict` (keys of a whole module are its state_dict keys). The legacy non-zip
    format (`_use_new_zipfile_serialization=False`, a state_dict only) is read by
    `read_torch_legacy`, also without torch. info is layers_from_state_dict's plus "path" and "saved"
    ("state_dict", "module", "torchscript" or "legacy_state_dict"). `head`: see layers_from_state_dict.
    """
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic.startswith(b"PK"):
        from ._torch_zip import read_torch_zip_with_kind
        tensors, saved = read_torch_zip_with_kind(path)
    else:
        from ._torch_zip import read_torch_legacy
        tensors, saved = read_torch_legacy(path), "legacy_state_dict"
    try:
        layers, info = layers_from_state_dict(tensors, head=head)
    except ValueError as e:
        raise type(e)(f"{path}: {e}") from None
    info.update(path=str(path), saved=saved)
    return layers, info
