"""Convert ONNX models (GRU operator graphs) into the layer specs of `gru_infer.layers`.

onnx is imported lazily, inside the functions, so importing this module works without it.
The graph itself is interpreted by `_walker.GraphWalker`; this module reads the file.

Entry point: `layers_from_onnx(source) -> (layers, info)`, source a file path, the model's bytes,
or an `onnx.ModelProto`. info keys:
- "source": "onnx"; "opset": the default-domain opset; "producer": producer name and version.
- "input_name": the graph input holding the sequence.
- "input_layout": "batch_first" if that input is (batch, time, features), "seq_first" if it is
  (time, batch, features). `Model.predict` always takes batch-first input.
- "output_name": the graph output the layers compute.
- "output_axes": that output's axes, one letter each: B batch, T time, D GRU direction, H hidden,
  F features, 1 a unit axis. `predict` returns (B, T, F) or (B, F), where F is the D*H of a GRU
  output in [forward || backward] order; e.g. a raw GRU Y is "TDBH", PyTorch's output "BTF".
- "sequence_lens_input": the graph input feeding GRU sequence_lens (pass it as predict's
  lengths=), or None.
- "initial_h_input": the graph input feeding GRU initial_h (pass it as predict's h0=), or None;
  "initial_h_axes": "DBH" if it is (layers*directions, batch, hidden) like predict's h0, "BDH"
  if batch comes first (GRU layout=1; transpose it before passing it).
- "state_output": the graph output holding every GRU layer's final state in predict's h_n layout
  (e.g. PyTorch's h_n, a GRU's Y_h), or None.
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Dict, Tuple

from ..._optional import require
from ...errors import OnnxImportError
from ._walker import GraphWalker

__all__ = ["layers_from_onnx", "load_onnx_model", "OnnxImportError"]


def _graph_tensors(graph):
    """Initializers and tensor attributes of a graph and its subgraphs."""
    yield from graph.initializer
    yield from _node_tensors(graph.node)


def _node_tensors(nodes):
    for node in nodes:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _graph_tensors(g)


def _external_tensors(model) -> list:
    """The tensors stored in external files, in the graph and in the model-local functions (whose
    nodes onnx's own external-data loader does not visit)."""
    from onnx import TensorProto
    tensors = list(_graph_tensors(model.graph))
    for fn in model.functions:
        tensors += _node_tensors(fn.node)
    return [t for t in tensors if t.data_location == TensorProto.EXTERNAL]


def _check_external_locations(model, base_dir: str) -> None:
    """Every external data file must lie inside the model's directory (no '..', absolute paths, or
    symlinks leading out)."""
    root = os.path.realpath(base_dir)
    for t in _external_tensors(model):
        location = next((e.value for e in t.external_data if e.key == "location"), None)
        if not location:
            raise ValueError(f"tensor {t.name!r} is stored externally but names no file (no 'location')")
        path = os.path.realpath(os.path.join(root, location))
        if os.path.isabs(location) or os.path.commonpath([root, path]) != root:
            raise ValueError(f"tensor {t.name!r} points to external data {location!r} outside the model's "
                             f"directory {root!r}; refusing to read it")
        if not os.path.isfile(path):
            raise ValueError(f"tensor {t.name!r}: external data file {location!r} not found next to the model")
        fields = {e.key: e.value for e in t.external_data}
        try:
            offset, length = int(fields.get("offset") or 0), int(fields.get("length") or 0)
        except ValueError:
            raise ValueError(f"tensor {t.name!r}: external data offset/length {fields} are not integers") from None
        size = os.path.getsize(path)
        if offset < 0 or length < 0 or offset + length > size:
            raise ValueError(f"tensor {t.name!r}: external data [{offset}, {offset + length}) lies outside the "
                             f"{size}-byte file {location!r}")


def _load_external_data(model, base_dir: str) -> None:
    """Read every external tensor (graph and functions) into memory, after `_check_external_locations`."""
    from onnx import TensorProto
    from onnx.external_data_helper import load_external_data_for_tensor
    for t in _external_tensors(model):
        load_external_data_for_tensor(t, base_dir)
        t.data_location = TensorProto.DEFAULT
        del t.external_data[:]


def _parse(data: bytes, what: str):
    onnx = require("onnx")
    try:
        model = onnx.load_model_from_string(bytes(data))
    except Exception as e:  # protobuf DecodeError and friends
        raise ValueError(f"{what} is not a valid ONNX model: expected a serialized onnx.ModelProto "
                         f"({type(e).__name__}: {e})") from None
    if not model.HasField("graph"):
        raise ValueError(f"{what} is not an ONNX model: it holds no graph (empty, truncated or another format)")
    return model


def load_onnx_model(source):
    """A ModelProto with all tensor data in memory, from a path, bytes or a ModelProto."""
    onnx = require("onnx")
    if isinstance(source, onnx.ModelProto):
        model = source
        where = "the ModelProto"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        model = _parse(source, "the given bytes")
        where = "a model given as bytes"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no ONNX file at {path!r}")
        with open(path, "rb") as f:
            model = _parse(f.read(), repr(path))
        if _external_tensors(model):
            base = os.path.dirname(os.path.abspath(path))
            _check_external_locations(model, base)
            try:
                _load_external_data(model, base)
            except Exception as e:
                raise ValueError(f"{path!r}: cannot read its external data ({type(e).__name__}: {e})") from None
        return model
    else:
        raise TypeError(f"expected a path, bytes or an onnx.ModelProto, got {type(source).__name__}")
    if _external_tensors(model):
        raise ValueError(f"{where} keeps tensors in external data files; load it from its file path so "
                         f"those files can be found next to it")
    return model


def layers_from_onnx(source) -> Tuple[list, Dict[str, Any]]:
    """Convert an ONNX model to `(layers, info)`; see the module docstring for the info keys.

    Raises ValueError (OnnxImportError for unsupported ops or patterns, naming the op and the node)
    for anything that cannot be mapped exactly, and for corrupt or truncated files.
    """
    model = load_onnx_model(source)
    if model.functions:  # model-local functions: inline them so that only standard ops remain
        require("onnx")
        try:
            inliner = importlib.import_module("onnx.inliner")  # a submodule `import onnx` does not load
            model = inliner.inline_local_functions(model)
        except Exception as e:
            raise ValueError(f"cannot inline the model's local functions ({type(e).__name__}: {e})") from None
    from ._loop_gru import rewrite_gru_loops  # tf2onnx's Keras GRU loops -> GRU nodes (or a clear refusal)
    model = rewrite_gru_loops(model)
    layers, info = GraphWalker(model).run()
    info["producer"] = f"{model.producer_name} {model.producer_version}".strip()
    return layers, info
