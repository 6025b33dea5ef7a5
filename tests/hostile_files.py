"""Hostile and broken model files, made by code (issue 11): each builder writes one file under a
directory and returns its path. Used by test_hostile_importers.py and as fuzz seeds.

Every file is under 1 MB. The directory layout is `<root>/models/` for the model files and
`<root>/outside/` for files a model must never read (they hold SECRET_VALUE); a loader run with
cwd=<root>/models resolves "../outside/..." to them whether it resolves relative paths against
the working directory or against the model's folder.

Building blocks: `pickle_ops` (a small pickle assembler, so a torch pickle can say anything),
`write_zip` (a zip writer that takes pre-compressed members, so a 1 MB file can declare and
inflate to 1 GB), `npy_bytes`, `write_safetensors`, and Keras/HDF5 surgery with h5py.
"""
from __future__ import annotations

import functools
import io
import json
import os
import shutil
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

SECRET_VALUE = 7.25  # what the outside files hold: a model that loads them has weights of 7.25
GiB = 1 << 30
BOMB = 900 << 20  # what the zip bombs inflate to: 900 MiB from a 0.93 MB file

def _mkparent(path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(path)


# ---- zip with pre-compressed members --------------------------------------------------------


class Deflated:
    """A raw-deflate stream of `prefix` followed by zeros up to `size` bytes, and its CRC32.

    Built by repetition: after a Z_FULL_FLUSH deflate forgets its history, so the compressed form
    of every further 1 MiB of zeros is the same bytes (about 1 KiB).
    """

    def __init__(self, size: int, prefix: bytes = b""):
        block = 1 << 20
        assert len(prefix) < block and size >= block
        self.size = size
        first = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = first.compress(prefix + bytes(block - len(prefix))) + first.flush(zlib.Z_FULL_FLUSH)
        rest = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = rest.compress(bytes(block)) + rest.flush(zlib.Z_FULL_FLUSH)
        n, tail = divmod(size - block, block)
        last = zlib.compressobj(9, zlib.DEFLATED, -15)
        end = last.compress(bytes(tail)) + last.flush()
        self.data = head + body * n + end
        self.crc = _crc_zeros(prefix, size)


@functools.cache
def _crc_zeros(prefix: bytes, size: int) -> int:
    crc = zlib.crc32(prefix)
    left = size - len(prefix)
    zeros = bytes(1 << 20)
    while left:
        n = min(left, len(zeros))
        crc = zlib.crc32(zeros[:n], crc)
        left -= n
    return crc


def write_zip(path, members: Sequence, *, flags: int = 0, method_override: Optional[int] = None) -> Path:
    """A zip of members [(name, bytes | Deflated)], stored or pre-deflated, no zip64 (< 4 GiB)."""
    out, central = bytearray(), bytearray()
    for name, m in members:
        nb = name.encode()
        if isinstance(m, Deflated):
            method, comp, crc, size = 8, m.data, m.crc, m.size
        else:
            method, comp, crc, size = 0, bytes(m), zlib.crc32(m), len(m)
        if method_override is not None:
            method = method_override
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(comp), size, len(nb), 0)
        out += nb + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc, len(comp),
                               size, len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd, 0)
    _mkparent(path).write_bytes(out)
    return Path(path)


# ---- npy / npz / safetensors / json -----------------------------------------------------------

def npy_header(descr: str, shape, version=(1, 0), raw_dict: Optional[str] = None) -> bytes:
    d = raw_dict
    if d is None:
        d = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    hdr = d.encode("latin1")
    lenfmt = "<H" if version == (1, 0) else "<I"
    pre = 6 + 2 + struct.calcsize(lenfmt)
    pad = (-(pre + len(hdr) + 1)) % 64
    hdr = hdr + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(lenfmt, len(hdr)) + hdr


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def small_gru_state_dict(I: int = 2, H: int = 3, seed: int = 0) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = lambda *s: rng.uniform(-0.5, 0.5, s).astype(np.float32)  # noqa: E731
    return {"weight_ih_l0": u(3 * H, I), "weight_hh_l0": u(3 * H, H), "bias_ih_l0": u(3 * H), "bias_hh_l0": u(3 * H)}


