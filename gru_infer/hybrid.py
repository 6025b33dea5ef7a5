"""HybridModel: an ONNX graph run whole, its GRU nodes in gru_infer and every other part in onnxruntime.

    model = gru_infer.load("crnn.onnx", rest="onnxruntime")
    outputs = model.predict({"x": x})            # the graph's inputs and outputs, by name

`gru_infer.importers.onnx._partition` cuts the graph: each GRU node with the plumbing around it that
the ONNX importer reads (transposes, squeezes, last-step selection, zero initial states, the
concatenated directions) becomes a gru_infer `Model` (a GRU "island"); the nodes before, between and
after the islands become onnxruntime sessions over subgraphs cut by tensor names. `predict` runs them
in order, passing tensors by name. onnxruntime is imported only when a part needs it.

Pickling carries everything by value: the subgraphs' ONNX bytes and the islands' native bytes.
`quantize` (hybrid_quantize.py) and `stream` (hybrid_stream.py) work on the whole graph.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, SupportsIndex, Tuple, Union

import numpy as np

from .hybrid_layout import ONNX_NUMPY_TYPES, ORT_TYPES, to_onnx_layout
from .model import Model

__all__ = ["HybridModel", "load_hybrid", "prepared_graph"]


def _island_io(layers: list, info: dict) -> dict:
    """What running an island needs from the walker's info: where x, h0, lengths come from, the layout
    of its main output, and its state output."""
    from .layers import GRU
    grus = [layer for layer in layers if isinstance(layer, GRU)]
    keys = ("input_name", "input_layout", "output_name", "output_axes", "sequence_lens_input",
            "initial_h_input", "initial_h_axes", "state_output")
    return {**{k: info.get(k) for k in keys}, "directions": grus[-1].num_directions}


def _island_x(io: dict, env: dict) -> np.ndarray:
    """An island's input as its Model takes it: (B, T, F)."""
    x = env[io["input_name"]]
    return np.swapaxes(x, 0, 1) if io["input_layout"] == "seq_first" else x


