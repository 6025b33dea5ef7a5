"""Import GRU weights saved as a NumPy `.npz` archive (docs/importers.md, npz).

An .npz has no naming convention, so the layout is recognised from the keys and shapes:
- PyTorch: state_dict keys (`weight_ih_l0`, `gru.bias_hh_l1`, `fc.weight`, ...), e.g. from
  `np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})`: read like a state_dict.
- Keras: `get_weights()` saved positionally (`np.savez(path, *model.get_weights())`, keys arr_0,
  arr_1, ...) or arrays named kernel / recurrent_kernel / bias (optionally with a layer prefix such
  as `gru/kernel`). A GRU is a kernel (I, 3H) followed by a recurrent_kernel (H, 3H) and an optional
  bias: (2, 3H) means reset_after=True (input and recurrent rows), (3H,) means reset_after=False.
  Any other 2-D array is a Dense kernel (I, O), optionally followed by its bias (O,).
Arrays are loaded with allow_pickle=False: object arrays are refused.
"""
from __future__ import annotations

import re
import tokenize
import zipfile
import zlib
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import ModelFormatError
from ..layers import GRU, Dense
from ._keras_layout import gru_from_keras_weights
from ._npz_shapes import layers_from_named_arrays
from ._state_dict import GRU_KEY, layers_from_state_dict
from ._state_dict_head import no_head
from ._untrusted import ZipReader, check_shape
from ._zip import zip_members

FORMAT = "npz"

__all__ = ["FORMAT", "sniff", "read", "layers_from_npz", "read_npz"]


def sniff(head: bytes, path: str) -> bool:
    """A zip archive whose members are all .npy arrays (np.savez / np.savez_compressed)."""
    names = zip_members(path)
    return bool(names) and all(n.endswith(".npy") for n in names)


def read(path, **options) -> Tuple[list, Dict[str, Any]]:
    return layers_from_npz(path, **options)

# What Keras weights alone cannot tell (info["assumed"]).
ASSUME_KERAS_ACTIVATIONS = ("GRU gates use sigmoid and the candidate tanh (the Keras 3 / TF2 defaults; Keras 2 "
                            "defaulted to hard_sigmoid gates): activations are not stored with the weights")
ASSUME_NO_BIAS_RESET_AFTER = ("a GRU saved without bias is taken as reset_after=True (the Keras 3 default): "
                              "without the bias its shape cannot tell")
ASSUME_SEQUENCES = "every GRU returns the whole sequence and Dense layers apply to every time step"
ASSUME_DENSE_LINEAR = "Dense layers have no activation: activations are not stored with the weights"
ASSUME_BY_SHAPE = ("the array names are the user's own: the GRU and the Dense heads after it were recognised by "
                   "their shapes (see gru_infer.importers._npz_shapes)")

_POSITIONAL = re.compile(r"^arr_(\d+)$")


def read_npz(path) -> Dict[str, np.ndarray]:
    """The arrays of an .npz archive, in archive order, loaded without pickle.

    Each member's .npy header is parsed first (numpy.lib.format, header size capped); the shape it
    declares must be plausible and need exactly the bytes the member holds, and the member must pass
    the zip budget of `_untrusted.ZipReader`, before anything is inflated or allocated.
    """
    label = str(path)
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise ValueError(f"{label}: a single .npy array, not an .npz archive of named arrays")
    try:
        with zipfile.ZipFile(path) as z:
            reader = ZipReader(z, label)
            arrays = {}
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"{label}: member {info.filename!r} is not an .npy array")
                key = info.filename[:-len(".npy")]
                arrays[key] = _read_member(reader, info, f"{label}: array {key!r}")
            return arrays
    except FileNotFoundError:
        raise
    except ModelFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ValueError(f"{label}: not a readable .npz archive ({type(e).__name__}: {e})") from None


def _read_member(reader: ZipReader, info: zipfile.ZipInfo, label: str) -> np.ndarray:
    reader.check(info)
    fmt = np.lib.format
    with reader.archive.open(info) as f:
        try:
            version = fmt.read_magic(f)
            read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
            if read_header is None:  # 3.0 only differs for utf-8 field names, which numeric arrays never have
                raise ValueError(f".npy format version {version} (numeric arrays are written as 1.0 or 2.0)")
            shape, fortran, dtype = read_header(f, max_header_size=10000)
        except (ValueError, SyntaxError, TypeError, EOFError, OverflowError, tokenize.TokenError) as e:
            raise ModelFormatError(f"{label}: not a valid .npy header ({type(e).__name__}: {e})") from None
        if dtype.hasobject:
            raise ModelFormatError(f"{label} is an object array, which only pickle can load; refused (save numeric "
                                   f"arrays)")
        nbytes = check_shape(shape, label, dtype.itemsize)
        header = f.tell()
        if info.file_size != header + nbytes:
            raise ModelFormatError(f"{label}: declares {dtype} of shape {shape} ({nbytes} bytes) but the member "
                                   f"holds {info.file_size - header} bytes of data")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise ModelFormatError(f"{label}: truncated ({len(data)} of {nbytes} bytes)")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _known_role(key: str) -> bool:
    try:
        return _role(key) is not None
    except ValueError:
        return False


