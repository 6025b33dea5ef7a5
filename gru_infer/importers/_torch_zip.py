"""Read the tensors of a PyTorch zip archive without torch and without running code from the file.

`torch.save` (state_dict or whole module) and `torch.jit.save` both write a zip holding
`<name>/data.pkl` (a pickle describing the objects) and `<name>/data/<key>` (the raw bytes of each
storage). The pickle is read by a restricted unpickler: `find_class` never imports anything. It
returns the harmless stand-ins below for an allow-list (OrderedDict, torch's tensor rebuild
functions, storage types); a class name (CapWords, or TorchScript's `__torch__.*`) becomes an inert
stand-in class whose call is refused; any other global (os.system, builtins.exec, ...) raises
ValueError naming it. Storages come in through `persistent_load` and are read from the zip.

- state_dict: the OrderedDict of tensors, keys as saved.
- whole module (`torch.save(model)`) and TorchScript (`torch.jit.save`): the module classes become
  inert stand-ins that only collect their pickled attributes (calling one is refused); their
  tensors are returned under state_dict-style keys ("gru.weight_ih_l0", "fc.bias").

Tensors come back as NumPy arrays of the stored dtype (float32/float64/float16, integers, bool);
bfloat16 is widened to float32, which is exact.
"""
from __future__ import annotations

import _compat_pickle  # the Python 2 -> 3 name table pickle's own find_class applies
import collections
import io
import pickle
import struct
import zipfile
import zlib
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import ModelFormatError
from ._untrusted import ZipReader, check_pickle, safe_repr

__all__ = ["read_torch_zip", "read_torch_zip_with_kind", "read_torch_legacy"]

_BF16 = "bfloat16"  # NumPy has no bfloat16: read as uint16, widened to float32
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": _BF16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands for `torch.FloatStorage` & co. inside a storage's persistent id; not callable."""
    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype):
        self.name, self.dtype = name, dtype

    def __setstate__(self, state):
        raise ValueError(f"the pickle modifies {self.name}")


class _Tensor:
    """A tensor of a storage (offset, size, stride checked against the storage's element count);
    its ndarray is copied out on first use of `array`, once the storage's data is known (in the
    legacy format it follows the pickle)."""
    __slots__ = ("storage", "offset", "size", "stride", "_array")

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride, self._array = storage, offset, size, stride, None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            data = self.storage.array
            if data is None:
                raise ValueError("a tensor's storage has no data in the file")
            if 0 in self.size:
                self._array = np.zeros(self.size, data.dtype)
            else:
                view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size, writeable=False,
                                                       strides=[s * data.itemsize for s in self.stride])
                self._array = view.copy()
        return self._array

    def __setstate__(self, state):
        raise ValueError("the pickle modifies a tensor after building it")


class _Storage:
    """A storage: `numel` elements; `array` holds them (None until read)."""
    __slots__ = ("numel", "array")

    def __init__(self, numel: int, array: Optional[np.ndarray] = None):
        self.numel, self.array = numel, array

    def __setstate__(self, state):
        raise ValueError("the pickle modifies a storage")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """torch._utils._rebuild_tensor_v2, on NumPy: a strided view of the storage, copied."""
    if not isinstance(storage, _Storage):
        raise ValueError(f"a tensor's storage is a {type(storage).__name__}, not a storage from the archive")
    if metadata and (not isinstance(metadata, dict) or any(metadata.values())):
        raise ValueError(f"tensor metadata {safe_repr(metadata)} (conjugate/negative views) is not supported")
    if not (_is_int(storage_offset) and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and len(size) <= 32 and all(_is_int(v) for v in size + stride)):
        raise ValueError(f"malformed tensor: offset={safe_repr(storage_offset)}, size={safe_repr(size)}, "
                         f"stride={safe_repr(stride)}")
    if storage_offset < 0 or any(v < 0 for v in size + stride):
        raise ValueError(f"malformed tensor: negative offset, size or stride "
                         f"(offset={storage_offset}, size={size}, stride={stride})")
    elements = int(np.prod(size, dtype=object))
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if elements and last >= storage.numel:
        raise ValueError(f"tensor of size {size}, stride {stride} at offset {storage_offset} reaches element "
                         f"{last} of a storage of {storage.numel} elements")
    if elements > storage.numel:  # zero or overlapping strides: more elements than bytes in the file
        raise ValueError(f"tensor of size {size} has {elements} elements but its storage only {storage.numel} "
                         f"(stride {stride} repeats elements); refused")
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    """torch._utils._rebuild_parameter(_with_state): a Parameter is just its tensor here."""
    if not isinstance(data, _Tensor):
        raise ValueError(f"a Parameter wraps a {type(data).__name__}, expected a tensor")
    return data