class HybridModel:
    """An ONNX graph whose GRU nodes run in gru_infer and whose other nodes run in onnxruntime.
    Build it with `gru_infer.load(path, rest="onnxruntime")`."""

    def __init__(self, parts: List[dict], inputs: List[Tuple[str, int]], outputs: List[str],
                 info: Dict[str, Any], threads: Optional[Tuple[int, int]] = None, sessions: Optional[dict] = None):
        """parts: in run order, each {"runs_in": "gru_infer", "model": Model, "io": ...} or
        {"runs_in": "onnxruntime", "onnx": bytes}, with "inputs", "outputs", "nodes".
        inputs: the graph's (name, element type); threads: onnxruntime's (intra_op, inter_op) or None."""
        self._parts = parts
        self._inputs = inputs
        self._outputs = outputs
        self._threads = threads
        self.info = info
        self._sessions: Dict[int, Any] = dict(sessions or {})
        if not self._sessions and any(p["runs_in"] == "onnxruntime" for p in parts):
            self._open_sessions()
        # after each part, the tensors no later part and no graph output reads
        self._free: List[List[str]] = []
        for k, p in enumerate(parts):
            later = {x for q in parts[k + 1:] for x in q["inputs"]} | set(outputs)
            self._free.append([x for x in set(p["inputs"]) | set(p["outputs"]) if x not in later])

    def _open_sessions(self) -> None:
        for k, p in enumerate(self._parts):
            if p["runs_in"] == "onnxruntime":
                self._sessions[k] = _session(p["onnx"], self._threads)

    # ---- description --------------------------------------------------------------------
    @property
    def input_names(self) -> List[str]:
        return [name for name, _ in self._inputs]

    @property
    def output_names(self) -> List[str]:
        return list(self._outputs)

    @property
    def parts(self) -> List[Dict[str, Any]]:
        """The partition in run order: where each part runs, the original nodes it runs, the tensors
        it reads and writes, and for a gru_infer part its Model."""
        return [{"runs_in": p["runs_in"], "nodes": list(p["nodes"]), "inputs": list(p["inputs"]),
                 "outputs": list(p["outputs"]), **({"model": p["model"]} if "model" in p else {})}
                for p in self._parts]

    def __repr__(self) -> str:
        where = ", ".join(f"{p['runs_in']}({len(p['nodes'])} nodes)" for p in self._parts)
        return f"gru_infer.HybridModel([{where}], inputs={self.input_names}, outputs={self.output_names})"

    # ---- running ------------------------------------------------------------------------
    def predict(self, inputs: Union[Mapping[str, Any], Any]) -> Union[Dict[str, np.ndarray], np.ndarray]:
        """Run the whole graph. inputs: {graph input name: array}, or one array for a graph with one
        input. Returns {graph output name: array}; one array when one array came in and the graph has
        one output. Arrays are in the graph's own layouts (as onnxruntime takes and gives them)."""
        env, positional = self._feeds(inputs)
        out = self._run(env)
        return out[self._outputs[0]] if positional and len(self._outputs) == 1 else out

    def _feeds(self, inputs: Union[Mapping[str, Any], Any]) -> Tuple[Dict[str, np.ndarray], bool]:
        """The graph inputs checked and converted to their declared element types; and whether one
        array (not a dict) came in."""
        positional = not isinstance(inputs, Mapping)
        if positional:
            if len(self._inputs) != 1:
                raise ValueError(f"this graph has {len(self._inputs)} inputs {self.input_names}: pass a dict "
                                 f"{{name: array}}")
            inputs = {self._inputs[0][0]: inputs}
        unknown = sorted(set(inputs) - set(self.input_names))
        missing = [n for n in self.input_names if n not in inputs]
        if unknown or missing:
            raise ValueError(f"inputs: expected {self.input_names}, got {sorted(inputs)}"
                             + (f" (missing {missing})" if missing else "")
                             + (f" (unknown {unknown})" if unknown else ""))
        env: Dict[str, np.ndarray] = {}
        for name, elem in self._inputs:
            arr = np.asarray(inputs[name])
            want = ONNX_NUMPY_TYPES.get(elem)
            if want is not None and arr.dtype != want:
                if arr.dtype.kind not in "biuf" or (np.dtype(want).kind in "iub" and arr.dtype.kind == "f"):
                    raise ValueError(f"input {name!r}: expected {np.dtype(want)}, got dtype {arr.dtype}")
                arr = arr.astype(want)
            env[name] = np.ascontiguousarray(arr)
        return env, positional

    def _run(self, env: Dict[str, Any], seen: Optional[Dict[int, np.ndarray]] = None,
             island: Optional[Callable[[int, dict, dict], Dict[str, np.ndarray]]] = None) -> Dict[str, np.ndarray]:
        """Run the parts on env (the checked graph inputs); the graph outputs by name. seen: filled
        with each island's input x, batch-first, by part index (quantize's calibration). island(k, part,
        env): runs GRU island k, its outputs by name (default: its Model on the whole sequence)."""
        for k, p in enumerate(self._parts):
            if p["runs_in"] == "onnxruntime":
                values = self._sessions[k].run(p["outputs"], {x: env[x] for x in p["inputs"]})
                env.update(zip(p["outputs"], values))
            else:
                if seen is not None:
                    seen[k] = _island_x(p["io"], env)
                env.update(island(k, p, env) if island else self._run_island(p["model"], p["io"], env))
            for x in self._free[k]:
                env.pop(x, None)
        return {name: env[name] for name in self._outputs}

    # ---- streaming ----------------------------------------------------------------------
    def stream(self, batch: int = 1):
        """A HybridStream: `step(inputs)` runs one frame (time step) of `batch` sequences through the
        whole graph, `reset()` starts them again. Only for graphs whose GRUs run forward and whose other
        parts are frame-local (each time step computed from the same step only): otherwise ValueError
        naming the node and why (gru_infer/hybrid_stream.py, importers/onnx/_frame_local.py)."""
        from .hybrid_stream import HybridStream
        return HybridStream(self, batch)

    # ---- reduced precision ----------------------------------------------------------------
    def quantize(self, kind: str, calibration: Any = None, input_scale: str = "auto") -> HybridModel:
        """A new HybridModel whose GRU islands are in "int8", "bf16" or "fp16" (Model.quantize); the
        onnxruntime parts run as before. calibration: a feed like predict's; each island is calibrated
        on the input it receives when this hybrid runs on it. input_scale: as Model.quantize's.
        info["quantization"]["error_vs_fp32"]: max and mean abs error of every graph output against
        this hybrid, on the calibration feed, or on the synthetic feed gru_infer/hybrid_quantize.py
        describes (N(0, 1), seed 0, free batch / time axes 4 and 1000)."""
        from .hybrid_quantize import quantize_hybrid
        return quantize_hybrid(self, kind, calibration, input_scale)

    @staticmethod
    def _run_island(model: Model, io: dict, env: dict) -> Dict[str, np.ndarray]:
        x = _island_x(io, env)
        lengths = env[io["sequence_lens_input"]] if io["sequence_lens_input"] else None
        h0 = env[io["initial_h_input"]] if io["initial_h_input"] else None
        if h0 is not None and io["initial_h_axes"] == "BDH":
            h0 = np.swapaxes(h0, 0, 1)
        state = io["state_output"]
        result = model.predict(x, h0=h0, lengths=lengths, return_state=state is not None)
        y, hn = result if state is not None else (result, None)
        out = {io["output_name"]: to_onnx_layout(y, io["output_axes"], io["directions"])}
        if state is not None:
            out[state] = np.concatenate(hn) if isinstance(hn, tuple) else hn
        return out

    # ---- pickling -----------------------------------------------------------------------
    def __reduce_ex__(self, protocol: SupportsIndex) -> Tuple[Any, ...]:
        parts = [{k: v for k, v in p.items()} for p in self._parts]  # Model pickles as its native bytes
        return HybridModel, (parts, list(self._inputs), list(self._outputs), dict(self.info), self._threads)


