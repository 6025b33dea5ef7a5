"""Read Keras weight tensors from HDF5 files (h5py only; no Keras, no TensorFlow).

Two trees exist (docs/importers.md, Keras):
- Keras 3 (`model.weights.h5` inside a `.keras` zip, and `*.weights.h5`): `layers/<unique>/.../vars/0..n`,
  where <unique> is the snake_cased class name made unique per class (`gru`, `gru_1`, ...).
- legacy (`model.save("x.h5")`, tf.keras `save_weights("x.h5")`): one group per layer name whose
  attribute `weight_names` lists the datasets in order (`gru/gru_cell/kernel:0`, ...).

Every tensor comes back as float32 (float16/float64/bfloat16 are converted). Anything missing,
truncated or of an unexpected kind raises ValueError naming the dataset.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..._optional import require
from .. import _untrusted

# h5py raises these for unreadable or truncated files and objects.
H5_ERRORS = (OSError, KeyError, RuntimeError, TypeError, ValueError)




def open_h5(source, label: str):
    """Open a path or bytes as a read-only h5py.File, checked by `_untrusted.h5_open` (heaps, links,
    every dataset) before anything is read; ModelFormatError if it is not readable or not plain."""
    require("h5py")
    return _untrusted.h5_open(source, label)


def read_attr(obj, name: str, label: str, scalar: bool = True):
    """An attribute's value after `_untrusted.h5_attr` checked its type, shape and size; None if absent."""
    try:
        size = obj.file.id.get_filesize()
    except H5_ERRORS as e:
        raise ValueError(f"{label}: cannot read the file size ({e})") from None
    return _untrusted.h5_attr(obj, name, label, size, scalar=scalar)


@dataclass
class Weight:
    label: str            # where it came from, for messages
    role: Optional[str]   # 'kernel', 'recurrent_kernel', 'bias', 'embeddings'; None when unnamed (Keras 3 vars/N)
    array: np.ndarray     # float32


def to_float32(ds, label: str, bfloat16_hint: bool = False) -> np.ndarray:
    """A float16/32/64 or bfloat16 dataset as a float32 array.

    bfloat16 is stored as 2-byte opaque values: Keras 3 marks it with attrs["dtype"]="bfloat16" in
    `.weights.h5`, but its legacy `.h5` writer does not, so `bfloat16_hint` (the layer's dtype policy
    says bfloat16) lets an unmarked 2-byte opaque dataset be read as bfloat16 too.
    """
    marked = read_attr(ds, "dtype", label)
    try:
        data = ds[()]
    except H5_ERRORS as e:
        raise ValueError(f"{label}: cannot read the dataset ({e})") from None
    if isinstance(marked, bytes):
        marked = marked.decode("utf-8", "replace")
    data = np.asarray(data)
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    if data.dtype.itemsize == 2 and data.dtype.kind in "Vu" and (marked == "bfloat16" or bfloat16_hint):
        # bfloat16 is the upper half of a float32: widen the (little-endian) bits.
        bits = np.frombuffer(data.tobytes(), dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(data.shape)
    raise ValueError(f"{label}: expected float16/float32/float64/bfloat16 values, got dtype {data.dtype}"
                     + (f" marked {marked!r}" if marked else ""))


def _child(group, key: str, label: str):
    try:
        return group[key]
    except H5_ERRORS:
        raise ValueError(f"{label}: missing {key!r} (the file is truncated or not written by Keras)") from None


def _is_dataset(obj) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype")


# ---- Keras 3 tree --------------------------------------------------------------------------

# Where each layer class keeps its variables under its group in a Keras 3 weights tree.
KERAS3_VARS = {"GRU": ["cell/vars"], "Bidirectional": ["forward_layer/cell/vars", "backward_layer/cell/vars"],
               "Dense": ["vars"], "Embedding": ["vars"], "TimeDistributed": ["layer/vars"],
               "BatchNormalization": ["vars"]}

def keras3_vars(group, path: str, label: str, bfloat16_hint: bool = False) -> List[Weight]:
    """The datasets `<path>/0`, `<path>/1`, ... of a Keras 3 layer group, in order."""
    vars_group = _child(group, path, f"{label}/{path}") if path else group
    try:
        keys = list(vars_group.keys())
    except H5_ERRORS as e:
        raise ValueError(f"{label}/{path}: cannot list the group ({e})") from None
    if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
        raise ValueError(f"{label}/{path}: expected datasets named 0..{len(keys) - 1}, found {sorted(keys)}")
    out = []
    for i in range(len(keys)):
        where = f"{label}/{path}/{i}"
        ds = _child(vars_group, str(i), where)
        if not _is_dataset(ds):
            raise ValueError(f"{where}: expected a dataset, found a group")
        out.append(Weight(where, None, to_float32(ds, where, bfloat16_hint)))
    return out


def object_address(obj) -> int:
    """The HDF5 object header address: increases with creation order in a file written once."""
    return require("h5py").h5o.get_info(obj.id).addr


# ---- legacy tree ---------------------------------------------------------------------------

def _strings(value) -> List[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(value).reshape(-1)]


def string_list_attr(obj, name: str, label: str) -> Optional[List[str]]:
    """A list-of-strings attribute (layer_names, weight_names), or None if absent."""
    value = read_attr(obj, name, label, scalar=False)
    if value is None:
        return None
    if np.asarray(value).size == 0:
        return []
    return _strings(value)


def string_attr(obj, name: str) -> Optional[str]:
    value = read_attr(obj, name, f"attribute {name!r}")
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_ROLE = re.compile(r"(?:^|/)([A-Za-z_]+?)(?::\d+)?$")


def weight_role(name: str) -> str:
    """'gru_1/gru_cell_1/recurrent_kernel:0' -> 'recurrent_kernel'."""
    m = _ROLE.search(name)
    return m.group(1) if m else name


def legacy_layer_weights(group, label: str, bfloat16_hint: bool = False) -> List[Weight]:
    """The tensors of one legacy layer group, in the order of its `weight_names` attribute."""
    names = string_list_attr(group, "weight_names", label)
    if names is None:
        raise ValueError(f"{label}: missing the 'weight_names' attribute (not a Keras layer group)")
    out = []
    for name in names:
        where = f"{label}/{name}"
        ds = _child(group, name, where)
        if not _is_dataset(ds):
            raise ValueError(f"{where}: expected a dataset, found a group")
        out.append(Weight(where, weight_role(name), to_float32(ds, where, bfloat16_hint)))
    return out
