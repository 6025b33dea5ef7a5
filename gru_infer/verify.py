"""`gru-infer verify FILE`: run the framework that wrote FILE and gru_infer on the same random
input and compare. Exporters have shipped wrong GRU attributes before (ONNX linear_before_reset);
this is how a user finds out before deploying.

Each reference runs the file with the framework's own loader, so the framework (not our importer)
decides what the weights mean: Keras loads .keras/.h5 models itself, onnxruntime runs the ONNX
graph, and PyTorch loads a state_dict into nn.GRU/nn.Linear modules of the inferred shapes with
load_state_dict(strict=True).
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .model import Model


class NoReference(Exception):
    """The file's framework is not installed, or the file holds nothing it can run."""


def random_input(model: Model, batch: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if model.takes_ids:
        vocab = model.layers[0].table.shape[0]
        return rng.integers(0, vocab, size=(batch, steps), dtype=np.int64)
    return rng.standard_normal((batch, steps, model.input_size)).astype(np.float32)


def declared_sizes(path: str, model: Model) -> Dict[str, int]:
    """The batch and time sizes the file fixes for its input ({"batch": 1, "steps": 100}), where
    the format declares them (an ONNX graph input with fixed dimensions); {} otherwise."""
    info = model.info
    if info.get("format") != "onnx" or not info.get("input_name"):
        return {}
    try:
        import onnx
    except ImportError:
        return {}
    graph = onnx.load(path, load_external_data=False).graph
    dims = next((i.type.tensor_type.shape.dim for i in graph.input if i.name == info["input_name"]), None)
    if dims is None or len(dims) < 2:
        return {}
    axes = ("steps", "batch") if info.get("input_layout") == "seq_first" else ("batch", "steps")
    return {name: d.dim_value for name, d in zip(axes, dims) if d.HasField("dim_value") and d.dim_value > 0}


def run_sizes(path: str, model: Model, batch: Optional[int], steps: Optional[int],
              defaults: Tuple[int, int]) -> Tuple[int, int, str]:
    """(batch, steps, where they came from): the caller's where given, else the file's declared
    sizes, else `defaults`. A given size that contradicts a declared one is a ValueError."""
    declared = declared_sizes(path, model)
    for name, given in (("batch", batch), ("steps", steps)):
        if given is not None and name in declared and given != declared[name]:
            raise ValueError(f"--{name}: the model's input declares {name} = {declared[name]}, got {given}")
    b = batch if batch is not None else declared.get("batch", defaults[0])
    t = steps if steps is not None else declared.get("steps", defaults[1])
    used = [f"{k} {v} declared by the model's input" for k, v in declared.items()]
    return b, t, "; ".join(used)


def reference(path: str, model: Model) -> Callable[[np.ndarray], np.ndarray]:
    """A function running the source framework on batch-first input, giving batch-first output."""
    fmt = model.info.get("format", "")
    source = model.info.get("source", "")
    if source == "keras":
        return _keras_reference(path, model)
    if fmt == "onnx" or source == "onnx":
        return _onnx_reference(path, model)
    if fmt == "pytorch" and source == "pytorch":
        return _torch_reference(path, model)
    raise NoReference(f"no framework to compare with for a {fmt or 'native'} file "
                      "(verify runs Keras, ONNX and PyTorch state_dict files)")


def _keras_reference(path: str, model: Model):
    if model.info.get("format", "").endswith("weights"):
        raise NoReference("a Keras weights-only file has no architecture for Keras to run")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        raise NoReference("Keras is not installed: pip install keras") from None
    km = keras.saving.load_model(path, compile=False)
    return lambda x: np.asarray(km.predict(x, verbose=0))


def _onnx_reference(path: str, model: Model):
    try:
        import onnxruntime as ort
    except ImportError:
        raise NoReference("onnxruntime is not installed: pip install onnxruntime") from None
    info = model.info
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = info["input_name"]
    out_index = [o.name for o in sess.get_outputs()].index(info["output_name"])
    axes = info.get("output_axes", "BTF")

    def run(x):
        feed = {name: x if info.get("input_layout") != "seq_first" else np.swapaxes(x, 0, 1)}
        y = sess.run(None, feed)[out_index]
        return _to_batch_first(y, axes)
    return run


def _to_batch_first(y: np.ndarray, axes: str) -> np.ndarray:
    """Rearrange an ONNX output with the given axis letters into (B, T, F) or (B, F)."""
    axes = axes.replace("H", "F")
    if axes in ("BF", "BTF"):
        return y
    if axes == "TBF":
        return np.swapaxes(y, 0, 1)
    if axes in ("TDBF", "BTDF", "DBF"):
        order = {"TDBF": (2, 0, 1, 3), "BTDF": (0, 1, 2, 3), "DBF": (1, 0, 2)}[axes]
        y = np.transpose(y, order)
        return y.reshape(*y.shape[:-2], -1)
    raise NoReference(f"cannot rearrange an ONNX output with axes {axes!r}")


def _torch_reference(path: str, model: Model):
    try:
        import torch
    except ImportError:
        raise NoReference("PyTorch is not installed: pip install torch") from None
    from . import layers as L
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a whole-module file needs unpickling code: never done here
        raise NoReference(f"PyTorch will not load this file as plain tensors ({type(e).__name__}); "
                          "verify needs a state_dict file") from None
    prefix = model.info.get("prefix", "")
    specs = [s for s in model.layers]
    grus = [s for s in specs if isinstance(s, L.GRU)]
    dense = [s for s in specs if isinstance(s, L.Dense)]
    if not grus or len(dense) + len(grus) != len(specs) or any(not g.return_sequences for g in grus):
        raise NoReference("verify rebuilds a GRU stack with Linear heads from a state_dict; this file has more")
    g0 = grus[0]
    gru = torch.nn.GRU(g0.input_size, g0.hidden_size, num_layers=len(grus), bias=g0.has_bias,
                       batch_first=True, bidirectional=g0.direction == "bidirectional")
    heads = [torch.nn.Linear(d.weight.shape[1], d.weight.shape[0]) for d in dense]
    gru_state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)
                 and k[len(prefix):].split("_l")[0] in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    gru.load_state_dict(gru_state, strict=True)
    rest_keys = [k for k in state if k not in {prefix + n for n in gru_state}]
    if not all(k.endswith((".weight", ".bias")) for k in rest_keys) or len(rest_keys) != 2 * len(heads):
        raise NoReference("verify rebuilds one nn.GRU with Linear heads from a state_dict; this file has more")
    rest = [state[k] for k in rest_keys]
    for head, (w, b) in zip(heads, zip(rest[0::2], rest[1::2])):
        head.load_state_dict({"weight": w, "bias": b}, strict=True)

    def run(x):
        with torch.no_grad():
            y, _ = gru(torch.from_numpy(x))
            for head in heads:
                y = head(y)
            return y.numpy()
    return run


