"""Hostile and broken model files against the Python importers (issue 11, items 2-6).

Every load runs in a child process (tests/limited_load.py) under RLIMIT_AS = what the process
uses after importing + 256 MB, and is killed after GRU_INFER_HOSTILE_TIMEOUT CPU seconds (20 by
default: a hang detector, not a speed assertion). A refusal must be a ModelFormatError or
UnsupportedModelError that names the file, with no MemoryError anywhere in its cause chain (that
would mean the loader tried to allocate past the limit) and a peak RSS growth under 256 MB.

Set GRU_INFER_HOSTILE_REPORT=<file> to append one JSON line per load (time, RSS growth, outcome).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import hostile_files as H
import numpy as np
import pytest
from limited_load import MEM_MB, run_limited

DATA = Path(__file__).parent / "data" / "hostile"


def _report(name, res):
    out = os.environ.get("GRU_INFER_HOSTILE_REPORT")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"case": name, "status": res.status, "type": res.type, "seconds": res.seconds,
                                "cpu_seconds": res.cpu_seconds, "rss_growth_mb": res.rss_growth_mb,
                                "message": res.message[:200]}) + "\n")


def load_limited(path, name=None, **kw):
    res = run_limited(path, **kw)
    _report(name or Path(path).name, res)
    return res


def assert_refused(res, path, what=None):
    """A clean refusal: our error type, naming the file (and `what`), within the memory budget."""
    path = Path(path)
    assert res.status == "error", f"{path.name}: expected a refusal, got {res.describe()}"
    assert not res.memory_error, f"{path.name}: the load ran out of its {MEM_MB} MB budget: {res.describe()}"
    assert res.is_model_error, f"{path.name}: expected ModelFormatError/UnsupportedModelError: {res.describe()}"
    assert path.name in res.message, f"{path.name}: the message does not name the file: {res.describe()}"
    if what:
        assert re.search(what, res.message, re.I), f"{path.name}: the message does not say {what!r}: {res.describe()}"
    assert res.rss_growth_mb < MEM_MB, f"{path.name}: peak RSS grew by {res.rss_growth_mb:.0f} MB"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("hostile")
    (r / "models").mkdir()
    return r


# ---- item 2: Keras files must not read other files ------------------------------------------------

@pytest.mark.parametrize("kind", ["h5", "weights_h5", "keras"])
@pytest.mark.parametrize("trick", ["external_abs", "external_rel", "external_link", "virtual"])
def test_keras_refuses_weights_outside_the_file(root, kind, trick):
    path = H.keras_outside_read(root, kind, trick)
    res = load_limited(path, preload=["h5py"], cwd=root / "models")
    assert_refused(res, path, "external|link|virtual")


def test_keras_base_files_load(root):
    """The unmodified files the hostile ones are made from load (so a refusal is about the edit)."""
    for kind, path in H.keras_base_files(root / "base").items():
        res = load_limited(path, preload=["h5py"])
        assert res.status == "loaded", f"{kind}: {res.describe()}"


# ---- item 3: small files that ask for gigabytes ------------------------------------------------------

@pytest.mark.parametrize("fmt", H.STATE_DICT_FORMATS)
@pytest.mark.parametrize("index", [10_000_000, 10 ** 30])
def test_state_dict_layer_index(root, fmt, index):
    path = H.layer_index_bomb(root, fmt, index)
    res = load_limited(path)
    assert_refused(res, path, "layer")


@pytest.mark.parametrize("fmt", H.STATE_DICT_FORMATS)
def test_state_dict_readers_load_the_plain_file(root, fmt):
    path = H.write_state_dict(root / "models" / f"plain_{fmt}", fmt, H.small_gru_state_dict())
    res = load_limited(path)
    assert res.status == "loaded", res.describe()


def test_torch_zero_strides(root):
    path = H.torch_zero_strides(root)
    assert_refused(load_limited(path), path, "stride|storage")


def test_torch_storage_zip_bomb(root):
    path = H.torch_storage_bomb(root)
    assert path.stat().st_size < 1 << 20
    assert_refused(load_limited(path), path)


def test_torch_legacy_declared_storage(root):
    path = H.legacy_storage_bomb(root)
    assert_refused(load_limited(path), path, "storage")


@pytest.mark.parametrize("where", ["zip", "legacy"])
def test_pickle_memo_bomb(root, where):
    path = H.torch_memo_bomb(root) if where == "zip" else H.legacy_memo_bomb(root)
    assert_refused(load_limited(path), path, "memo|pickle")


@pytest.mark.parametrize("where", ["zip", "legacy"])
def test_pickle_nesting_bomb(root, where):
    """A 300-byte pickle whose dict key is 2**100 shared references: hashing it never ends."""
    path = H.torch_nesting_bomb(root) if where == "zip" else H.legacy_nesting_bomb(root)
    assert_refused(load_limited(path), path, "shared references")


@pytest.mark.parametrize("kind", ["h5", "weights_h5", "keras"])
def test_keras_dataset_never_written(root, kind):
    path = H.keras_unwritten_dataset(root, kind)
    assert path.stat().st_size < 1 << 20
    assert_refused(load_limited(path, preload=["h5py"]), path, "written|allocated|storage")


def test_onnx_constant_of_shape_folded(root):
    path = H.onnx_constant_of_shape_bomb(root / "models" / "constant_of_shape.onnx")
    assert path.stat().st_size < 1000
    assert_refused(load_limited(path, preload=["onnx"]), path, "ConstantOfShape")


def test_npz_declared_37_gib(root):
    path = H.npz_declared_huge(root)
    assert_refused(load_limited(path), path, "weight_hh_l0")


def test_npz_zip_bomb(root):
    path = H.npz_zip_bomb(root)
    assert path.stat().st_size < 1 << 20
    assert_refused(load_limited(path), path, "weight_hh_l0")


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_keras_zip_bomb(root, member):
    path = H.keras_zip_bomb(root, member)
    assert path.stat().st_size < 1 << 20
    assert_refused(load_limited(path, preload=["h5py"]), path, re.escape(member))


# ---- item 4: hangs --------------------------------------------------------------------------------

def test_h5_model_config_heap_spin(root):
    """One byte inserted into the model_config JSON of a real Keras 3 .h5 (libhdf5 spins in
    H5HG__cache_heap_deserialize, > 60 CPU s before the fix)."""
    path = H.keras_h5_heap_spin(root)
    assert_refused(load_limited(path, preload=["h5py"]), path, "global heap")


def test_h5_model_config_hang_found_by_fuzzing():
    """The same hang as the fuzzer found it (tests/data/hostile/hang_model_config.h5, 18.5 kB:
    a Keras 3 .h5 with one byte inserted in the heap and one changed)."""
    path = DATA / "hang_model_config.h5"
    assert_refused(load_limited(path, preload=["h5py"]), path, "global heap")


# ---- item 5: one exception type for malformed files ------------------------------------------------

def _safetensors_nested(root):
    return H.write_safetensors(root / "models" / "nested.safetensors", {},
                               header=('{"a": ' + H.nested_json(100_000) + "}").encode())


def _rtneural_nested(root):
    p = root / "models" / "nested.json"
    p.write_text('{"layers": ' + H.nested_json(100_000) + "}")
    return p


def _rtneural_torch_nested(root):
    p = root / "models" / "nested_torch.json"
    p.write_text('{"weight_ih_l0": ' + H.nested_json(100_000) + "}")
    return p


def _safetensors_shape_overflow(root):
    h = json.dumps({"weight_ih_l0": {"dtype": "F32", "shape": [0, 2 ** 64], "data_offsets": [0, 0]}})
    return H.write_safetensors(root / "models" / "shape_overflow.safetensors", {}, header=h.encode())


def _rtneural_activation_list(root):  # TypeError: unhashable type: 'list'
    p = root / "models" / "activation_list.json"
    p.write_text(json.dumps({"layers": [{"type": "dense", "activation": ["x"], "weights": [[[1.0]], [1.0]],
                                         "shape": [None, 1]}]}))
    return p


def _rtneural_huge_int(root):  # OverflowError: int too large to convert to float
    p = root / "models" / "huge_int.json"
    p.write_text(json.dumps({"weight_ih_l0": [[10 ** 400]]}))
    return p


def _safetensors_dtype_list(root):  # TypeError: unhashable type: 'list'
    h = json.dumps({"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}).encode() + b"    "
    return H.write_safetensors(root / "models" / "dtype_list.safetensors", {}, header=h)


def _npz_token_error(root):
    return H.npz_header(root, "token_error", H.npy_header("", (), raw_dict="{'descr': '<f4', 'shape': (3,"))


def _npz_syntax_error(root):
    return H.npz_header(root, "syntax_error", H.npy_header("", (), version=(3, 0), raw_dict="{'descr': '<f4' 'shape'"))


def _zip_method(root, fmt, method=None, flags=0):
    """A zip format's file with its members in an unsupported compression method or encrypted."""
    sd = H.small_gru_state_dict()
    tag = f"m{method}" if method is not None else "encrypted"
    if fmt == "npz":
        members = [(f"{k}.npy", H.npy_bytes(v)) for k, v in sd.items()]
    elif fmt == "torch_zip":
        src = H.torch_zip_of(root / "models" / "tmp.pt", sd)
        with __import__("zipfile").ZipFile(src) as z:
            members = [(n, z.read(n)) for n in z.namelist()]
    else:  # keras
        base = H.keras_base_files(root / "base")["keras"]
        with __import__("zipfile").ZipFile(base) as z:
            members = [(n, z.read(n)) for n in z.namelist()]
    ext = {"npz": ".npz", "torch_zip": ".pt", "keras": ".keras"}[fmt]
    return H.write_zip(root / "models" / f"{fmt}_{tag}{ext}", members, flags=flags, method_override=method)