def write_safetensors(path, tensors: Dict[str, np.ndarray], header: Optional[bytes] = None) -> Path:
    meta, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, "<f4").tobytes()
        meta[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = header if header is not None else json.dumps(meta).encode()
    _mkparent(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return Path(path)


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


# ---- torch pickles by hand ---------------------------------------------------------------------

def _uni(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(v: int) -> bytes:
    if 0 <= v < 2 ** 31:
        return b"J" + struct.pack("<i", v)
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def _tup(items: Sequence[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def torch_pickle(tensors: Dict[str, tuple], legacy: bool = False) -> bytes:
    """A protocol-2 pickle of an OrderedDict {key: tensor}; each tensor is
    (storage_key, storage_numel, offset, size, stride), a FloatStorage. legacy=True writes the
    6-entry persistent id of the pre-zip format."""
    out = b"\x80\x02" + _glob("collections", "OrderedDict") + b")R("
    for k, (skey, numel, offset, size, stride) in tensors.items():
        pid = [_uni("storage"), _glob("torch", "FloatStorage"), _uni(skey), _uni("cpu"), _int(numel)]
        if legacy:
            pid.append(b"N")
        rebuild_args = [_tup(pid) + b"Q", _int(offset), _tup([_int(v) for v in size]),
                        _tup([_int(v) for v in stride]), b"\x89", _glob("collections", "OrderedDict") + b")R"]
        out += _uni(k) + _glob("torch._utils", "_rebuild_tensor_v2") + _tup(rebuild_args) + b"R"
    return out + b"u."


def write_torch_zip(path, pickle_bytes: bytes, records: Dict[str, object], name: str = "archive") -> Path:
    members = [(f"{name}/data.pkl", pickle_bytes), (f"{name}/byteorder", b"little")]
    members += [(f"{name}/data/{k}", v) for k, v in records.items()]
    members.append((f"{name}/version", b"3\n"))
    return write_zip(path, members)


def torch_zip_of(path, sd: Dict[str, np.ndarray]) -> Path:
    """A torch.save-style zip of float32 arrays, one storage per tensor, without torch."""
    tensors, records = {}, {}
    for i, (k, a) in enumerate(sd.items()):
        a = np.ascontiguousarray(a, "<f4")
        strides = tuple(s // 4 for s in a.strides)
        tensors[k] = (str(i), a.size, 0, a.shape, strides)
        records[str(i)] = a.tobytes()
    return write_torch_zip(path, torch_pickle(tensors), records)


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def legacy_torch_of(path, sd: Dict[str, np.ndarray], numel_override: Optional[Dict[str, int]] = None,
                    first_pickle: Optional[bytes] = None) -> Path:
    """A pre-1.6 torch.save file of float32 arrays, without torch (torch/serialization.py _legacy_save)."""
    numel_override = numel_override or {}
    tensors, raw = {}, []
    for i, (k, a) in enumerate(sd.items()):
        a = np.ascontiguousarray(a, "<f4")
        tensors[k] = (str(i), numel_override.get(k, a.size), 0, a.shape, tuple(s // 4 for s in a.strides))
        raw.append(struct.pack("<q", numel_override.get(k, a.size)) + a.tobytes())
    head = first_pickle if first_pickle is not None else b"\x80\x02" + _int(LEGACY_MAGIC) + b"."
    body = head + b"\x80\x02" + _int(1001) + b"." + b"\x80\x02}." + torch_pickle(tensors, legacy=True)
    keys = b"\x80\x02](" + b"".join(_uni(str(i)) for i in range(len(sd))) + b"e."
    _mkparent(path).write_bytes(body + keys + b"".join(raw))
    return Path(path)


# A memo write at index 2**31-1: CPython's C unpickler grows its memo array to twice the index
# and zeroes it (32 GiB) before anything else happens.
MEMO_BOMB = b"\x80\x02}r\xff\xff\xff\x7f."


# ---- ONNX ----------------------------------------------------------------------------------------

def onnx_gru(H: int = 2, I: int = 2, extra_nodes=(), extra_inits=(), functions=(), opset_extra=(), output="Y",
             bias_input: Optional[str] = None):
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    W = numpy_helper.from_array(rng.uniform(-.5, .5, (1, 3 * H, I)).astype(np.float32), "W")
    R = numpy_helper.from_array(rng.uniform(-.5, .5, (1, 3 * H, H)).astype(np.float32), "R")
    gru = helper.make_node("GRU", ["X", "W", "R"] + ([bias_input] if bias_input else []), ["Y", "Y_h"],
                           hidden_size=H, linear_before_reset=1)
    nodes = list(extra_nodes) + [gru]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", I])],
                          [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], [W, R, *extra_inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14), *opset_extra], functions=list(functions))
    m.ir_version = 10
    return m


def onnx_constant_of_shape_bomb(path) -> Path:
    """ConstantOfShape([30000, 30000], 1.0): 3.6 GB if folded at import."""
    from onnx import TensorProto, helper, numpy_helper
    shape = numpy_helper.from_array(np.array([30000, 30000], np.int64), "big_shape")
    node = helper.make_node("ConstantOfShape", ["big_shape"], ["big"],
                            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
    m = onnx_gru(extra_nodes=[node, helper.make_node("Add", ["Y", "big"], ["out"])], extra_inits=[shape],
                 output="out")
    _mkparent(path).write_bytes(m.SerializeToString())
    return Path(path)


def onnx_local_function(path, external_location: Optional[str] = None, H: int = 2) -> Path:
    """A valid GRU model with a model-local function. Without `external_location` the GRU output
    passes through `local.Pass` (Identity); with it, `local.MakeB` makes the GRU's bias B (1, 6H)
    with a Constant whose data is external, at `external_location` (6H float32)."""
    from onnx import TensorProto, helper
    if external_location is None:
        fn = helper.make_function("local", "Pass", ["x"], ["y"], [helper.make_node("Identity", ["x"], ["y"])],
                                  [helper.make_opsetid("", 14)])
        m = onnx_gru(functions=[fn], opset_extra=[helper.make_opsetid("local", 1)], output="Y2",
                     extra_nodes=[])
        m.graph.node.append(helper.make_node("Pass", ["Y"], ["Y2"], domain="local"))
    else:
        c = helper.make_tensor("c", TensorProto.FLOAT, [1, 6 * H], [0.0] * 6 * H)
        c.data_location = TensorProto.EXTERNAL
        del c.float_data[:]
        for k, v in (("location", external_location), ("offset", "0"), ("length", str(24 * H))):
            e = c.external_data.add()
            e.key, e.value = k, v
        fn = helper.make_function("local", "MakeB", [], ["b"], [helper.make_node("Constant", [], ["b"], value=c)],
                                  [helper.make_opsetid("", 14)])
        m = onnx_gru(H=H, functions=[fn], opset_extra=[helper.make_opsetid("local", 1)], bias_input="B",
                     extra_nodes=[helper.make_node("MakeB", [], ["B"], domain="local")])
    _mkparent(path).write_bytes(m.SerializeToString())
    return Path(path)


# ---- Keras / HDF5 --------------------------------------------------------------------------------

def keras_base_files(d) -> Dict[str, Path]:
    """A real Keras 3 model (Input(None, 3) -> GRU(4) -> Dense(2)), compiled and fitted one step so
    that the files hold an optimizer's state too, saved as .h5, .weights.h5, .keras."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"h5": d / "base.h5", "weights_h5": d / "base.weights.h5", "keras": d / "base.keras"}
    if all(p.exists() for p in paths.values()):
        return paths
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    keras.backend.clear_session()  # layer names restart at "gru"
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4), keras.layers.Dense(2)])
    m.compile("adam", "mse")  # with an optimizer's state (an int step counter among the datasets)
    m.fit(np.zeros((2, 5, 3), np.float32), np.zeros((2, 2), np.float32), epochs=1, verbose=0)
    m.save(paths["h5"])
    m.save_weights(paths["weights_h5"])
    m.save(paths["keras"])
    return paths


def _kernel_name(f, kind: str) -> str:
    """The GRU kernel's dataset path: .../gru_cell/kernel (legacy .h5) or layers/gru*/cell/vars/0."""
    import re
    pattern = r"^model_weights/gru[^/]*/.*/kernel$" if kind == "h5" else r"^layers/gru[^/]*/cell/vars/0$"
    names = []
    f.visit(names.append)
    return next(n for n in names if re.match(pattern, n))


def _outside(root: Path) -> Path:
    o = root / "outside"
    o.mkdir(parents=True, exist_ok=True)
    return o


def _with_h5(src: Path, dst: Path, kind: str, edit) -> Path:
    """Copy a Keras file and edit its HDF5 part with `edit(h5py.File, dataset_name)`; for a .keras
    zip the edit applies to model.weights.h5 inside it."""
    import h5py
    dst.parent.mkdir(parents=True, exist_ok=True)
    if kind != "keras":
        shutil.copy(src, dst)
        with h5py.File(dst, "r+") as f:
            edit(f, _kernel_name(f, kind))
        return dst
    tmp = dst.with_suffix(".tmp.h5")
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    tmp.write_bytes(members["model.weights.h5"])
    with h5py.File(tmp, "r+") as f:
        edit(f, _kernel_name(f, kind))
    members["model.weights.h5"] = tmp.read_bytes()
    tmp.unlink()
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return dst


def keras_outside_read(root, kind: str, trick: str) -> Path:
    """A Keras file whose GRU kernel is not a plain dataset in the file: trick is "external_abs" /
    "external_rel" (HDF5 external raw storage), "external_link" or "virtual" (both to another file)."""
    import h5py
    root = Path(root)
    base = keras_base_files(root / "base")[kind]
    out = _outside(root)
    with h5py.File(base if kind != "keras" else root / "base" / "base.weights.h5", "r") as f:
        shape = f[_kernel_name(f, "weights_h5" if kind == "keras" else kind)].shape
    secret = np.full(shape, SECRET_VALUE, np.float32)
    (out / "secret.bin").write_bytes(secret.tobytes())
    with h5py.File(out / "secret.h5", "w") as f:
        f["w"] = secret

    def edit(f, name):
        del f[name]
        if trick == "external_abs":
            f.create_dataset(name, shape=shape, dtype="f4", external=[(str(out / "secret.bin"), 0, secret.nbytes)])
        elif trick == "external_rel":
            f.create_dataset(name, shape=shape, dtype="f4", external=[("../outside/secret.bin", 0, secret.nbytes)])
        elif trick == "external_link":
            f[name] = h5py.ExternalLink("../outside/secret.h5", "/w")
        elif trick == "virtual":
            layout = h5py.VirtualLayout(shape=shape, dtype="f4")
            layout[...] = h5py.VirtualSource("../outside/secret.h5", "w", shape=shape)
            f.create_virtual_dataset(name, layout)
        else:
            raise ValueError(trick)
    ext = {"h5": ".h5", "weights_h5": ".weights.h5", "keras": ".keras"}[kind]
    return _with_h5(base, root / "models" / f"{kind}_{trick}{ext}", kind, edit)


def keras_unwritten_dataset(root, kind: str) -> Path:
    """The GRU kernel declared (40000, 40000) float32 and never written: 6.4 GB of fill value."""
    root = Path(root)
    base = keras_base_files(root / "base")[kind]

    def edit(f, name):
        del f[name]
        f.create_dataset(name, shape=(40000, 40000), dtype="f4")
    ext = {"h5": ".h5", "weights_h5": ".weights.h5", "keras": ".keras"}[kind]
    return _with_h5(base, root / "models" / f"{kind}_unwritten{ext}", kind, edit)


def keras_h5_heap_spin(root) -> Path:
    """A Keras 3 .h5 with one byte inserted at the start of the model_config JSON: the global heap
    collection holding it no longer parses, and libhdf5 loops forever reading the attribute (the
    rest of the file is intact and opens)."""
    root = Path(root)
    data = keras_base_files(root / "base")["h5"].read_bytes()
    at = data.index(b'{"class_name"')
    heap = data.rindex(b"GCOL", 0, at)
    end = heap + int.from_bytes(data[heap + 8:heap + 16], "little")  # the collection's size field
    # one byte in, and one byte of the collection's trailing free space out: everything after the
    # heap stays where the file's other structures expect it, only the heap is broken
    spun = data[:at] + b"\x90" + data[at:end - 1] + data[end:]
    out = root / "models" / "heap_spin.h5"
    _mkparent(out).write_bytes(spun)
    return out


def keras_zip_bomb(root, member: str) -> Path:
    """A .keras zip whose `member` (config.json or model.weights.h5) inflates to 900 MiB."""
    root = Path(root)
    base = keras_base_files(root / "base")["keras"]
    with zipfile.ZipFile(base) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    members = [(n, Deflated(BOMB, prefix=b) if n == member else b) for n, b in members]
    return write_zip(root / "models" / f"bomb_{member}.keras", members)


# ---- the state_dict readers ----------------------------------------------------------------------

STATE_DICT_FORMATS = ("torch_zip", "torch_legacy", "safetensors", "npz", "rtneural")


def write_state_dict(path_stem: Path, fmt: str, sd: Dict[str, np.ndarray]) -> Path:
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torch_zip":
        return torch_zip_of(path_stem.with_suffix(".pt"), sd)
    if fmt == "torch_legacy":
        return legacy_torch_of(path_stem.with_suffix(".legacy.pt"), sd)
    if fmt == "safetensors":
        return write_safetensors(path_stem.with_suffix(".safetensors"), sd)
    if fmt == "npz":
        p = path_stem.with_suffix(".npz")
        np.savez(p, **sd)
        return p
    if fmt == "rtneural":
        p = path_stem.with_suffix(".json")
        p.write_text(json.dumps({k: v.tolist() for k, v in sd.items()}))
        return p
    raise ValueError(fmt)


def layer_index_bomb(root, fmt: str, index: int) -> Path:
    """A one-layer GRU state_dict plus a key `weight_ih_l<index>`."""
    sd = small_gru_state_dict()
    sd[f"weight_ih_l{index}"] = np.zeros((9, 3), np.float32)
    return write_state_dict(Path(root) / "models" / f"layer_index_{index}_{fmt}", fmt, sd)


def torch_zero_strides(root) -> Path:
    """weight_hh_l0 (30000, 10000) with strides (0, 0) over a 1-element storage: 1.2 GB if copied."""
    sd = small_gru_state_dict()
    tensors, records = {}, {}
    for i, (k, a) in enumerate(sd.items()):
        tensors[k] = (str(i), a.size, 0, a.shape, tuple(s // 4 for s in a.strides))
        records[str(i)] = a.tobytes()
    tensors["weight_hh_l0"] = ("z", 1, 0, (30000, 10000), (0, 0))
    records["z"] = np.zeros(1, np.float32).tobytes()
    return write_torch_zip(Path(root) / "models" / "zero_strides.pt", torch_pickle(tensors), records)


def torch_storage_bomb(root) -> Path:
    """A storage record declaring and inflating to 900 MiB behind a 0.93 MB file."""
    sd = small_gru_state_dict()
    tensors, records = {}, {}
    for i, (k, a) in enumerate(sd.items()):
        tensors[k] = (str(i), a.size, 0, a.shape, tuple(s // 4 for s in a.strides))
        records[str(i)] = a.tobytes()
    tensors["weight_hh_l0"] = ("big", BOMB // 4, 0, (9, 3), (3, 1))
    records["big"] = Deflated(BOMB)
    return write_torch_zip(Path(root) / "models" / "storage_bomb.pt", torch_pickle(tensors), records)


def legacy_storage_bomb(root) -> Path:
    """A legacy torch file declaring a storage of 2**34 floats (64 GiB) with 36 bytes present."""
    sd = small_gru_state_dict()
    return legacy_torch_of(Path(root) / "models" / "legacy_storage_bomb.pt", sd,
                           numel_override={"weight_hh_l0": 1 << 34})


# 100 nested pairs of one shared tuple (t1 = (t0, t0), t2 = (t1, t1), ...), used as a dict key: the
# unpickler hashes the key, which walks all 2**100 references (hash(tuple) is not cached).
NESTING_BOMB = (b"\x80\x02)q\x00" + b"".join(b"h" + bytes([i]) + b"h" + bytes([i]) + b"\x86q" + bytes([i + 1])
                                            for i in range(100)) + b"}hdNs.")


def torch_nesting_bomb(root) -> Path:
    return write_torch_zip(Path(root) / "models" / "nesting_bomb.pt", NESTING_BOMB, {})


def legacy_nesting_bomb(root) -> Path:
    return legacy_torch_of(Path(root) / "models" / "legacy_nesting_bomb.pt", small_gru_state_dict(),
                           first_pickle=NESTING_BOMB)


def torch_memo_bomb(root) -> Path:
    return write_torch_zip(Path(root) / "models" / "memo_bomb.pt", MEMO_BOMB, {})


def legacy_memo_bomb(root) -> Path:
    return legacy_torch_of(Path(root) / "models" / "legacy_memo_bomb.pt", small_gru_state_dict(),
                           first_pickle=MEMO_BOMB)


def npz_declared_huge(root) -> Path:
    """An npz whose weight_hh_l0.npy declares (100000, 100000) float32 (37 GiB) and holds 36 bytes."""
    sd = small_gru_state_dict()
    members = [(f"{k}.npy", npy_bytes(v)) for k, v in sd.items() if k != "weight_hh_l0"]
    members.append(("weight_hh_l0.npy", npy_header("<f4", (100000, 100000)) + bytes(36)))
    return write_zip(Path(root) / "models" / "npz_declared_huge.npz", members)


def npz_zip_bomb(root) -> Path:
    """An npz member declaring (900 MiB - 128 bytes) / 4 float32 and inflating to 900 MiB of zeros."""
    sd = small_gru_state_dict()
    members = [(f"{k}.npy", npy_bytes(v)) for k, v in sd.items() if k != "weight_hh_l0"]
    hdr = npy_header("<f4", ((BOMB - 128) // 4,))
    assert len(hdr) == 128
    members.append(("weight_hh_l0.npy", Deflated(BOMB, prefix=hdr)))
    return write_zip(Path(root) / "models" / "npz_zip_bomb.npz", members)


def npz_header(root, name: str, header: bytes) -> Path:
    sd = small_gru_state_dict()
    members = [(f"{k}.npy", npy_bytes(v)) for k, v in sd.items() if k != "weight_hh_l0"]
    members.append(("weight_hh_l0.npy", header + bytes(36)))
    return write_zip(Path(root) / "models" / f"npz_{name}.npz", members)