def verify(path: str, batch: Optional[int] = None, steps: Optional[int] = None, tolerance: float = 1e-5,
           seed: int = 0, echo: Optional[Callable[[str], None]] = print) -> bool:
    """Compare gru_infer with the source framework on one random input; True if within tolerance.
    batch / steps: the input's sizes (default: those the file declares, else 2 and 16)."""
    import gru_infer
    model = gru_infer.load(path)
    batch, steps, declared = run_sizes(path, model, batch, steps, (2, 16))
    ref = reference(path, model)
    x = random_input(model, batch, steps, seed)
    want = np.asarray(ref(x), dtype=np.float64)
    got = model.predict(x).astype(np.float64)
    if want.shape != got.shape:
        raise ValueError(f"output shapes differ: the framework gives {want.shape}, gru_infer {got.shape}")
    err = float(np.abs(want - got).max())
    rel = err / max(float(np.abs(want).max()), 1e-30)
    ok = err <= tolerance
    if echo:
        echo(f"{path}: {model.info.get('source', '?')} ({model.info.get('format', '?')}), input {x.shape}, "
             f"output {got.shape}" + (f" ({declared})" if declared else ""))
        echo(f"  max abs error {err:.3g}, max relative error {rel:.3g} (tolerance {tolerance:g}): "
             f"{'OK' if ok else 'MISMATCH'}")
    return ok


def verify_hybrid(path: str, batch: Optional[int] = None, steps: Optional[int] = None, tolerance: float = 1e-5,
                  seed: int = 0, echo: Optional[Callable[[str], None]] = print) -> bool:
    """`gru-infer verify --rest onnxruntime`: the hybrid (GRU nodes in gru_infer, the rest in onnxruntime)
    against onnxruntime on the full graph, every output, on random inputs (float inputs standard normal,
    integer inputs zeros) of the graph's declared sizes, its free batch / time axes `batch` / `steps`."""
    import gru_infer

    from .hybrid_inputs import random_feeds
    try:
        import onnxruntime as ort
    except ImportError:
        raise NoReference("onnxruntime is not installed: pip install onnxruntime") from None
    hybrid = gru_infer.load(path, rest="onnxruntime")
    feeds = random_feeds(hybrid, batch or 2, steps or 16, seed)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    got = hybrid.predict(feeds)
    ok = True
    if echo:
        echo(f"{path}: onnx, {len(hybrid.parts)} parts (gru_infer + onnxruntime), inputs "
             + ", ".join(f"{n} {v.shape}" for n, v in feeds.items()))
    for name, ref in want.items():
        if got[name].shape != ref.shape:
            raise ValueError(f"output {name!r}: shapes differ: onnxruntime {ref.shape}, the hybrid {got[name].shape}")
        ref64 = np.asarray(ref, np.float64)
        err = float(np.abs(ref64 - got[name].astype(np.float64)).max()) if ref.size else 0.0
        rel = err / max(float(np.abs(ref64).max()) if ref.size else 0.0, 1e-30)
        ok = ok and err <= tolerance
        if echo:
            echo(f"  {name} {ref.shape}: max abs error {err:.3g}, max relative error {rel:.3g} "
                 f"(tolerance {tolerance:g}): {'OK' if err <= tolerance else 'MISMATCH'}")
    return ok