MALFORMED = {
    "safetensors_nested_json": _safetensors_nested,
    "rtneural_nested_json": _rtneural_nested,
    "rtneural_torch_nested_json": _rtneural_torch_nested,
    "safetensors_shape_overflow": _safetensors_shape_overflow,
    "safetensors_dtype_list": _safetensors_dtype_list,
    "rtneural_activation_list": _rtneural_activation_list,
    "rtneural_huge_int": _rtneural_huge_int,
    "npz_token_error": _npz_token_error,
    "npz_syntax_error": _npz_syntax_error,
    **{f"{fmt}_deflate64": (lambda r, f=fmt: _zip_method(r, f, method=9)) for fmt in ("npz", "torch_zip", "keras")},
    **{f"{fmt}_encrypted": (lambda r, f=fmt: _zip_method(r, f, flags=1)) for fmt in ("npz", "torch_zip", "keras")},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_raises_our_error(root, case):
    path = MALFORMED[case](root)
    assert path.stat().st_size < 1 << 20
    assert_refused(load_limited(path, name=case, preload=["h5py"] if "keras" in case else ()), path)


# ---- item 6: ONNX model-local functions ------------------------------------------------------------

def test_onnx_local_function_loads_without_torch(root):
    """A valid model with a model-local function loads in a process that never imported torch (which
    imports onnx.inliner as a side effect), and computes what onnxruntime computes."""
    ort = pytest.importorskip("onnxruntime")
    path = H.onnx_local_function(root / "models" / "local_function.onnx")
    x = np.random.default_rng(0).standard_normal((5, 1, 2)).astype(np.float32)  # (T, B, I)
    code = ("import sys, json, numpy as np, gru_infer\n"
            "m = gru_infer.load(sys.argv[1])\n"
            "assert 'torch' not in sys.modules and 'onnx.inliner' in sys.modules\n"
            "x = np.array(json.loads(sys.argv[2]), np.float32)\n"
            "print(json.dumps(m.predict(x).tolist()))\n")
    p = subprocess.run([sys.executable, "-c", code, str(path), json.dumps(x.transpose(1, 0, 2).tolist())],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    got = np.array(json.loads(p.stdout.splitlines()[-1]), np.float32)           # (B, T, D*H)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]  # (T, D, B, H)
    np.testing.assert_allclose(got, ref.transpose(2, 0, 1, 3).reshape(1, 5, -1), atol=1e-5)


@pytest.mark.parametrize("where", ["relative", "absolute", "cwd_only"])
def test_onnx_function_external_data_outside_the_folder(root, where):
    """External data named inside a model-local function goes through the same folder check as the
    graph's: outside the model's folder (relative, absolute, or present only in the working
    directory) it is refused, never read."""
    out = root / "outside"
    out.mkdir(exist_ok=True)
    (out / "secret.bin").write_bytes(np.float32(H.SECRET_VALUE).tobytes())
    (root / "models" / "cwd_only.bin").write_bytes(np.float32(H.SECRET_VALUE).tobytes())
    sub = root / "models" / "sub"
    sub.mkdir(exist_ok=True)
    location = {"relative": "../outside/secret.bin", "absolute": str(out / "secret.bin"),
                "cwd_only": "cwd_only.bin"}[where]
    path = H.onnx_local_function(sub / f"fn_external_{where}.onnx", external_location=location)
    res = load_limited(path, preload=["onnx"], cwd=root / "models")
    assert_refused(res, path, "outside|not found")


def test_onnx_function_external_data_inside_the_folder(root):
    """External data named inside a model-local function and kept next to the model is read (onnx's
    own loader skips function nodes): the GRU's bias comes from it, as onnxruntime computes with the
    same bias as an initializer."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import numpy_helper
    d = root / "models" / "fn_inside"
    d.mkdir(exist_ok=True)
    b = np.random.default_rng(2).uniform(-1, 1, (1, 12)).astype(np.float32)
    (d / "b.bin").write_bytes(b.tobytes())
    path = H.onnx_local_function(d / "bias_in_function.onnx", external_location="b.bin")
    ref_model = H.onnx_gru(extra_inits=[numpy_helper.from_array(b, "B")], bias_input="B")
    x = np.random.default_rng(1).standard_normal((4, 1, 2)).astype(np.float32)  # (T, B, I)
    code = ("import sys, json, numpy as np, gru_infer\n"
            "x = np.array(json.loads(sys.argv[2]), np.float32)\n"
            "print(json.dumps(gru_infer.load(sys.argv[1]).predict(x).tolist()))\n")
    p = subprocess.run([sys.executable, "-c", code, str(path), json.dumps(x.transpose(1, 0, 2).tolist())],
                       capture_output=True, text=True, timeout=120, cwd=root)
    assert p.returncode == 0, p.stderr[-2000:]
    got = np.array(json.loads(p.stdout.splitlines()[-1]), np.float32)
    ref = ort.InferenceSession(ref_model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]
    np.testing.assert_allclose(got, ref.transpose(2, 0, 1, 3).reshape(1, 4, -1), atol=1e-5)
