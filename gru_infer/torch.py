"""Run the GRUs inside a PyTorch module on gru_infer: `gru_infer.torch.accelerate(module)`.

    import gru_infer.torch
    net = gru_infer.torch.accelerate(net.eval())   # a copy whose nn.GRU / nn.GRUCell run on gru_infer
    with torch.no_grad():
        y = net(x)                                 # everything else still runs in torch

Every module whose type is exactly nn.GRU or nn.GRUCell (at any depth) becomes an AcceleratedGRU /
AcceleratedGRUCell: the same object with its class changed (as torch.nn.utils.parametrize does), so
parameters, state_dict keys, hooks, isinstance(m, nn.GRU) and shared references are kept; forward
keeps the nn.GRU / nn.GRUCell contract and runs a gru_infer Model built once from the weights
(importers/torch_module.py). Subclasses of nn.GRU are left to torch (their forward may differ).

Inference only: CPU float32, eval mode, no gradients (the GRUs' parameters are frozen; an input
that requires grad while grad is enabled is refused). The weights are read at accelerate() time:
changing them afterwards (load_state_dict, an in-place update, a new Parameter) makes the next call
raise instead of running stale weights; call accelerate() on a fresh module again.

This module imports torch; `import gru_infer` does not import this module.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import numpy as np

from ._optional import require
from .loading import from_torch

torch = require("torch")
nn = torch.nn
rnn_utils = nn.utils.rnn
PackedSequence = rnn_utils.PackedSequence

__all__ = ["accelerate", "AcceleratedGRU", "AcceleratedGRUCell"]

QUANTIZE = ("int8", "bf16", "fp16")


def accelerate(module: Any, *, inplace: bool = False, quantize: Optional[str] = None, calibration: Any = None) -> Any:
    """Return `module` with every nn.GRU and nn.GRUCell in it running on gru_infer.

    inplace=False (default): a deep copy is converted and returned, the argument is unchanged.
    inplace=True: the module's own GRUs are converted (and their parameters frozen); the same
    object is returned. quantize: "int8", "bf16" or "fp16" quantizes the GRUs (Model.quantize);
    calibration: an example input of the whole module (a tensor, or a tuple of forward's
    arguments): the module is run once on it and each GRU is calibrated on the input it receives
    there (without it, Model.quantize's defaults). Each converted module's gru_infer Model, with
    its info["quantization"], is its `gru_infer_model` attribute.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if quantize is not None and quantize not in QUANTIZE:
        raise ValueError(f"quantize: expected None or one of {', '.join(QUANTIZE)}, got {quantize!r}")
    if calibration is not None and quantize is None:
        raise ValueError("calibration: only used with quantize='int8', 'bf16' or 'fp16'")
    if not inplace:
        module = copy.deepcopy(module)
    targets = [(name or type(module).__name__, m) for name, m in module.named_modules() if type(m) in SWAPS]
    for name, m in targets:
        check_convertible(name, m)
    seen = calibration_inputs(module, [m for _, m in targets], calibration) if calibration is not None else {}
    for _, m in targets:
        model = from_torch(m)
        if quantize is not None:
            model = model.quantize(quantize, calibration=seen.get(id(m)))
        m.__class__ = SWAPS[type(m)]
        m.gru_infer_setup(model)
    return module


def check_convertible(name: str, m) -> None:
    if m.training:
        raise RuntimeError(f"{name} is in training mode: gru_infer runs inference only; call module.eval() "
                           f"before accelerate()")
    for pname, p in m.named_parameters():
        if p.device.type != "cpu":
            raise ValueError(f"{name}.{pname}: expected a CPU parameter, got one on {p.device}")
        if p.dtype != torch.float32:
            raise TypeError(f"{name}.{pname}: expected dtype torch.float32, got {p.dtype}")


def calibration_inputs(module, targets: list, calibration) -> Dict[int, np.ndarray]:
    """Run the (still fp32 torch) module on `calibration` and return, per GRU, its input as a
    batch-first array: a GRU's first call, or all of a cell's calls as one-step sequences."""
    seen: Dict[int, List[np.ndarray]] = {}
    cells = {id(m) for m in targets if isinstance(m, nn.GRUCell)}

    def record(m, args, kwargs):
        x = args[0] if args else kwargs["input"]
        if isinstance(x, PackedSequence):
            x = rnn_utils.pad_packed_sequence(x, batch_first=True)[0]
        x = x.detach().float().cpu().numpy()
        if isinstance(m, nn.GRUCell):
            x = x.reshape(-1, 1, x.shape[-1])  # each row a one-step sequence
        elif x.ndim == 3 and not m.batch_first:
            x = x.transpose(1, 0, 2)
        seen.setdefault(id(m), []).append(x)

    hooks = [m.register_forward_pre_hook(record, with_kwargs=True) for m in targets]
    try:
        with torch.no_grad():
            module(*calibration) if isinstance(calibration, tuple) else module(calibration)
    finally:
        for h in hooks:
            h.remove()
    return {k: np.concatenate(v) if k in cells else v[0] for k, v in seen.items()}


# ---------------------------------------------------------------------------------------------
# The replacements

def as_array(t, name: str) -> np.ndarray:
    """A CPU float32 tensor as a NumPy view; anything else a clear error."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{name}: expected a CPU tensor, got one on {t.device}")
    if t.dtype != torch.float32:
        raise TypeError(f"{name}: expected dtype torch.float32, got {t.dtype}")
    if t.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(f"{name} requires grad and grad is enabled: gru_infer computes no gradients; run under "
                           f"torch.no_grad() or torch.inference_mode(), or pass a detached tensor")
    return t.detach().numpy()


def as_tensor(a: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(a))  # our arrays are fresh per call: nothing is shared


class Accelerated:
    """What AcceleratedGRU and AcceleratedGRUCell share: set-up and the per-call checks."""

    def gru_infer_setup(self, model) -> None:
        self.requires_grad_(False)
        self.gru_infer_model = model
        self.gru_infer_streams: Dict[int, list] = {}  # AcceleratedGRUCell: free streams per batch size
        self.gru_infer_weights = self.weights_key()

    def weights_key(self) -> tuple:
        return tuple((id(p), p.data_ptr(), p._version, p.requires_grad) for p in self._parameters.values()
                     if p is not None)

    def check_call(self) -> None:
        if self.training:
            raise RuntimeError(f"{type(self).__name__} runs inference only and is in training mode: call .eval()")
        if self.weights_key() != self.gru_infer_weights:
            raise RuntimeError(f"{type(self).__name__}: its parameters changed (or were unfrozen) after "
                               f"gru_infer.torch.accelerate(), which copied them; accelerate the updated module again")

    # Copies (copy.deepcopy, pickle, torch.save) get new parameter objects: they keep whether the
    # weights were still the ones accelerate() read, and make their key from their own parameters.
    def __getstate__(self):
        state = super().__getstate__()
        state["gru_infer_weights"] = self.weights_key() == self.gru_infer_weights
        state["gru_infer_streams"] = {}
        return state

    def __setstate__(self, state) -> None:
        fresh = state.pop("gru_infer_weights")
        super().__setstate__(state)
        self.gru_infer_weights = self.weights_key() if fresh else None

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gru_infer={self.gru_infer_model.weight_format}"


class AcceleratedGRU(Accelerated, nn.GRU):
    """nn.GRU's forward contract on gru_infer (inference only; see the module docstring)."""

    def forward(self, input, hx=None):
        self.check_call()
        if isinstance(input, PackedSequence):
            return self.forward_packed(input, hx)
        x = as_array(input, "input")
        I = self.input_size
        if x.ndim not in (2, 3) or x.shape[-1] != I:
            order = "(B, T" if self.batch_first else "(T, B"
            raise ValueError(f"input: expected shape {order}, {I}) or (T, {I}), got {tuple(x.shape)}")
        batched = x.ndim == 3
        if batched and not self.batch_first:
            x = x.transpose(1, 0, 2)
        h0 = None if hx is None else self.state_in(hx, x.shape[0] if batched else None)
        y, h_n = self.gru_infer_model.predict(x, h0=h0, return_state=True)
        if batched and not self.batch_first:
            y = y.transpose(1, 0, 2)
        return as_tensor(y), as_tensor(h_n)

    def forward_packed(self, packed, hx):
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        as_array(data, "input.data")
        if data.ndim != 2 or data.shape[1] != self.input_size:
            raise ValueError(f"input.data: expected shape (N, {self.input_size}), got {tuple(data.shape)}")
        # Padded in sorted order (longest first), as torch runs it; hx and h_n are in the caller's order.
        x, lengths = rnn_utils.pad_packed_sequence(PackedSequence(data, batch_sizes), batch_first=True)
        h0 = None if hx is None else self.state_in(hx, x.shape[0])
        if h0 is not None and sorted_indices is not None:
            h0 = h0[:, sorted_indices.numpy()]
        y, h_n = self.gru_infer_model.predict(x.numpy(), h0=h0, lengths=lengths.numpy(), return_state=True)
        if unsorted_indices is not None:
            h_n = h_n[:, unsorted_indices.numpy()]
        out = rnn_utils.pack_padded_sequence(torch.from_numpy(y), lengths, batch_first=True)
        return PackedSequence(out.data, batch_sizes, sorted_indices, unsorted_indices), as_tensor(h_n)

    def state_in(self, hx, batch: Optional[int]) -> np.ndarray:
        h = as_array(hx, "hx")
        L = self.num_layers * (2 if self.bidirectional else 1)
        want = (L, self.hidden_size) if batch is None else (L, batch, self.hidden_size)
        if tuple(h.shape) != want:
            raise ValueError(f"hx: expected shape {want}, got {tuple(h.shape)}")
        return h


class AcceleratedGRUCell(Accelerated, nn.GRUCell):
    """nn.GRUCell's forward contract on gru_infer: one stream step per call (cheaper than a
    one-step predict: 3.9 vs 7.9 us at I=16 H=32, 8.9 vs 18.6 us at I=64 H=128, batch 1)."""

    def forward(self, input, hx=None):
        self.check_call()
        x = as_array(input, "input")
        I, H = self.input_size, self.hidden_size
        if x.ndim not in (1, 2) or x.shape[-1] != I:
            raise ValueError(f"input: expected shape (B, {I}) or ({I},), got {tuple(x.shape)}")
        B = x.shape[0] if x.ndim == 2 else 1
        h = None
        if hx is not None:
            h = as_array(hx, "hx")
            if h.shape != x.shape[:-1] + (H,):
                raise ValueError(f"hx: expected shape {x.shape[:-1] + (H,)}, got {tuple(h.shape)}")
        free = self.gru_infer_streams.setdefault(B, [])  # streams not in use, per batch size
        try:
            stream = free.pop()  # atomic: concurrent calls never share a stream
        except IndexError:
            stream = self.gru_infer_model.stream(batch=B)
        try:
            if h is None:
                stream.reset()
            else:
                stream.set_state(h.reshape(1, B, H))
            y = stream.step(x.reshape(B, I))
        finally:
            free.append(stream)
        return as_tensor(y if x.ndim == 2 else y[0])


SWAPS = {nn.GRU: AcceleratedGRU, nn.GRUCell: AcceleratedGRUCell}
