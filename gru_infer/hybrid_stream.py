"""HybridModel.stream: an ONNX hybrid run one frame (time step) at a time.

Possible when every part is causal and frame-local: the GRU islands run forward in time from their
own initial state and give every step (gru_infer Streams carry their state), and every onnxruntime
part computes each time step from the same time step only, which
`gru_infer.importers.onnx._frame_local` proves node by node; the parts then run per frame on
onnxruntime with a time axis of length 1. Anything else is a ValueError naming the node and why.

The time axis of each graph input is taken as its axis 1, or axis 0 where the input feeds a
seq-first GRU directly (as `verify --rest` and `info --rest` size inputs), else axis 0 for every
input; it must be free in the graph's declaration. It is followed through the parts to every
tensor; each GRU island must receive its input with time where the GRU reads it, and every graph
output must have a time axis.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Union

import numpy as np

from .hybrid_layout import to_onnx_layout


def _island_label(part: dict) -> str:
    return ", ".join(n for n in part["nodes"] if "GRU" in n) or part["nodes"][0]


def time_axes(hybrid: Any) -> Tuple[Dict[str, int], Dict[str, int]]:
    """The time axis of each graph input and output; ValueError where the hybrid cannot stream.
    Tried with each input's time at axis 1 (axis 0 where it feeds a seq-first GRU directly), then,
    where that fails, at axis 0 for every input: the proof holds for whichever axis it succeeds on."""
    seq_first = {p["io"]["input_name"] for p in hybrid._parts
                 if p["runs_in"] == "gru_infer" and p["io"]["input_layout"] == "seq_first"}
    first = {n: 0 if n in seq_first else 1 for n in hybrid.input_names}
    try:
        return _time_axes(hybrid, first)
    except ValueError:
        if all(t == 0 for t in first.values()):
            raise
        try:
            return _time_axes(hybrid, {n: 0 for n in hybrid.input_names})
        except ValueError:
            pass
        raise


def _time_axes(hybrid: Any, inputs: Dict[str, int]) -> Tuple[Dict[str, int], Dict[str, int]]:
    import onnx

    from .importers.onnx._frame_local import time_axes as part_time_axes
    time: Dict[str, Any] = {}
    for name, t in inputs.items():
        dims = hybrid.info["input_shapes"][name]
        if len(dims) <= t or isinstance(dims[t], int):
            raise ValueError(f"cannot stream: graph input {name!r} (shape {dims}) has no free axis {t} to be its "
                             f"time axis")
        time[name] = t
    for p in hybrid._parts:
        if p["runs_in"] == "onnxruntime":
            known = {x: time[x] for x in p["inputs"] if time.get(x) is not None}
            try:
                found = part_time_axes(onnx.load_from_string(p["onnx"]), known)
            except ValueError as e:
                raise ValueError(f"cannot stream: {e}") from None
            time.update({o: found.get(o) for o in p["outputs"]})
            continue
        io, label = p["io"], _island_label(p)
        why = None
        if io["sequence_lens_input"] or io["initial_h_input"]:
            why = f"reads its sequence_lens / initial_h from {io['sequence_lens_input'] or io['initial_h_input']!r}"
        elif time.get(io["input_name"]) != (0 if io["input_layout"] == "seq_first" else 1):
            why = (f"its input {io['input_name']!r} has its time axis at {time.get(io['input_name'])}, not where "
                   f"the GRU reads it")
        elif "T" not in io["output_axes"]:
            why = f"only its last step / final state is used ({io['output_name']!r} has no time axis)"
        elif io["state_output"]:
            why = f"its final state {io['state_output']!r} is read: it exists once the whole sequence has run"
        if why:
            raise ValueError(f"cannot stream: GRU node {label}: {why}")
        time[io["output_name"]] = io["output_axes"].index("T")
    for name in hybrid.output_names:
        if time.get(name) is None:
            raise ValueError(f"cannot stream: graph output {name!r} has no time axis")
    return {n: time[n] for n in hybrid.input_names}, {n: time[n] for n in hybrid.output_names}


class HybridStream:
    """Made by `HybridModel.stream(batch)`. `step(inputs)` advances every sequence one frame: inputs
    are each graph input's frame (the input without its time axis, or with a time axis of length 1),
    by name or as one array; returns each graph output's frame, without its time axis (a dict, or one
    array for one array in and one output). `reset()` starts every sequence again. Equal to predict
    on the sequence so far at its last step. One thread at a time."""

    def __init__(self, hybrid: Any, batch: int = 1):
        self._hybrid = hybrid
        self.input_time_axes, self.output_time_axes = time_axes(hybrid)
        self._streams = {}
        for k, p in enumerate(hybrid._parts):
            if p["runs_in"] == "gru_infer":
                try:
                    self._streams[k] = p["model"].stream(batch=batch)
                except ValueError as e:  # e.g. a bidirectional GRU
                    raise ValueError(f"cannot stream: GRU node {_island_label(p)}: {e}") from None
        self.batch = batch

    def reset(self) -> None:
        for s in self._streams.values():
            s.reset()

    def _framed(self, name: str, value: Any) -> Any:
        t = self.input_time_axes.get(name)
        if t is None:
            return value  # an unknown name: _feeds says so
        arr = np.asarray(value)
        rank = len(self._hybrid.info["input_shapes"][name])
        if arr.ndim == rank - 1:
            return np.expand_dims(arr, t)
        if arr.ndim != rank or arr.shape[t] != 1:
            raise ValueError(f"input {name!r}: expected one frame: rank {rank - 1} (without the time axis {t}) or "
                             f"rank {rank} with length 1 along it, got shape {arr.shape}")
        return arr

    def step(self, inputs: Union[Mapping[str, Any], Any]) -> Union[Dict[str, np.ndarray], np.ndarray]:
        h = self._hybrid
        if isinstance(inputs, Mapping):
            framed: Any = {n: self._framed(n, v) for n, v in inputs.items()}
        else:
            framed = self._framed(h.input_names[0], inputs) if len(h.input_names) == 1 else inputs
        env, positional = h._feeds(framed)
        out = {n: np.take(y, 0, axis=self.output_time_axes[n]) for n, y in h._run(env, island=self._step).items()}
        return out[h.output_names[0]] if positional and len(out) == 1 else out

    def _step(self, k: int, part: dict, env: dict) -> Dict[str, np.ndarray]:
        """GRU island k one frame on: its stream stepped on the frame of its input."""
        io = part["io"]
        x = np.take(env[io["input_name"]], 0, axis=0 if io["input_layout"] == "seq_first" else 1)
        y = self._streams[k].step(np.ascontiguousarray(x))
        return {io["output_name"]: to_onnx_layout(y[:, None, :], io["output_axes"], io["directions"])}