def _same(value, *tags):
    """torch.jit._pickle.build_*list / restore_type_tag: the value itself."""
    return value


class _Allowed:
    """An allow-listed callable as handed to the pickle: it can be called, but a pickle BUILD cannot
    modify it (a plain function would let the file rewrite its __defaults__)."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)

    def __setstate__(self, state):
        raise ValueError(f"the pickle modifies {self.fn.__name__}")


_FUNCTIONS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set, ("torch", "Size"): tuple,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.jit._pickle", "restore_type_tag"): _same,
    ("torch.jit._pickle", "build_intlist"): _same,
    ("torch.jit._pickle", "build_doublelist"): _same,
    ("torch.jit._pickle", "build_boollist"): _same,
    ("torch.jit._pickle", "build_tensorlist"): _same,
}


class _RefuseCalls(type):
    """Metaclass of the module stand-ins: calling the class (a pickle REDUCE) is refused.

    Unpickling a module instance never calls its class: protocol 2 creates it with
    `cls.__new__(cls)` (NEWOBJ) and then hands it its attributes (BUILD).
    """

    def __call__(cls, *args, **kwargs):
        raise ValueError(f"refusing to load: the file references {cls.__qualname__} and calls it, which "
                         f"would run code")


class _ModuleStub(metaclass=_RefuseCalls):
    """Instance of a stand-in class: keeps the pickled attributes, nothing else."""

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.__dict__["_pickled_state"] = None
        return obj

    def __setstate__(self, state):
        self.__dict__["_pickled_state"] = state


def _looks_like_class(module: str, name: str) -> bool:
    """TorchScript classes live in `__torch__`; a Python class has a CapWords name (GRU, Sequential, Net)."""
    return module == "__torch__" or module.startswith("__torch__.") or (name[:1].isupper() and name.isidentifier())


class _RestrictedUnpickler(pickle.Unpickler):
    """`read_storage(stype, key, numel)` gives a storage's data (None: read later); None means the
    pickle may not reference storages. `legacy` expects the pre-zip format's 6-entry persistent ids."""

    def __init__(self, data: bytes, label: str, read_storage=None, legacy: bool = False):
        check_pickle(data, label)
        super().__init__(io.BytesIO(data))
        self.read_storage, self.legacy = read_storage, legacy
        self.storages: Dict[str, Tuple[_StorageType, _Storage]] = {}
        self.stubs: Dict[str, type] = {}  # per file, so that nothing one file does outlives its loading

    def find_class(self, module, name):
        # Protocol 2 pickles use Python 2 names (__builtin__.set, commands.call for subprocess.call)
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _FUNCTIONS:
            return _Allowed(_FUNCTIONS[(module, name)])
        if module == "torch" and name.endswith("Storage"):
            if name not in _STORAGE_DTYPES:
                raise ValueError(f"unsupported storage type torch.{name} (supported: {sorted(_STORAGE_DTYPES)})")
            return _StorageType(f"torch.{name}", _STORAGE_DTYPES[name])
        if module.startswith("torch.") and name.startswith("_rebuild"):  # tensor subclasses, quantized, ...
            raise ValueError(f"refusing to load: the file references {module}.{name} (an unsupported "
                             f"kind of tensor)")
        if _looks_like_class(module, name):
            qualname = f"{module}.{name}"
            if qualname not in self.stubs:
                self.stubs[qualname] = _RefuseCalls(name, (_ModuleStub,), {"__qualname__": qualname})
            return self.stubs[qualname]
        raise ValueError(f"refusing to load: the file references {module}.{name}, which is not a tensor, "
                         f"a state_dict or a module class")

    def persistent_load(self, pid):
        n = 6 if self.legacy else 5
        if self.read_storage is None or not (isinstance(pid, tuple) and len(pid) == n
                                             and pid[0] in ("storage", b"storage")):
            raise ValueError(f"unknown persistent id {safe_repr(pid)}: expected ('storage', type, key, location, "
                             f"numel{', view' if self.legacy else ''})")
        _, stype, key, _location, numel = pid[:5]
        if self.legacy and pid[5] is not None:
            raise ValueError("storage views (a pre-1.0 PyTorch legacy feature) are not supported")
        key = key.decode("ascii", "replace") if isinstance(key, bytes) else key
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise ValueError(f"malformed storage reference {safe_repr(pid)}")
        if key in self.storages:
            known_type, storage = self.storages[key]
            if known_type.name != stype.name or storage.numel != numel:
                raise ValueError(f"storage {key!r} is referenced as {known_type.name} of {storage.numel} "
                                 f"elements and as {stype.name} of {numel}")
            return storage
        storage = _Storage(numel, self.read_storage(stype, key, numel))
        self.storages[key] = (stype, storage)
        return storage