def _role(key: str) -> Optional[str]:
    """'kernel', 'recurrent_kernel', 'bias' from a key such as 'gru/cell/kernel:0'; None for arr_N."""
    if _POSITIONAL.match(key):
        return None
    leaf = re.split(r"[/.]", key.split(":")[0])[-1]
    for role in ("recurrent_kernel", "kernel", "bias"):
        if leaf.endswith(role):
            return role
    raise ValueError(f"array {key!r} is neither a PyTorch state_dict key nor a Keras weight (arr_N from "
                     f"get_weights(), or a name ending in kernel / recurrent_kernel / bias)")


def _keras_layers(arrays: Dict[str, np.ndarray]) -> Tuple[list, List[str]]:
    keys = list(arrays)
    if all(_POSITIONAL.match(k) for k in keys):
        keys.sort(key=lambda k: int(_POSITIONAL.match(k)[1]))
    items = [(k, arrays[k], _role(k)) for k in keys]
    fits = lambda j, role, shape: (j < len(items) and items[j][2] in (None, role)  # noqa: E731
                                   and items[j][1].shape == shape)
    layers: list = []
    assumed = [ASSUME_SEQUENCES]
    i = 0
    while i < len(items):
        key, a, role = items[i]
        if a.ndim != 2 or role not in (None, "kernel"):
            raise ValueError(f"array {key!r} of shape {a.shape} is not where a kernel is expected: a GRU is "
                             f"kernel (I, 3H), recurrent_kernel (H, 3H), bias (2, 3H) or (3H,); a Dense is "
                             f"kernel (I, O), bias (O,)")
        H3 = a.shape[1]
        if H3 % 3 == 0 and fits(i + 1, "recurrent_kernel", (H3 // 3, H3)):
            bias_at = i + 2
            bias = items[bias_at][1] if fits(bias_at, "bias", (2, H3)) or fits(bias_at, "bias", (H3,)) else None
            layer = gru_from_keras_weights(a, items[i + 1][1], bias, name=f"GRU at {key!r}")
            if bias is None and ASSUME_NO_BIAS_RESET_AFTER not in assumed:
                assumed.append(ASSUME_NO_BIAS_RESET_AFTER)
            i += 2 if bias is None else 3
        else:
            bias = items[i + 1][1] if fits(i + 1, "bias", (a.shape[1],)) else None
            layer = Dense(a.T, bias)
            i += 1 if bias is None else 2
        prev_out = _output_size(layers[-1]) if layers else None
        in_size = layer.input_size if isinstance(layer, GRU) else layer.weight.shape[1]
        if prev_out is not None and in_size != prev_out:
            raise ValueError(f"array {key!r}: a layer with {in_size} inputs follows one with {prev_out} outputs; "
                             f"the arrays do not chain as Keras get_weights() of a sequential model")
        layers.append(layer)
    if not any(isinstance(layer, GRU) for layer in layers):
        raise ValueError(f"no GRU weights found (a kernel (I, 3H) followed by a recurrent_kernel (H, 3H)); "
                         f"arrays: {[(k, a.shape) for k, a, _ in items]}")
    assumed.append(ASSUME_KERAS_ACTIVATIONS)
    if any(isinstance(layer, Dense) for layer in layers):
        assumed.append(ASSUME_DENSE_LINEAR)
    return layers, assumed


def _output_size(layer) -> int:
    return layer.output_size if isinstance(layer, GRU) else layer.weight.shape[0]


def layers_from_npz(path, head: Optional[str] = None) -> Tuple[list, Dict[str, Any]]:
    """Import the GRU model whose weights an .npz archive holds (layout recognised as described above).

    Returns (layers, info); info = {"source": "numpy", "layout": "pytorch" | "keras", "path",
    "assumed": [what the weights alone cannot tell]}; for the PyTorch layout also the keys of
    `layers_from_state_dict` ("batch_first", "prefix", "modules"). `head` (state_dict keys only): see
    layers_from_state_dict.
    """
    arrays = read_npz(path)
    if not arrays:
        raise ValueError(f"{path}: the .npz archive is empty")
    for key, a in arrays.items():
        if a.dtype.kind not in "fiu":
            raise ValueError(f"{path}: array {key!r} has dtype {a.dtype}, expected numbers")
    try:
        if any(GRU_KEY.match(k) for k in arrays):
            layers, info = layers_from_state_dict(arrays, head=head)
            info.update(layout="pytorch")
        elif all(_POSITIONAL.match(k) or _known_role(k) for k in arrays):
            no_head(head, "Keras weights (get_weights() or kernel / recurrent_kernel / bias)")
            layers, assumed = _keras_layers(arrays)
            info = {"layout": "keras", "assumed": assumed}
        else:  # the user's own names: one GRU (+ Dense heads) by shape
            no_head(head, "arrays under names of their own, not state_dict keys")
            layers, layout, assumed = layers_from_named_arrays(arrays)
            assumed = [ASSUME_SEQUENCES, ASSUME_BY_SHAPE] + assumed
            if layout == "keras":
                assumed.append(ASSUME_KERAS_ACTIVATIONS)
            if any(isinstance(layer, Dense) for layer in layers):
                assumed.append(ASSUME_DENSE_LINEAR)
            info = {"layout": f"{layout} (by shape)", "assumed": assumed}
    except ModelFormatError:
        raise
    except ValueError as e:
        raise type(e)(f"{path}: {e}") from None
    info.update(source="numpy", path=str(path))
    return layers, info
