"""The importers' layout: every format module has the same interface, and no importer imports another
(what several share lives in the private modules of gru_infer/importers/)."""
import ast
import importlib
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gru_infer
from gru_infer import importers

PACKAGE = Path(importers.__file__).parent
FORMAT_MODULES = {module for _, module in importers.REGISTRY}


def test_every_registered_importer_has_the_interface():
    assert len(set(importers.FORMATS)) == len(importers.REGISTRY)
    for fmt in importers.FORMATS:
        module = importers.importer(fmt)
        assert module.FORMAT == fmt and callable(module.sniff) and callable(module.read), module
    with pytest.raises(ValueError, match="unknown format 'tflite'"):
        importers.importer("tflite")


def test_loading_a_native_file_imports_no_other_importer():
    code = ("import sys, gru_infer; from gru_infer.demo import model_path; gru_infer.load(model_path()); "
            "print(sorted(m for m in sys.modules if m.startswith('gru_infer.importers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['gru_infer.importers._zip', 'gru_infer.importers.native']"


def imported_importers(path: Path, root: Path = PACKAGE):
    """The format modules (gru_infer.importers.<name>) other than its own that the file at `path` imports."""
    inside = path.relative_to(root).parts  # ("keras", "_reader.py") or ("npz.py",)
    package = ("gru_infer", "importers") + inside[:-1]
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [tuple(a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()
            module = base + (tuple(node.module.split(".")) if node.module else ())
            modules += [module + (a.name,) for a in node.names]  # `from . import npz` imports a module
    own = inside[0].removesuffix(".py")
    return {m[2] for m in modules if m[:2] == ("gru_infer", "importers") and len(m) > 2
            and m[2] in FORMAT_MODULES and m[2] != own}


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_importer_imports_another(path):
    assert imported_importers(path) == set(), f"{path.relative_to(PACKAGE)} imports another format's importer"


def test_the_check_sees_a_cross_import(tmp_path):
    (tmp_path / "npz.py").write_text("from ._state_dict import GRU_KEY\nfrom .rtneural import read\n")
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "_x.py").write_text("from ._config import KerasLayer\nfrom .. import onnx\n"
                                              "import gru_infer.importers.torch_file\n")
    assert imported_importers(tmp_path / "npz.py", tmp_path) == {"rtneural"}
    assert imported_importers(tmp_path / "keras" / "_x.py", tmp_path) == {"onnx", "torch_file"}


def test_shared_modules_are_private():
    assert all(not module.startswith("_") for _, module in importers.REGISTRY)
    for name in ("_state_dict", "_keras_layout", "_zip", "_torch_zip", "_torch_fx", "_torch_modules", "keras._magic"):
        importlib.import_module(f"gru_infer.importers.{name}")


def test_safetensors_whose_header_length_reads_like_a_pickle_is_safetensors(tmp_path):
    # A 640-byte header starts the file with b"\x80\x02", a pickle protocol-2 opcode: the registry
    # tries safetensors before PyTorch's legacy pickle format, so the file is still read as safetensors.
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    gru = torch.nn.GRU(2, 3)
    saved = safetensors_torch.save(gru.state_dict())
    (n,) = struct.unpack("<Q", saved[:8])
    text, buffer = saved[8:8 + n], saved[8 + n:]  # offsets are relative to the buffer: padding keeps them
    assert len(text) <= 640
    text = text.ljust(640)  # the format allows trailing spaces in the header
    path = tmp_path / "gru.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + buffer)
    assert path.read_bytes()[:2] == b"\x80\x02"
    assert importers.detect_format(str(path)) == "safetensors"
    model = gru_infer.load(path)
    x = np.random.default_rng(0).standard_normal((1, 5, 2), dtype=np.float32)
    with torch.no_grad():
        ref = gru(torch.from_numpy(x).transpose(0, 1))[0].transpose(0, 1).numpy()
    np.testing.assert_allclose(model.predict(x), ref, atol=1e-5)


def test_one_error_hierarchy(tmp_path):
    from gru_infer import _core, errors
    assert gru_infer.ModelFormatError is errors.ModelFormatError is _core.ModelFormatError  # the C++ one
    assert issubclass(gru_infer.ModelFormatError, ValueError)
    assert issubclass(gru_infer.UnsupportedModelError, ValueError)
    assert issubclass(errors.OnnxImportError, gru_infer.UnsupportedModelError)
    bad = tmp_path / "bad.gru"
    bad.write_bytes(b"GRUINFER" + b"\0" * 8)
    with pytest.raises(gru_infer.ModelFormatError):
        gru_infer.load(bad)


def test_optional_import_names_the_extra(monkeypatch):
    from gru_infer._optional import require
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` now fails
    with pytest.raises(ImportError, match=r'pip install "gru_infer\[keras\]"'):
        require("h5py")
