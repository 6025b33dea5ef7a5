"""gru_infer's own `.gru` files (docs/native_format.md), read by the C++ core."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from .. import _core
from ..model import Model

FORMAT = "native"
MAGIC = b"GRUINFER"

__all__ = ["FORMAT", "MAGIC", "sniff", "read"]


def sniff(head: bytes, path: str) -> bool:
    """Our magic, or a prefix of it (a truncated file is ours too: the core then says what is wrong)."""
    return bool(head) and MAGIC.startswith(head[:8])


def read(path) -> Tuple[Model, Dict[str, Any]]:
    """The loaded Model itself (not layers): the core reads the file, zero-copy where it can."""
    model = Model(_core.Model.load(path))
    return model, {"source": model.source}