def _storage_dtype(stype: _StorageType, byteorder: str) -> np.dtype:
    return np.dtype(np.uint16 if stype.dtype == _BF16 else stype.dtype).newbyteorder(byteorder)


def _storage_array(raw: bytes, stype: _StorageType, byteorder: str) -> np.ndarray:
    arr = np.frombuffer(raw, _storage_dtype(stype, byteorder))
    if stype.dtype == _BF16:  # bfloat16 is the top half of a float32
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr.astype(arr.dtype.newbyteorder("="))


def _archive_prefix(archive: zipfile.ZipFile) -> str:
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError(f"expected one '<name>/data.pkl' record (a torch.save / torch.jit.save archive), "
                         f"found {pickles or 'none'}")
    return pickles[0][:-len("data.pkl")]


_MAX_DEPTH = 100  # nested modules; far deeper than real models, far below Python's recursion limit


def _module_tensors(stub: _ModuleStub, prefix: str, out: Dict[str, np.ndarray], seen: set) -> None:
    """The tensors of a module stand-in, in state_dict order, keys prefixed like a state_dict."""
    if id(stub) in seen:
        return
    seen.add(id(stub))
    if prefix.count(".") > _MAX_DEPTH:
        raise ValueError(f"modules nested more than {_MAX_DEPTH} deep (at {prefix[:80]!r}...)")
    state = stub._pickled_state
    if not isinstance(state, dict):
        raise ValueError(f"{type(stub).__qualname__} at {prefix or 'the top'!r}: expected pickled attributes "
                         f"(a dict), found {type(state).__name__}")
    if "_parameters" in state and "_modules" in state:  # torch.save(model): an nn.Module's __dict__
        skip = state.get("_non_persistent_buffers_set") or set()
        tensors = list(dict(state["_parameters"]).items()) + [
            (k, v) for k, v in dict(state.get("_buffers") or {}).items() if k not in skip]
        children = dict(state["_modules"]).items()
    else:  # TorchScript: parameters, buffers and submodules are plain attributes
        tensors = [(k, v) for k, v in state.items() if isinstance(v, _Tensor)]
        children = [(k, v) for k, v in state.items() if isinstance(v, _ModuleStub)]
    for name, value in tensors:
        if isinstance(value, _Tensor):
            out[prefix + _name(name)] = value.array
    for name, child in children:
        if isinstance(child, _ModuleStub):
            _module_tensors(child, f"{prefix}{_name(name)}.", out, seen)


def _name(key) -> str:
    if not isinstance(key, str):  # str() of a nested object from the pickle can be exponentially long
        raise ValueError(f"a parameter or module name is a {type(key).__name__}, not a string: {safe_repr(key)}")
    return key


def _tensors_of(obj) -> Tuple[Dict[str, np.ndarray], str]:
    if isinstance(obj, _ModuleStub):
        out: Dict[str, np.ndarray] = {}
        _module_tensors(obj, "", out, set())
        if not out:
            raise ValueError(f"the saved module {type(obj).__qualname__} holds no tensors")
        kind = "torchscript" if type(obj).__qualname__.startswith("__torch__") else "module"
        return out, kind
    if isinstance(obj, dict):
        keys = [_name(k) for k in obj]
        others = sorted(k for k, v in zip(keys, obj.values()) if not isinstance(v, _Tensor))
        if others:
            raise ValueError(f"the saved dict has non-tensor entries {others[:20]}; expected a state_dict "
                             f"(if it is a training checkpoint, save only the model's state_dict)")
        return {k: v.array for k, v in zip(keys, obj.values())}, "state_dict"
    raise ValueError(f"expected a state_dict, a module or a TorchScript module, found "
                     f"{'a single tensor' if isinstance(obj, _Tensor) else type(obj).__name__}")


def _load(unpickler: _RestrictedUnpickler, what: str):
    try:
        return unpickler.load()
    except ValueError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError, OverflowError, UnicodeDecodeError) as e:
        raise ValueError(f"corrupt pickle in {what}: {type(e).__name__}: {e}") from None


