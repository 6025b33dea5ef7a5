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
import zipfile
import zlib
from typing import Dict, Tuple

import numpy as np

__all__ = ["read_torch_zip", "read_torch_zip_with_kind"]

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
    """A tensor rebuilt from a storage; turned into a plain ndarray once unpickling is done."""
    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def __setstate__(self, state):
        raise ValueError("the pickle modifies a tensor after building it")


class _Storage:
    """A storage: the 1-D array of all its elements."""
    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def __setstate__(self, state):
        raise ValueError("the pickle modifies a storage")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """torch._utils._rebuild_tensor_v2, on NumPy: a strided view of the storage, copied."""
    if not isinstance(storage, _Storage):
        raise ValueError(f"a tensor's storage is a {type(storage).__name__}, not a storage from the archive")
    if metadata and any(metadata.values()):
        raise ValueError(f"tensor metadata {metadata!r} (conjugate/negative views) is not supported")
    if not (_is_int(storage_offset) and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and all(_is_int(v) for v in size + stride)):
        raise ValueError(f"malformed tensor: offset={storage_offset!r}, size={size!r}, stride={stride!r}")
    data = storage.array
    if storage_offset < 0 or any(v < 0 for v in size + stride):
        raise ValueError(f"malformed tensor: negative offset, size or stride "
                         f"(offset={storage_offset}, size={size}, stride={stride})")
    if 0 in size:
        return _Tensor(np.zeros(size, data.dtype))
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= data.size:
        raise ValueError(f"tensor of size {size}, stride {stride} at offset {storage_offset} reaches element "
                         f"{last} of a storage of {data.size} elements")
    view = np.lib.stride_tricks.as_strided(data[storage_offset:], shape=size,
                                           strides=[s * data.itemsize for s in stride], writeable=False)
    return _Tensor(view.copy())


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
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.byteorder = archive, prefix, byteorder
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
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise ValueError(f"unknown persistent id {pid!r}: expected ('storage', type, key, location, numel)")
        _, stype, key, _location, numel = pid
        key = key.decode("ascii") if isinstance(key, bytes) else key
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise ValueError(f"malformed storage reference {pid!r}")
        if key in self.storages:
            known_type, storage = self.storages[key]
            if known_type.name != stype.name or storage.array.size != numel:
                raise ValueError(f"storage {key!r} is referenced as {known_type.name} of {storage.array.size} "
                                 f"elements and as {stype.name} of {numel}")
            return storage
        storage = _Storage(self._read_storage(stype, key, numel))
        self.storages[key] = (stype, storage)
        return storage

    def _read_storage(self, stype: _StorageType, key: str, numel: int) -> np.ndarray:
        name = f"{self.prefix}data/{key}"
        bf16 = stype.dtype == _BF16
        dtype = np.dtype(np.uint16 if bf16 else stype.dtype).newbyteorder(self.byteorder)
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise ValueError(f"storage {key!r} ({stype.name}) has no record {name!r} in the archive") from None
        if info.file_size != numel * dtype.itemsize:
            raise ValueError(f"record {name!r} holds {info.file_size} bytes; {stype.name} of {numel} elements "
                             f"needs {numel * dtype.itemsize}")
        raw = np.frombuffer(self.archive.read(name), dtype)
        if bf16:  # bfloat16 is the top half of a float32
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return raw.astype(dtype.newbyteorder("="))


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
            out[prefix + str(name)] = value.array
    for name, child in children:
        if isinstance(child, _ModuleStub):
            _module_tensors(child, f"{prefix}{name}.", out, seen)


def _tensors_of(obj) -> Tuple[Dict[str, np.ndarray], str]:
    if isinstance(obj, _ModuleStub):
        out: Dict[str, np.ndarray] = {}
        _module_tensors(obj, "", out, set())
        if not out:
            raise ValueError(f"the saved module {type(obj).__qualname__} holds no tensors")
        kind = "torchscript" if type(obj).__qualname__.startswith("__torch__") else "module"
        return out, kind
    if isinstance(obj, dict):
        others = sorted(str(k) for k, v in obj.items() if not isinstance(v, _Tensor))
        if others:
            raise ValueError(f"the saved dict has non-tensor entries {others}; expected a state_dict "
                             f"(if it is a training checkpoint, save only the model's state_dict)")
        return {str(k): v.array for k, v in obj.items()}, "state_dict"
    raise ValueError(f"expected a state_dict, a module or a TorchScript module, found "
                     f"{'a single tensor' if isinstance(obj, _Tensor) else type(obj).__name__}")


def _unpickle(archive: zipfile.ZipFile):
    prefix = _archive_prefix(archive)
    names = set(archive.namelist())
    byteorder = archive.read(prefix + "byteorder") if prefix + "byteorder" in names else b"little"
    if byteorder not in (b"little", b"big"):
        raise ValueError(f"record 'byteorder' is {byteorder[:20]!r}, expected b'little' or b'big'")
    unpickler = _RestrictedUnpickler(archive.read(prefix + "data.pkl"), archive, prefix,
                                     "<" if byteorder == b"little" else ">")
    try:
        return unpickler.load()
    except ValueError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError, OverflowError, UnicodeDecodeError) as e:
        raise ValueError(f"corrupt pickle in {prefix}data.pkl: {type(e).__name__}: {e}") from None


def read_torch_zip_with_kind(path) -> Tuple[Dict[str, np.ndarray], str]:
    """`read_torch_zip`, also telling what was saved: "state_dict", "module" or "torchscript"."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _tensors_of(_unpickle(archive))
    except FileNotFoundError:
        raise
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"{path}: not a readable PyTorch zip archive ({type(e).__name__}: {e})") from None


def read_torch_zip(path) -> Dict[str, np.ndarray]:
    """The tensors of a torch.save / torch.jit.save zip archive as {state_dict key: ndarray}.

    Raises ValueError for anything else: not a zip, truncated or corrupt records, a pickle that
    references a global outside the allow-list (nothing from the file is run), tensors that do
    not fit their storage.
    """
    return read_torch_zip_with_kind(path)[0]
