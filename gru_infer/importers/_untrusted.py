"""Reading untrusted model files within bounds: the checks every importer shares (issue 11).

A model file may be hostile. The rule for every size a file declares: before allocating, check
it against the bytes present and against what a GRU model can need; stop decompressing at the
size the declared shape needs; never follow a reference out of the file. The helpers here raise
ModelFormatError naming the file (the caller passes `label`, which starts with the path).

- zip members: `ZipReader` (declared size against compressed bytes present, a total budget of
  inflated bytes not backed by compressed bytes, reads capped at the declared size).
- JSON: `load_json` (nesting depth bounded before parsing: no RecursionError, no deep walks).
- shapes: `check_shape` (every dimension plausible for a GRU's tensor; element counts bounded).
- pickles: `check_pickle` (memo indices and opcode stream checked before unpickling).
- HDF5: `h5_child`, `h5_dataset`, `h5_attr` (only hard links; plain in-file datasets whose
  storage is written; attributes of a plausible size and layout checked before reading).
- `safe_repr`: repr of a value from the file for a message, bounded in length and depth.
"""
from __future__ import annotations

import io
import os
import pickletools
import reprlib
import zipfile
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..errors import ModelFormatError

MiB = 1 << 20

# A zip member may inflate to at most INFLATE_RATIO times its compressed size; beyond that, the
# file as a whole may inflate by INFLATE_SLACK more (deflate reaches ~1000x on zeros; real weights
# compress by less than 2x, JSON and HDF5 metadata by 5-20x).
INFLATE_RATIO = 100
INFLATE_SLACK = 64 * MiB
MAX_JSON_DEPTH = 64           # a Keras config nests ~10 deep, RTNeural weights 3
MAX_DIM = 1 << 31             # no GRU tensor has a dimension this large
MAX_ELEMENTS = 1 << 34        # elements of one declared tensor (64 GiB of float32): beyond, no file is real
MAX_STRING_ATTR = 64 * MiB    # an HDF5 string attribute (model_config of a huge model is ~1 MB)
MAX_ATTR_ITEMS = 65536        # entries of a list attribute (layer_names, weight_names)

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxtuple, _repr.maxdict = 3, 60, 60, 6, 6, 6


def safe_repr(value) -> str:
    """repr() of a value built from a file, bounded (a pickle can build exponentially large nests)."""
    return _repr.repr(value)


def fail(label: str, what: str) -> ModelFormatError:
    return ModelFormatError(f"{label}: {what}")


# ---- shapes -------------------------------------------------------------------------------------

def check_shape(shape: Sequence[int], label: str, itemsize: int = 4) -> int:
    """The byte count of a declared shape, after checking every dimension is plausible."""
    count = 1
    for n in shape:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0 or n > MAX_DIM:
            raise fail(label, f"declared shape {safe_repr(tuple(shape))} has a dimension that no GRU model "
                              f"tensor has (each must be an integer in [0, {MAX_DIM}])")
        count *= int(n)
    if count > MAX_ELEMENTS:
        raise fail(label, f"declared shape {tuple(shape)} has {count} elements, more than any GRU model holds")
    return count * itemsize


# ---- zip ----------------------------------------------------------------------------------------

class ZipReader:
    """Reads members of an open zipfile.ZipFile within the inflation budget described above."""

    def __init__(self, archive: zipfile.ZipFile, label: str):
        self.archive, self.label = archive, label
        self.slack_left = INFLATE_SLACK
        self.size = _stream_size(archive.fp)

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self.archive.getinfo(name)
        except KeyError:
            raise fail(self.label, f"no member {name!r} in the zip") from None

    def check(self, info: zipfile.ZipInfo) -> None:
        """Refuse a member whose declared size is not backed by compressed bytes, before inflating it."""
        if info.flag_bits & 0x1:
            raise fail(self.label, f"member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(self.label, f"member {info.filename!r} uses compression method {info.compress_type} "
                                   f"(model files use stored or deflate)")
        if info.header_offset + info.compress_size > self.size:
            raise fail(self.label, f"member {info.filename!r} declares {info.compress_size} compressed bytes at "
                                   f"byte {info.header_offset}, past the end of the {self.size}-byte file")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise fail(self.label, f"member {info.filename!r} is stored uncompressed but declares {info.file_size} "
                                   f"bytes for {info.compress_size} present")
        excess = info.file_size - INFLATE_RATIO * max(info.compress_size, 1)
        if excess > 0:
            if excess > self.slack_left:
                raise fail(self.label, f"member {info.filename!r} declares {info.file_size} bytes inflated from "
                                       f"{info.compress_size} compressed (a ratio real model data never has: "
                                       f"a zip bomb?); refused before inflating")
            self.slack_left -= excess

    def open(self, name: str, expected_size: Optional[int] = None):
        info = self.info(name)
        self.check(info)
        if expected_size is not None and info.file_size != expected_size:
            raise fail(self.label, f"member {name!r} holds {info.file_size} bytes, its declared content needs "
                                   f"{expected_size}")
        return info, self.archive.open(info)

    def read(self, name: str, expected_size: Optional[int] = None) -> bytes:
        info, f = self.open(name, expected_size)
        with f:
            data = f.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise fail(self.label, f"member {name!r} inflates to {len(data)} bytes, not the {info.file_size} "
                                   f"it declares")
        return data


