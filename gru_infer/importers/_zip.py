"""The member names of a zip archive, for the importers whose files are zips (Keras, PyTorch, npz)."""
from __future__ import annotations

import zipfile
from typing import List, Optional


def zip_members(path: str) -> Optional[List[str]]:
    """The archive's member names, or None if the file is not a zip; ValueError if it is an unreadable one."""
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path!r} looks like a zip file but cannot be read: {e}") from None
