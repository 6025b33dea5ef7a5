"""The ONNX GRU operator for GraphWalker (a mixin): W, R, B, the attributes, and where X, initial_h and
sequence_lens come from. Anything the engine cannot run exactly fails naming the node."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np

from ...errors import OnnxImportError
from ...layers import GRU, GRUDirection
from ._values import Axis, Chain, Const, GRUMeta, LengthsIn, StateIn, Zeros, attrs, gru_activations


class GruOp:
    """GraphWalker's handler of the GRU op and its helpers (uses the walker's _fail, _weight, _kind,
    _describe, binding and gru_meta)."""

    def _gru(self, node, ins):
        ins = list(ins) + [None] * (6 - len(ins))
        X, Wv, Rv, Bv, lens, h0 = ins[:6]
        a = attrs(node)
        direction = a.get("direction", "forward")
        direction = "forward" if direction == "foward" else direction  # opset-1 schema default typo
        if direction not in ("forward", "reverse", "bidirectional"):
            self._fail(node, f"direction {direction!r}; expected forward, reverse or bidirectional")
        D = 2 if direction == "bidirectional" else 1
        layout = int(a.get("layout", 0))
        if layout not in (0, 1):
            self._fail(node, f"layout {layout}; expected 0 or 1")
        W, R = self._weight(node, Wv, "W"), self._weight(node, Rv, "R")
        if W.ndim != 3 or R.ndim != 3 or W.shape[0] != D or R.shape[0] != D or R.shape[1] != 3 * R.shape[2] \
                or W.shape[1] != R.shape[1]:
            self._fail(node, f"W {W.shape} / R {R.shape}: expected [{D}, 3*hidden, input] and [{D}, 3*hidden, hidden]")
        H, I = R.shape[2], W.shape[2]
        if "hidden_size" in a and int(a["hidden_size"]) != H:
            self._fail(node, f"hidden_size={a['hidden_size']} but R has shape {R.shape}")
        if Bv is None:
            B = np.zeros((D, 6 * H), np.float32)
        else:
            B = self._weight(node, Bv, "B")
            if B.shape != (D, 6 * H):
                self._fail(node, f"B has shape {B.shape}; expected ({D}, {6 * H})")
        names = a.get("activations") or ["Sigmoid", "Tanh"] * D
        if len(names) != 2 * D:
            self._fail(node, f"{len(names)} activations for {D} direction(s); expected {2 * D}")
        try:
            acts = gru_activations(names, a.get("activation_alpha", []), a.get("activation_beta", []))
        except OnnxImportError as e:
            self._fail(node, str(e))
        if D == 2 and acts[:2] != acts[2:]:
            self._fail(node, f"different activations per direction ({acts[:2]} vs {acts[2:]}) are not supported")
        clip = float(a.get("clip", 0.0))
        if "clip" in a and clip <= 0:
            self._fail(node, f"clip={clip}; must be positive")
        if clip >= float(np.finfo(np.float32).max):
            clip = 0.0  # "no clip" written out explicitly
        X = self._gru_x(node, X, layout, I)
        dirs = [GRUDirection(W[d], R[d], B[d, :3 * H], B[d, 3 * H:]) for d in range(D)]
        spec = GRU(I, H, dirs, direction, bool(a.get("linear_before_reset", 0)), Bv is not None,
                   acts[0], acts[1], clip, initial_state=self._gru_const_h0(node, h0, layout, D, H))
        final = replace(spec, return_sequences=False)
        meta = GRUMeta(node.name, self._gru_h0(node, h0, layout, D, X.layers), self._gru_lengths(node, lens))
        self.gru_meta[id(spec)] = self.gru_meta[id(final)] = meta
        t, b = (X.axes[0], X.axes[1]) if layout == 0 else (X.axes[1], X.axes[0])
        d_ax, h_ax = Axis("D", D), Axis("H", H)
        y_axes = (t, d_ax, b, h_ax) if layout == 0 else (b, t, d_ax, h_ax)
        yh_axes = (d_ax, b, h_ax) if layout == 0 else (b, d_ax, h_ax)
        return [Chain(y_axes, X.layers + (spec,)), Chain(yh_axes, X.layers + (final,), is_state=True)]

    def _gru_x(self, node, X, layout: int, I: int) -> Chain:
        if not isinstance(X, Chain) or X.is_state or len(X.axes) != 3:
            self._fail(node, f"input X is {self._describe(X)}; expected a 3-d sequence computed from the graph input")
        want = ("T", "B") if layout == 0 else ("B", "T")
        for ax, kind in zip(X.axes[:2], want):
            k = self._kind(ax)
            if k in ("in0", "in1"):
                self.binding[k] = kind
                self.binding["in1" if k == "in0" else "in0"] = "B" if kind == "T" else "T"
            elif k != kind:
                self._fail(node, f"input X has axes {self._describe(X)}; with layout={layout} expected "
                                 f"({', '.join(want)}, features)")
        f = X.axes[2]
        if f.kind not in ("F", "H") or (f.size is not None and f.size != I):
            self._fail(node, f"input X has axes {self._describe(X)}; expected {I} features on the last axis")
        return X

    def _state_rows_before(self, layers) -> int:
        return sum(layer.num_directions for layer in layers if isinstance(layer, GRU))

    def _gru_h0(self, node, h0, layout: int, D: int, layers):
        if h0 is None or isinstance(h0, Zeros):
            return None
        if isinstance(h0, Const):  # the layer's default state (_gru_const_h0), not predict's h0=
            return None
        if not isinstance(h0, StateIn):
            self._fail(node, f"initial_h is {self._describe(h0)}; expected a graph input, a slice of one, or zeros")
        if len(h0.perm) != 3:
            self._fail(node, f"initial_h input {h0.name!r} has {len(h0.perm)} dimensions; expected 3")
        row_axis, batch_axis = (h0.perm[0], h0.perm[1]) if layout == 0 else (h0.perm[1], h0.perm[0])
        if h0.perm[2] != 2:
            self._fail(node, f"initial_h input {h0.name!r}: its last axis must be the hidden axis")
        start = self._state_rows_before(layers)
        if h0.rows is None:
            return h0.name, row_axis, start, None, D
        ax, s, e = h0.rows
        n = h0.dims[ax]
        if n is not None:  # normalise negative and past-the-end bounds
            s, e = (s + n if s < 0 else s), min(e + n if e < 0 else e, n)
        if ax != row_axis or s != start or e - s != D:
            self._fail(node, f"initial_h takes rows [{s}:{e}] of axis {ax} of {h0.name!r}; this GRU's state "
                             f"is rows [{start}:{start + D}] of the (layers*directions) axis")
        return h0.name, row_axis, s, s + D, D

    def _gru_const_h0(self, node, h0, layout: int, D: int, H: int) -> Optional[np.ndarray]:
        """A non-zero constant initial_h as the layer's default initial state (D, H), else None. Its batch
        axis must be 1 (broadcast to any batch) or hold equal rows."""
        if not isinstance(h0, Const) or not np.any(np.asarray(h0.array)):
            return None
        a = np.asarray(h0.array, np.float32)
        if a.ndim == 3 and layout == 1:
            a = a.transpose(1, 0, 2)
        if a.ndim != 3 or a.shape[0] != D or a.shape[2] != H or np.any(a != a[:, :1]):
            want = f"({D}, batch, {H})" if layout == 0 else f"(batch, {D}, {H})"
            self._fail(node, f"initial_h is a constant of shape {np.shape(h0.array)}; expected {want} with batch 1 "
                             f"or all batch rows equal (it becomes the model's default initial state)")
        return a[:, 0]

    def _gru_lengths(self, node, lens) -> Optional[str]:
        if lens is None:
            return None
        if isinstance(lens, LengthsIn):
            return lens.name
        self._fail(node, f"sequence_lens is {self._describe(lens)}; only a graph input is supported "
                         f"(it maps to predict's lengths=)")