def _unpickle(archive: zipfile.ZipFile, label: str):
    prefix = _archive_prefix(archive)
    names = set(archive.namelist())
    reader = ZipReader(archive, label)
    byteorder = reader.read(prefix + "byteorder") if prefix + "byteorder" in names else b"little"
    if byteorder not in (b"little", b"big"):
        raise ValueError(f"record 'byteorder' is {byteorder[:20]!r}, expected b'little' or b'big'")
    order = "<" if byteorder == b"little" else ">"

    def read_storage(stype: _StorageType, key: str, numel: int) -> np.ndarray:
        name = f"{prefix}data/{key}"
        if name not in names:
            raise ValueError(f"storage {key!r} ({stype.name}) has no record {name!r} in the archive")
        need = numel * _storage_dtype(stype, order).itemsize
        if reader.info(name).file_size != need:
            raise ValueError(f"record {name!r} holds {reader.info(name).file_size} bytes; {stype.name} of {numel} "
                             f"elements needs {need}")
        return _storage_array(reader.read(name, need), stype, order)

    unpickler = _RestrictedUnpickler(reader.read(prefix + "data.pkl"), f"{label}: {prefix}data.pkl", read_storage)
    return _load(unpickler, f"{prefix}data.pkl")


def read_torch_zip_with_kind(path) -> Tuple[Dict[str, np.ndarray], str]:
    """`read_torch_zip`, also telling what was saved: "state_dict", "module" or "torchscript"."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _tensors_of(_unpickle(archive, str(path)))
    except FileNotFoundError:
        raise
    except ModelFormatError:
        raise
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"{path}: not a readable PyTorch zip archive ({type(e).__name__}: {e})") from None


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy torch.save file is this number


def _next_pickle(data: bytes, pos: int, label: str, read_storage=None, legacy: bool = False):
    """Unpickle the pickle starting at `pos` of a legacy file (several pickles back to back)."""
    end = check_pickle(data, label, start=pos)
    unpickler = _RestrictedUnpickler(data[pos:end], label, read_storage, legacy)
    return _load(unpickler, label), end, unpickler


def read_torch_legacy(path) -> Dict[str, np.ndarray]:
    """The tensors of a pre-1.6 `torch.save` file (`_use_new_zipfile_serialization=False`), without
    torch: five pickles (magic number, protocol version, system info, the object, its storage keys),
    then each storage as an int64 element count and its raw bytes. Every declared count is checked
    against the bytes left in the file before anything is read."""
    label = str(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        magic, pos, _ = _next_pickle(data, 0, label)
    except ModelFormatError:  # a memo bomb or malformed opcodes: say so
        raise
    except ValueError:
        magic = None
    if magic != LEGACY_MAGIC:
        raise ValueError(f"{label!r} is not a model file gru_infer reads: a pickle, but neither a torch.save zip "
                         f"archive nor PyTorch's legacy format (which starts with a pickled magic number)")
    version, pos, _ = _next_pickle(data, pos, f"{label}: protocol version")
    if version != 1001:
        raise ValueError(f"{label}: legacy protocol version {safe_repr(version)}, expected 1001")
    sys_info, pos, _ = _next_pickle(data, pos, f"{label}: system info")
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    order = "<" if little else ">"
    declared: Dict[str, Tuple[_StorageType, int]] = {}

    def later(stype, key, numel):
        declared[key] = (stype, numel)
        return None  # the data follows the pickles

    obj, pos, unpickler = _next_pickle(data, pos, f"{label}: object", later, legacy=True)
    keys, pos, _ = _next_pickle(data, pos, f"{label}: storage keys")
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(declared) or len(keys) != len(declared):
        raise ValueError(f"{label}: the storage key list {safe_repr(keys)} does not match the storages the "
                         f"object references ({sorted(declared)[:10]})")
    for key in keys:
        stype, numel = declared[key]
        nbytes = numel * _storage_dtype(stype, order).itemsize
        if pos + 8 > len(data):
            raise ValueError(f"{label}: truncated before storage {key!r}")
        (count,) = struct.unpack(order + "q", data[pos:pos + 8])
        if count != numel or pos + 8 + nbytes > len(data):
            raise ValueError(f"{label}: storage {key!r} is declared as {numel} elements ({nbytes} bytes); the file "
                             f"says {count} and has {len(data) - pos - 8} bytes left")
        unpickler.storages[key][1].array = _storage_array(data[pos + 8:pos + 8 + nbytes], stype, order)
        pos += 8 + nbytes
    tensors, kind = _tensors_of(obj)
    if kind != "state_dict":
        raise ValueError(f"{label}: not a plain state_dict (a legacy-format {kind}); save `module.state_dict()` "
                         f"instead (torch.save(model.state_dict(), path)), or pass the module to "
                         f"gru_infer.from_torch(module)")
    return tensors


def read_torch_zip(path) -> Dict[str, np.ndarray]:
    """The tensors of a torch.save / torch.jit.save zip archive as {state_dict key: ndarray}.

    Raises ValueError for anything else: not a zip, truncated or corrupt records, a pickle that
    references a global outside the allow-list (nothing from the file is run), tensors that do
    not fit their storage.
    """
    return read_torch_zip_with_kind(path)[0]