def _session(data: bytes, threads: Optional[Tuple[int, int]]):
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _threads_of(session_options) -> Optional[Tuple[int, int]]:
    if session_options is None:
        return None
    return int(session_options.intra_op_num_threads), int(session_options.inter_op_num_threads)


def prepared_graph(path: Union[str, os.PathLike]):
    """The ONNX model as the partition sees it: external data read, local functions inlined,
    tf2onnx's Keras GRU loops as GRU nodes (other loops stay, to run in onnxruntime)."""
    import importlib

    from .errors import OnnxImportError
    from .importers.onnx._loop_gru import rewrite_gru_loops
    from .importers.onnx._reader import load_onnx_model
    model = load_onnx_model(path)
    if model.functions:
        model = importlib.import_module("onnx.inliner").inline_local_functions(model)
    try:
        return rewrite_gru_loops(model)
    except OnnxImportError:
        return model


def load_hybrid(path: Union[str, os.PathLike], session_options=None) -> HybridModel:
    """`gru_infer.load(path, rest="onnxruntime")`: partition the ONNX graph and build its parts."""
    from .importers.onnx._partition import partition
    from .importers.onnx._values import default_opset
    model = prepared_graph(path)
    inits = {t.name for t in model.graph.initializer}
    inputs = [(i.name, i.type.tensor_type.elem_type) for i in model.graph.input if i.name not in inits]
    outputs = [o.name for o in model.graph.output]
    steps = partition(model)
    parts, types, sessions = [], dict(inputs), {}
    threads = _threads_of(session_options)
    for step in steps:
        part = {"runs_in": step.kind, "inputs": step.inputs, "outputs": step.outputs, "nodes": step.nodes}
        if step.kind == "gru_infer":
            part["model"] = Model.from_layers(step.layers, source="onnx")
            part["model"].info = {"format": "onnx", **step.info}
            part["io"] = _island_io(step.layers, step.info)
            types.update({o: 1 for o in step.outputs})
        else:
            for vi in step.model.graph.input:  # types the shape inference did not give
                if not vi.type.tensor_type.elem_type and vi.name in types:
                    vi.type.tensor_type.elem_type = types[vi.name]
            part["onnx"] = step.model.SerializeToString()
            session = sessions[len(parts)] = _session(part["onnx"], threads)
            types.update({o.name: ORT_TYPES.get(o.type, 0) for o in session.get_outputs()})
        parts.append(part)
    info = {"format": "onnx", "source": "onnx", "rest": "onnxruntime", "opset": default_opset(model),
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "inputs": [n for n, _ in inputs], "outputs": outputs,
            "input_shapes": {i.name: _dims(i) for i in model.graph.input if i.name not in inits}}
    return HybridModel(parts, inputs, outputs, info, threads, sessions)


def _dims(value_info) -> List[Union[int, str, None]]:
    """A graph input's declared shape: a size, a dimension's name, or None where it is free and unnamed."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]
