"""`gru_infer.load(path)`: recognise a model file by its content, then hand it to its importer;
`gru_infer.load(bytes)` (`load_bytes`): the same for a file's contents in memory.

The importers (`gru_infer.importers`) return framework-neutral layers (gru_infer.layers) and an
`info` dict; each one imports its framework (if it needs one at all) only when called.
"""
from __future__ import annotations

import os
import tempfile
import tokenize
import zipfile
import zlib
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, overload

from .errors import ModelFormatError, UnsupportedModelError
from .model import NATIVE_MAGIC, BytesLike, Model, _contiguous_bytes, model_from_native_bytes

if TYPE_CHECKING:
    from .hybrid import HybridModel

__all__ = ["load", "load_bytes", "from_torch", "detect_format"]


def _fold_affine(layers):
    from .importers._affine import fold_affine  # BatchNorm-like maps into a neighbouring Dense
    return fold_affine(layers)


def detect_format(path: str) -> str:
    """The format of a model file, from its content (first bytes, zip member names), never its name."""
    from . import importers  # imported on first use: `import gru_infer` stays light
    return importers.detect_format(path)


# The formats whose files can hold a PyTorch state_dict: the ones load's `head=` applies to.
HEAD_FORMATS = ("pytorch", "safetensors", "npz", "rtneural")


Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


@overload
def load(path: Source, format: Optional[str] = None, config: Optional[Union[str, os.PathLike[str]]] = None,
         head: Optional[str] = None, rest: None = None, session_options: None = None) -> Model: ...


@overload
def load(path: Source, format: Optional[str] = None, config: Optional[Union[str, os.PathLike[str]]] = None,
         head: Optional[str] = None, *, rest: Literal["onnxruntime"], session_options: Any = None) -> HybridModel: ...


def load(path: Source, format: Optional[str] = None, config: Optional[Union[str, os.PathLike[str]]] = None,
         head: Optional[str] = None, rest: Optional[str] = None, session_options: Any = None
         ) -> Union[Model, HybridModel]:
    """Load a model file of any supported format (`gru_infer.importers.FORMATS`), recognised by its content.

    `path` is a file name, or the file's contents as bytes, bytearray or memoryview.

    `format` forces one format instead of detecting it. `config`: for a Keras weights-only file
    (`save_weights`), the architecture saved apart (`model.to_json()` / `model.to_yaml()` in a file).
    The model's `info` says where it came from and what the importer had to assume (e.g. activations
    a weights-only file cannot store).

    `head`: for a PyTorch state_dict (a `.pt` / `.pth` file, safetensors, npz or RTNeural JSON with
    state_dict keys), which output of the last GRU the Linear layers after it read, which weights
    cannot tell: "every_step" (`fc(out)`), "last_output" (`fc(out[:, -1])`) or "final_states"
    (`fc(h_n[-1])`, `fc(torch.cat((h_n[-2], h_n[-1]), dim=1))` for a bidirectional GRU). Without it a
    Linear applies to every step (`info["assumed"]` says so), and a Linear after a bidirectional GRU is
    refused (the heads differ there). `gru_infer.from_torch(module)` reads the head from forward().

    `rest="onnxruntime"`: for an ONNX graph with operators outside the GRU / Dense / activation chain,
    a `gru_infer.hybrid.HybridModel` running every GRU node here and the rest of the graph in
    onnxruntime (`session_options`: an onnxruntime.SessionOptions for its sessions; pickling keeps
    its thread counts). Its predict takes and returns the graph's inputs and outputs by name.
    """
    if rest is not None and rest != "onnxruntime":
        raise ValueError(f"rest: expected None or \"onnxruntime\", got {rest!r}")
    if session_options is not None and rest is None:
        raise ValueError('session_options= is for rest="onnxruntime"')
    if isinstance(path, (bytes, bytearray, memoryview)):  # a file's contents, not its name
        extra = {} if rest is None else {"rest": rest, "session_options": session_options}
        return load_bytes(path, format, config=config, head=head, **extra)
    path = os.fspath(path)
    if not os.path.isfile(path):
        if os.path.exists(path):  # a folder, device or FIFO: reading it could block or never end
            raise ValueError(f"expected a regular model file, got a folder, device or FIFO at {path!r}")
        raise FileNotFoundError(f"no model file at {path!r}")
    from . import importers
    if format is not None:
        importers.importer(format)  # an unknown format is a bad argument (ValueError), not a bad file
    with _file_errors(path):
        fmt = format or importers.detect_format(path)
        if rest is not None:
            if fmt != "onnx" or config is not None or head is not None:
                raise ValueError(f"{path}: rest= is for ONNX graphs (without config= or head=); this is a {fmt} file")
            from .hybrid import load_hybrid
            return load_hybrid(path, session_options)
        options = {}
        if config is not None:
            if fmt != "keras":
                raise ValueError(f"{path}: config= is for Keras weights files (save_weights + to_json/to_yaml); "
                                 f"this is a {fmt} file")
            options["config"] = config
        if head is not None:
            if fmt not in HEAD_FORMATS:
                raise ValueError(f"{path}: head= is for PyTorch state_dicts (formats {', '.join(HEAD_FORMATS)}); "
                                 f"this is a {fmt} file")
            options["head"] = head
        layers, info = importers.importer(fmt).read(path, **options)
        if isinstance(layers, Model):  # the native format: the core loaded the file itself
            model = layers
            model.info = {**info, "format": fmt}
            return model
        # checks the weights (NaN, sizes)
        model = Model.from_layers(_fold_affine(layers), source=info.get("source", fmt))
    model.info = {"format": fmt, **info}
    return model