def _stream_size(fp) -> int:
    try:
        return os.fstat(fp.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pos = fp.tell()
        fp.seek(0, 2)
        size = fp.tell()
        fp.seek(pos)
        return size


# ---- JSON ---------------------------------------------------------------------------------------

def json_depth(data: bytes) -> int:
    """The bracket nesting depth of a JSON text (strings skipped), in linear time, without recursion."""
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")  # then quotes only delimit strings
    outside = b"".join(unescaped.split(b'"')[::2])
    a = np.frombuffer(outside, np.uint8)
    depth, best = 0, 0
    for start in range(0, a.size, 1 << 20):
        c = a[start:start + (1 << 20)]
        step = ((c == 0x5B) | (c == 0x7B)).astype(np.int32) - ((c == 0x5D) | (c == 0x7D)).astype(np.int32)
        if step.size:
            run = depth + np.cumsum(step)
            best = max(best, int(run.max()))
            depth = int(run[-1])
    return best


def load_json(data, label: str, max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON from a file (bytes or str) whose nesting is bounded; ModelFormatError otherwise."""
    import json
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    depth = json_depth(raw)
    if depth > max_depth:
        raise fail(label, f"JSON nested {depth} levels deep (a model file nests at most {max_depth})")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise fail(label, f"not valid JSON ({type(e).__name__}: {e})") from None


# ---- pickle -------------------------------------------------------------------------------------

MAX_PICKLE_EXPANSION = 10_000_000  # objects a pickle may describe once shared references are expanded

_PICKLE_ARITY = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3, "APPEND": 1, "SETITEM": 2, "BUILD": 1, "REDUCE": 2,
                 "NEWOBJ": 2, "NEWOBJ_EX": 3, "STACK_GLOBAL": 2, "BINPERSID": 1}
_PICKLE_FROM_MARK = {"TUPLE", "LIST", "DICT", "FROZENSET", "INST", "OBJ"}      # pop to the mark, push one
_PICKLE_INTO_TOP = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}  # grow the item below


def check_pickle(data: bytes, label: str, start: int = 0) -> int:
    """Walk the opcodes of the pickle at data[start:] without executing them, and refuse
    - a memo index beyond the number of opcodes (CPython's unpickler sizes its memo array by the
      largest index and zeroes it: 5 bytes -> 32 GiB);
    - a structure that, with every shared (memo) reference expanded, has more than
      MAX_PICKLE_EXPANSION objects: 100 nested pairs of one tuple are 300 bytes of pickle and 2**100
      objects, which hashing (a dict key), str() or == walk in full;
    - a stream that is truncated or malformed.
    Each stack item carries its expanded size (a one-element list, shared with the memo, so that
    appending to a memoized list updates it). Returns where the pickle ends."""
    ops = 0
    f = io.BytesIO(data)
    f.seek(start)
    stack: list = []
    marks: List[int] = []  # where each open MARK is on the stack
    memo: Dict[int, list] = {}
    try:
        for op, arg, _pos in pickletools.genops(f):
            ops += 1
            name = op.name
            if name in ("PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"):
                index = int(arg)
                if index < 0 or index > ops:
                    raise fail(label, f"pickle memo index {index} at opcode {ops}: larger than the pickle "
                                      f"(a memo bomb?)")
            size = None
            if name == "MARK":
                marks.append(len(stack))
                continue
            if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                memo[len(memo) if name == "MEMOIZE" else int(arg)] = stack[-1]
                continue
            if name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
                continue
            if name in ("PROTO", "FRAME", "STOP", "NEXT_BUFFER", "READONLY_BUFFER"):
                continue
            if name == "POP":
                stack.pop()
                continue
            if name == "DUP":
                stack.append(stack[-1])
                continue
            if name in _PICKLE_FROM_MARK or name in ("APPENDS", "SETITEMS", "ADDITEMS", "POP_MARK"):
                if not marks:
                    raise ValueError(f"{name} without a MARK")
                k = marks.pop()
                items = stack[k:]
                del stack[k:]
            elif name in _PICKLE_ARITY:
                n = _PICKLE_ARITY[name]
                if len(stack) < n:
                    raise ValueError(f"{name} needs {n} stack items")
                items = stack[len(stack) - n:]
                del stack[len(stack) - n:]
            else:  # every other opcode pushes one new object and pops nothing
                items = []
            if name == "POP_MARK":
                continue
            size = 1 + sum(item[0] for item in items)
            if name in _PICKLE_INTO_TOP:
                stack[-1][0] += size
                size = stack[-1][0]
            else:
                stack.append([size])
            if size > MAX_PICKLE_EXPANSION:
                raise fail(label, f"the pickle describes more than {MAX_PICKLE_EXPANSION} objects once its shared "
                                  f"references are expanded (at opcode {ops}: a nesting bomb?)")
    except ModelFormatError:
        raise
    except Exception as e:  # genops raises ValueError & co. for a malformed stream
        raise fail(label, f"corrupt pickle ({type(e).__name__}: {e})") from None
    return f.tell()


# ---- HDF5 ---------------------------------------------------------------------------------------

def h5_child(group, key: str, label: str):
    """group[key], which must be a hard link inside the file (no external or soft links)."""
    import h5py
    try:
        link = group.get(key, getlink=True)
    except (KeyError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise fail(label, f"cannot read the link {key!r} ({e})") from None
    if link is None:
        raise fail(label, f"missing {key!r} (the file is truncated or not written by Keras)")
    if isinstance(link, h5py.ExternalLink):
        raise fail(label, f"{key!r} is an external link to {link.filename!r}:{link.path!r}; a Keras file "
                          f"keeps everything in itself, refusing to follow it")
    if not isinstance(link, h5py.HardLink):
        raise fail(label, f"{key!r} is a {type(link).__name__}, not an object in the file (Keras writes "
                          f"plain groups and datasets)")
    try:
        return group[key]
    except (KeyError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise fail(label, f"cannot open {key!r} ({e})") from None


def h5_dataset(ds, label: str, file_size: int) -> None:
    """Check that reading `ds` reads only its own bytes in this file and a bounded amount of them:
    a contiguous, chunked or compact dataset (no external raw storage, no virtual dataset), of a
    fixed-size number type (no strings, no variable-length data), whose storage has been written,
    fits in the file, and backs the size the dataset declares."""
    import h5py
    try:
        dcpl = ds.id.get_create_plist()
        layout = dcpl.get_layout()
        external = dcpl.get_external_count()
        storage = ds.id.get_storage_size()
        shape, dtype = ds.shape, ds.dtype
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as e:
        raise fail(label, f"cannot read the dataset's layout ({e})") from None
    if layout == h5py.h5d.VIRTUAL:
        raise fail(label, "a virtual dataset (its data lives in other files); a Keras weight is a plain dataset")
    if external:
        raise fail(label, f"a dataset with external raw storage ({external} file(s) outside this one); a Keras "
                          f"weight is a plain dataset in the file")
    if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED, h5py.h5d.COMPACT):
        raise fail(label, f"dataset layout {layout} is not a plain in-file layout")
    if dtype.kind not in "fiubV" or dtype.itemsize > 8 or dtype.fields or dtype.subdtype:
        # weights are float16/32/64 or bfloat16 (opaque 2 bytes); an optimizer's step counter is an int
        raise fail(label, f"element type {dtype} is not a number type (weights are float16/32/64 or bfloat16)")
    if shape is None:
        raise fail(label, "a dataset without a shape (null dataspace)")
    nbytes = check_shape(shape, label, dtype.itemsize)
    if nbytes and storage == 0:
        raise fail(label, f"dataset of shape {shape} was never written (no storage allocated in the file): "
                          f"reading it would make {nbytes} bytes of fill value")
    if storage > file_size:
        raise fail(label, f"dataset storage of {storage} bytes is larger than the {file_size}-byte file")
    if layout != h5py.h5d.CHUNKED and storage < nbytes:
        raise fail(label, f"dataset of shape {shape} needs {nbytes} bytes, its storage holds {storage}")
    if nbytes > INFLATE_RATIO * max(storage, 1) + MiB:
        raise fail(label, f"dataset of shape {shape} declares {nbytes} bytes from {storage} bytes of compressed "
                          f"chunks: a ratio real weights never have")
    offset = ds.id.get_offset() if layout == h5py.h5d.CONTIGUOUS else None
    if offset is not None and offset + storage > file_size:
        raise fail(label, f"dataset data at bytes [{offset}, {offset + storage}) lies past the end of the "
                          f"{file_size}-byte file")


def h5_attr(obj, name: str, label: str, file_size: int, *, scalar: bool):
    """Read attribute `name` of a string (or list of strings) type after checking its declared type,
    shape and size: a scalar (scalar=True) or a 1-D list of at most MAX_ATTR_ITEMS entries, of a
    string type no larger than the file. Returns None if the attribute is absent."""
    import h5py
    try:
        if name not in obj.attrs:
            return None
        aid = h5py.h5a.open(obj.id, name.encode())
        tid, space = aid.get_type(), aid.get_space()
        tclass, tsize = tid.get_class(), tid.get_size()
        vlen = tclass == h5py.h5t.STRING and tid.is_variable_str()
        kind = space.get_simple_extent_type()
        npoints = space.get_simple_extent_npoints()
        dims = space.get_simple_extent_dims() if kind == h5py.h5s.SIMPLE else ()
    except (KeyError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise fail(label, f"cannot read attribute {name!r} ({e})") from None
    try:
        storage = aid.get_storage_size()
    except (OSError, ValueError, RuntimeError):  # libhdf5 reports an empty attribute's 0 bytes as an error
        storage = 0
    if tclass != h5py.h5t.STRING and not (npoints == 0 and not scalar):  # Keras writes [] as an empty float array
        raise fail(label, f"attribute {name!r} is not a string (HDF5 type class {tclass})")
    if scalar and npoints != 1:
        raise fail(label, f"attribute {name!r} holds {npoints} values, expected one string")
    if not scalar and (len(dims) > 1 or npoints > MAX_ATTR_ITEMS):
        raise fail(label, f"attribute {name!r} has shape {dims}, expected a list of at most {MAX_ATTR_ITEMS} "
                          f"strings")
    if not vlen and (tsize * npoints > min(file_size, MAX_STRING_ATTR) or storage > file_size):
        raise fail(label, f"attribute {name!r} declares {tsize * npoints} bytes of strings, more than the file")
    if vlen and npoints * min(file_size, MAX_STRING_ATTR) > 4 * MAX_STRING_ATTR and npoints > 64:
        # each entry refers to a heap object of up to the file's size: bound what reading them can make
        raise fail(label, f"attribute {name!r} lists {npoints} variable-length strings; too many to read safely")
    try:
        return obj.attrs[name]
    except (KeyError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise fail(label, f"cannot read attribute {name!r} ({e})") from None


def dict_of_str_keys(d: Dict, label: str) -> Dict[str, object]:
    bad = [k for k in d if not isinstance(k, str)]
    if bad:
        raise fail(label, f"keys must be strings, found {safe_repr(bad[0])} ({type(bad[0]).__name__})")
    return d


def h5_check_global_heaps(buf, label: str) -> None:
    """Walk every HDF5 global heap collection ("GCOL", where variable-length strings such as
    `model_config` live) the way libhdf5 will, and refuse one it would spin on.

    libhdf5 (H5HG__cache_heap_deserialize) advances through a collection by each object's size;
    a free-space object of size 0, or sizes past the collection's end, make it loop forever (one
    inserted byte in a Keras .h5 is enough). A collection libhdf5 parses starts with the signature
    at its address, so scanning for every signature finds them all; `buf` is bytes or an mmap.
    """
    sizeof_len = _h5_sizeof_lengths(buf)
    objhdr = 8 + sizeof_len
    pos = buf.find(b"GCOL")
    while pos >= 0:
        head = bytes(buf[pos:pos + 8 + sizeof_len])
        if len(head) == 8 + sizeof_len and head[4] == 1:
            size = int.from_bytes(head[8:], "little")
            end = pos + size
            if size < 8 + sizeof_len or end > len(buf):
                raise fail(label, f"HDF5 global heap at byte {pos} declares {size} bytes, past the end of the "
                                  f"{len(buf)}-byte file")
            p = pos + 8 + sizeof_len
            while p < end:
                if p + objhdr > end:
                    break  # a tail too small for an object header is free space
                idx = int.from_bytes(bytes(buf[p:p + 2]), "little")
                osize = int.from_bytes(bytes(buf[p + 8:p + 8 + sizeof_len]), "little")
                need = objhdr + -(-osize // 8) * 8 if idx else osize
                if need < objhdr or p + need > end:
                    raise fail(label, f"corrupt HDF5 global heap at byte {pos}: object {idx} at byte {p} has "
                                      f"size {osize}, which does not fit the {size}-byte collection (libhdf5 "
                                      f"misreads such a heap, or loops forever on it)")
                p += need
        pos = buf.find(b"GCOL", pos + 1)


def _h5_sizeof_lengths(buf) -> int:
    """The superblock's "size of lengths" (8 in every file h5py writes); the superblock sits at
    byte 0, 512, 1024, ... after an optional user block."""
    sig = b"\x89HDF\r\n\x1a\n"
    at = 0
    while at + 16 <= len(buf) and bytes(buf[at:at + 8]) != sig:
        at = 512 if at == 0 else at * 2
    if at + 16 > len(buf):
        return 8
    version = buf[at + 8]
    n = buf[at + 14] if version in (0, 1) else buf[at + 10]
    return n if n in (2, 4, 8) else 8


MAX_H5_OBJECTS = 100_000  # groups and datasets in one file (a Keras file of a GRU model has ~30)


def h5_check_tree(root, label: str, file_size: int) -> None:
    """Walk every link of an open HDF5 file once, before anything is read from it: only hard links
    (no external link to another file, no soft link), and every dataset passes `h5_dataset`. After
    this, whatever path the importer takes through the file reaches only checked objects."""
    import h5py
    seen, stack = set(), [("", root)]
    while stack:
        where, group = stack.pop()
        try:
            names = list(group.keys())
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as e:
            raise fail(label, f"cannot list the group {where or '/'!r} ({e})") from None
        for name in names:
            path = f"{where}/{name}"
            obj = h5_child(group, name, f"{label}: {path}")
            try:
                addr = h5py.h5o.get_info(obj.id).addr
            except (KeyError, OSError, ValueError, RuntimeError, TypeError) as e:
                raise fail(label, f"cannot read the object {path!r} ({e})") from None
            if addr in seen:
                continue  # a second hard link to an object already checked
            seen.add(addr)
            if len(seen) > MAX_H5_OBJECTS:
                raise fail(label, f"more than {MAX_H5_OBJECTS} objects; no Keras model file has that many")
            if isinstance(obj, h5py.Dataset):
                h5_dataset(obj, f"{label}: {path}", file_size)
            elif isinstance(obj, h5py.Group):
                stack.append((path, obj))
            else:
                raise fail(label, f"{path!r} is a {type(obj).__name__}, not a group or dataset")


def h5_open(source, label: str):
    """Open a path or the bytes of an HDF5 file read-only, after `h5_check_global_heaps`, and run
    `h5_check_tree` on it. The caller closes the returned h5py.File."""
    import mmap

    import h5py
    if isinstance(source, (bytes, bytearray)):
        h5_check_global_heaps(source, label)
        size = len(source)
        handle = io.BytesIO(source)
    else:
        with open(source, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size:
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    h5_check_global_heaps(mm, label)
        handle = source
    try:
        f = h5py.File(handle, "r")
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as e:
        raise fail(label, f"not a readable HDF5 file ({e})") from None
    try:
        h5_check_tree(f, label, size)
    except BaseException:
        f.close()
        raise
    return f