def load_bytes(data: BytesLike, format: Optional[str] = None, **options: Any) -> Model:
    """`gru_infer.load` for a model file's contents in memory instead of a path.

    Native bytes load directly; any other format goes through a temporary file to the same
    content-sniffing importers `load(path)` uses.
    """
    view = _contiguous_bytes(data)
    if len(view) == 0:
        raise ValueError("model bytes: expected the contents of a model file, got 0 bytes")
    if format in (None, "native") and bytes(view[:8]) == NATIVE_MAGIC[:len(view[:8])]:
        return model_from_native_bytes(view)
    fd, path = tempfile.mkstemp(prefix="gru_infer_", suffix=".model")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(view)
        model = load(path, format=format, **options)
    except ValueError as e:  # name the bytes, not the temporary file
        raise _about_bytes(e, path, view) from None
    finally:
        os.unlink(path)
    if model.info.get("path") == path:
        del model.info["path"]
    return model


def _about_bytes(e: ValueError, path: str, view: memoryview) -> ValueError:
    message = str(e).replace(repr(path), "the given bytes").replace(path, "the given bytes")
    if len(view) < 4096 and b"\0" not in view and os.path.exists(bytes(view)):
        message += " (bytes are a model file's contents: pass a str or Path for a file name)"
    try:
        return type(e)(message)
    except TypeError:  # an exception class that takes other arguments
        return ValueError(message)


# What reading a malformed file can raise from the importers, the standard library (zipfile, json,
# pickle, numpy's .npy header parser: SyntaxError, tokenize.TokenError) and h5py/onnx.
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError, NotImplementedError,
              RuntimeError, SyntaxError, tokenize.TokenError, OverflowError, RecursionError, MemoryError,
              EOFError, OSError, LookupError, zipfile.BadZipFile, zlib.error, UnicodeError, ArithmeticError)


class _file_errors:
    """The one place where whatever a malformed file makes an importer raise becomes a
    ModelFormatError naming the file (an UnsupportedModelError stays one, also naming the file).
    The original exception stays chained as __cause__, so a bug in an importer keeps its traceback.
    A missing file or optional package (FileNotFoundError, ImportError) passes through unchanged."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is None or isinstance(e, (FileNotFoundError, ImportError)) or not isinstance(e, _MALFORMED):
            return False
        try:
            text = str(e)
        except Exception:  # noqa: BLE001 - str() of an exception built from file data may itself fail
            text = "<no message>"
        names_file = self.path in text or os.path.basename(self.path) in text
        if isinstance(e, (ModelFormatError, UnsupportedModelError)):
            if names_file:
                return False
            raise type(e)(f"{self.path}: {text}") from e
        if type(e) is ValueError and names_file:  # the importers' own messages: same text, our type
            raise ModelFormatError(text) from e
        what = "" if type(e) is ValueError else f"{type(e).__name__}: "
        raise ModelFormatError(f"{self.path}: malformed model file: {what}{text[:2000]}") from e


def from_torch(module: Any) -> Model:
    """Convert a live PyTorch module (nn.GRU, nn.GRUCell, nn.Sequential, or a module whose forward
    is GRU -> last step or all steps -> Linear/activations). predict always takes batch-first input."""
    from .importers.torch_module import layers_from_torch
    try:
        layers, info = layers_from_torch(module)
    except UnsupportedModelError as e:
        raise UnsupportedModelError(f"{e}; gru_infer.torch.accelerate(module) runs such a module: its GRUs in "
                                    f"gru_infer, the rest in torch") from None
    model = Model.from_layers(_fold_affine(layers), source=info.get("source", "pytorch"))
    model.info = info
    return model
