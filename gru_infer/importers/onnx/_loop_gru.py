"""Keras GRUs that tf2onnx wrote as a `Loop` (Keras 3 does not match tf2onnx's GRU rewriter), turned
back into the ONNX `GRU` operator they compute, before the graph is walked.

The loop body is evaluated symbolically: every value is a constant, an affine form of this step's
input x and the carried state h (x @ A + h @ B + c, kept exactly: only slices and sums of the
file's own numbers), or a node of non-linear ops over those. The new state must then be exactly the
GRU update `z * h + (1 - z) * n` with `z = f(affine)`, and `n = g(affine_x + r * affine_h)` (Keras
reset_after=True, ONNX linear_before_reset=1) or `n = g(affine_x + (r * h) @ U)` (reset_after=False),
`r = f(affine)`. Anything else in the body, a trip count that is not the sequence length, or a state
that does not start at zero is refused, naming the Loop node and saying to load the .keras / .h5 file.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ...errors import OnnxImportError

INT_MAX = 2 ** 31 - 1
_ACTIVATIONS = {"Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu", "HardSigmoid": "HardSigmoid"}


class _Lin:
    """x @ ax + h @ ah + sum(c): ax (I, n) or None, ah (H, n) or None, c a list of (n,) terms."""

    def __init__(self, ax, ah, c):
        self.ax, self.ah, self.c = ax, ah, c

    @property
    def width(self) -> int:
        return next(a.shape[-1] for a in (self.ax, self.ah, *self.c) if a is not None)

    def cols(self, a: int, b: int) -> _Lin:
        return _Lin(None if self.ax is None else self.ax[:, a:b], None if self.ah is None else self.ah[:, a:b],
                    [t[a:b] for t in self.c])

    def bias(self) -> np.ndarray:
        return np.sum([t.astype(np.float64) for t in self.c], axis=0) if self.c else np.zeros(self.width)


class _Op:
    """A non-linear value: op over args (each a _Lin, _Op or constant), with its attributes."""

    def __init__(self, op: str, args: list, attrs: Optional[dict] = None):
        self.op, self.args, self.attrs = op, args, attrs or {}


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Refused(Exception):
    pass


def _refuse(why: str):
    raise _Refused(why)


class _Body:
    """Symbolic evaluation of one Loop body."""

    def __init__(self, loop, outer_consts: Dict[str, np.ndarray], seq_name_of_x: list):
        from onnx import numpy_helper
        self.loop = loop
        self.body = _attrs(loop)["body"]
        self.producer = {o: n for n in self.body.node for o in n.output}
        self.consts = dict(outer_consts)
        self.consts.update({t.name: numpy_helper.to_array(t) for t in self.body.initializer})
        self.values: Dict[str, object] = {}
        self.seq_name_of_x = seq_name_of_x  # filled with the outer tensor the body reads x_t from

    # -- evaluation

    def value(self, name: str):
        if name in self.values:
            return self.values[name]
        if name in self.consts:
            v = self.consts[name]
        elif name in self.producer:
            v = self._node(self.producer[name], name)
        else:
            _refuse(f"the loop body reads {name!r}, which is neither a loop variable nor a constant")
        self.values[name] = v
        return v

    def _node(self, node, out_name: str):
        op, a = node.op_type, _attrs(node)
        if op == "Gather" and len(node.input) == 2:
            index = self.value(node.input[1])
            if isinstance(index, _Op) and index.op == "step_index":
                if node.input[0] in self.consts or node.input[0] in self.producer or a.get("axis", 0) != 0:
                    _refuse(f"node {node.name!r} gathers something other than one time step of the input")
                self.seq_name_of_x.append(node.input[0])
                return self.x
        args = [self.value(i) if i else None for i in node.input]
        if all(isinstance(v, np.ndarray) or v is None for v in args):
            return _fold(node, args)[list(node.output).index(out_name)]
        if op in ("Identity", "Cast") and not isinstance(args[0], np.ndarray):
            if op == "Cast" and a.get("to") != 1:
                _refuse(f"node {node.name!r} casts a state value to a non-float type")
            return args[0]
        if op == "MatMul":
            v, w = args
            if not isinstance(w, np.ndarray) or w.ndim != 2:
                _refuse(f"MatMul {node.name!r} does not multiply by a constant matrix")
            if isinstance(v, _Lin):
                return _Lin(None if v.ax is None else v.ax.astype(np.float64) @ w,
                            None if v.ah is None else v.ah.astype(np.float64) @ w,
                            [t.astype(np.float64) @ w for t in v.c])
            return _Op("MatMul", [v, w])
        if op in ("Split", "Slice"):
            return self._columns(node, op, a, args, out_name)
        if op == "Add":
            x, y = args
            if isinstance(x, np.ndarray):
                x, y = y, x
            if isinstance(x, _Lin) and isinstance(y, np.ndarray) and y.ndim == 1:
                return _Lin(x.ax, x.ah, x.c + [y])
            if isinstance(x, _Lin) and isinstance(y, _Lin):
                return _Lin(_sum(x.ax, y.ax), _sum(x.ah, y.ah), x.c + y.c)
            return _Op("Add", [x, y])
        if op in ("Mul", "Sub"):
            return _Op(op, args)
        if op in _ACTIVATIONS:
            return _Op(op, args, a)
        _refuse(f"node {node.name!r} is a {op}, which is not part of a GRU cell")

    def _columns(self, node, op, a, args, out_name):
        """Split / Slice of an affine form along its last axis (axis 0, the batch, must stay whole)."""
        v = args[0]
        if not isinstance(v, _Lin):
            _refuse(f"{op} {node.name!r} slices a non-linear value")
        n = v.width
        if op == "Split":
            axis = a.get("axis", 0)
            sizes = a.get("split") or (list(args[1]) if len(args) > 1 and args[1] is not None else None)
            k = list(node.output).index(out_name)
            count = len(node.output)
            sizes = [int(s) for s in sizes] if sizes else [n // count] * count
            if axis not in (1, -1) or sum(sizes) != n:
                _refuse(f"Split {node.name!r} does not cut the gate columns")
            start = sum(sizes[:k])
            return v.cols(start, start + sizes[k])
        starts, ends = [int(s) for s in args[1]], [int(e) for e in args[2]]
        axes = [int(x) for x in args[3]] if len(args) > 3 and args[3] is not None else list(range(len(starts)))
        steps = [int(s) for s in args[4]] if len(args) > 4 and args[4] is not None else [1] * len(starts)
        lo, hi = 0, n
        for s, e, ax, st in zip(starts, ends, axes, steps):
            if st != 1:
                _refuse(f"Slice {node.name!r} has a step")
            if ax == 0:
                if s != 0 or e < INT_MAX:
                    _refuse(f"Slice {node.name!r} cuts the batch axis")
            elif ax in (1, -1):
                lo, hi = max(0, s if s >= 0 else n + s), min(n, e if e >= 0 else n + e)
            else:
                _refuse(f"Slice {node.name!r} has axis {ax}")
        return v.cols(lo, hi)


def _sum(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a.astype(np.float64) + b


def _fold(node, args) -> List[np.ndarray]:
    """Constant folding of the shape ops tf2onnx puts on weights."""
    op, a = node.op_type, _attrs(node)
    x = args[0] if args else None
    if op in ("Identity",):
        return [x]
    if op == "Cast":
        return [x.astype({1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}[a["to"]])]
    if op == "Squeeze":
        axes = a.get("axes", list(args[1]) if len(args) > 1 and args[1] is not None else None)
        return [np.squeeze(x, axis=tuple(int(i) for i in axes)) if axes is not None else np.squeeze(x)]
    if op == "Unsqueeze":
        axes = a.get("axes", list(args[1]) if len(args) > 1 else None)
        return [np.expand_dims(x, tuple(int(i) for i in axes))]
    if op == "Split":
        axis = a.get("axis", 0)
        sizes = a.get("split") or (list(args[1]) if len(args) > 1 and args[1] is not None else None)
        n = len(node.output)
        sizes = [int(s) for s in sizes] if sizes else [x.shape[axis] // n] * n
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    if op == "Slice":
        starts, ends = args[1], args[2]
        axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
        steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
        sl = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            sl[int(ax)] = slice(int(s), int(e), int(st))
        return [x[tuple(sl)]]
    if op == "Transpose":
        return [np.transpose(x, a.get("perm"))]
    if op == "Reshape":
        return [np.reshape(x, [int(d) for d in args[1]])]
    if op == "Concat":
        return [np.concatenate(args, axis=a["axis"])]
    if op == "Less":
        return [np.less(args[0], args[1])]
    if op == "Greater":
        return [np.greater(args[0], args[1])]
    if op == "And":
        return [np.logical_and(args[0], args[1])]
    if op == "Add":
        return [args[0] + args[1]]
    if op == "Expand":
        return [np.broadcast_to(x, [int(d) for d in args[1]]).copy()]
    _refuse(f"node {node.name!r}: {op} on constants")


def _is_h(v, H: int) -> bool:
    return (isinstance(v, _Lin) and v.ax is None and not v.c and v.ah is not None
            and v.ah.shape == (H, H) and np.array_equal(v.ah, np.eye(H)))


def _pair(op: _Op, kind: str, test):
    """For a commutative `op` of kind `kind`: the (matching arg, other arg) with test(arg), or None."""
    if not isinstance(op, _Op) or op.op != kind:
        return None
    a, b = op.args
    if test(a):
        return a, b
    if test(b):
        return b, a
    return None


def _activation(v, what: str):
    if not isinstance(v, _Op) or v.op not in _ACTIVATIONS:
        _refuse(f"{what} is not an activation of an affine form")
    return v


def _act_spec(op: _Op) -> tuple:
    if op.op == "HardSigmoid":
        return ("HardSigmoid", float(op.attrs.get("alpha", 0.2)), float(op.attrs.get("beta", 0.5)))
    return (op.op, None, None)


def _match_gru(h_new, H: int, I: int):
    """The GRU parameters of h_new = z * h + (1 - z) * n, or _Refused."""
    for zh, rest in ((h_new.args[0], h_new.args[1]), (h_new.args[1], h_new.args[0])) \
            if isinstance(h_new, _Op) and h_new.op == "Add" else ():
        zh_pair = _pair(zh, "Mul", lambda v: _is_h(v, H))
        if not zh_pair:
            continue
        z = zh_pair[1]
        one_minus = _pair(rest, "Mul", lambda v, z=z: isinstance(v, _Op) and v.op == "Sub" and v.args[1] is z)
        if not one_minus:
            continue
        sub, n = one_minus
        if not (isinstance(sub.args[0], np.ndarray) and sub.args[0].size == 1 and float(sub.args[0]) == 1.0):
            continue
        break
    else:
        _refuse("the new state is not z * h + (1 - z) * n")
    z = _activation(z, "the update gate z")
    n = _activation(n, "the candidate n")
    if not isinstance(z.args[0], _Lin):
        _refuse("the update gate z is not an activation of x @ W + h @ U + b")
    inner = n.args[0]
    if not isinstance(inner, _Op) or inner.op != "Add":
        _refuse("the candidate is not g(x @ W + b + r * (...))")
    pairs = [(a, b) for a, b in ((inner.args[0], inner.args[1]), (inner.args[1], inner.args[0]))
             if isinstance(a, _Lin) and a.ah is None]
    if not pairs:
        _refuse("the candidate's input part is not x @ W + b")
    lin, other = pairs[0]
    rh = _pair(other, "Mul", lambda v: isinstance(v, _Op) and v.op in _ACTIVATIONS)
    if rh and isinstance(rh[1], _Lin) and rh[1].ax is None and not _is_h(rh[1], H):
        lbr, r, n_rec, n_rec_bias = True, rh[0], rh[1].ah, rh[1].bias()  # r * (h @ U_n + b)
    elif isinstance(other, _Op) and other.op == "MatMul":
        rh2 = _pair(other.args[0], "Mul", lambda v: _is_h(v, H))
        if not rh2:
            _refuse("the candidate's recurrent part is not (r * h) @ U_n")
        lbr, r, n_rec, n_rec_bias = False, rh2[1], other.args[1], np.zeros(H)
    else:
        _refuse("the candidate's recurrent part is neither r * (h @ U_n + b) nor (r * h) @ U_n")
    r = _activation(r, "the reset gate r")
    if not isinstance(r.args[0], _Lin) or _act_spec(r) != _act_spec(z):
        _refuse("the reset gate is not the update gate's activation of x @ W + h @ U + b")

    def parts(lin: _Lin):
        ax = np.zeros((I, H)) if lin.ax is None else lin.ax
        ah = np.zeros((H, H)) if lin.ah is None else lin.ah
        return ax, ah, lin.bias()

    zx, zh_, zb = parts(z.args[0])
    rx, rh_, rb = parts(r.args[0])
    nx, _, nb = parts(lin)
    for m, what in ((zx, "z"), (rx, "r"), (nx, "n")):
        if m.shape != (I, H):
            _refuse(f"gate {what}'s input weights are {m.shape}, expected ({I}, {H})")
    W = np.concatenate([zx.T, rx.T, nx.T]).astype(np.float32)            # (3H, I), z r n
    R = np.concatenate([zh_.T, rh_.T, np.asarray(n_rec).T]).astype(np.float32)
    B = np.concatenate([zb, rb, nb, np.zeros(H), np.zeros(H), n_rec_bias]).astype(np.float32)
    return W, R, B, lbr, _act_spec(z), _act_spec(n)


def _refusal(loop, why: str) -> OnnxImportError:
    return OnnxImportError(
        f"Loop node {loop.name!r}: looks like a Keras GRU that tf2onnx wrote as a loop, but {why}; only "
        f"the plain Keras GRU cell (sigmoid or hard_sigmoid gates, tanh/relu/sigmoid candidate, either "
        f"reset_after, a zero initial state, as many steps as the input has) is read from such a loop. "
        f"Load the Keras model (.keras or .h5) with gru_infer.load instead, or export it with "
        f"torch.onnx / keras2onnx, which write the ONNX GRU operator")


def rewrite_gru_loops(model):
    """A copy of `model` in which every Loop that computes a Keras GRU is a GRU node (+ Squeezes);
    the model itself if it has no Loop. Raises OnnxImportError for any other Loop. One Loop at a
    time, so that shape inference sees the GRU op (and its static time axis) of the loops before."""
    while any(n.op_type == "Loop" for n in model.graph.node):
        model = _rewrite_first_loop(model)
    return model


def _rewrite_first_loop(model):
    from onnx import numpy_helper
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    static_steps = _leading_dims(model)
    producer = {o: n for n in g.node for o in n.output}

    def outer_const(name):
        if name in consts:
            return consts[name]
        node = producer.get(name)
        if node is None:
            return None
        args = [outer_const(i) if i else None for i in node.input]
        if any(a is None for a, i in zip(args, node.input) if i):
            return None
        try:
            return _fold(node, args)[list(node.output).index(name)]
        except (_Refused, KeyError, ValueError, IndexError):
            return None

    new_nodes, new_inits, done = [], [], False
    for node in g.node:
        if node.op_type != "Loop" or done:
            new_nodes.append(node)
            continue
        try:
            new_nodes += _replace_loop(node, g, consts, outer_const, new_inits, static_steps)
        except _Refused as e:
            raise _refusal(node, str(e)) from None
        done = True
    out = type(model)()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(new_nodes)
    out.graph.initializer.extend(new_inits)
    _prune(out.graph)
    return out


def _replace_loop(loop, g, consts, outer_const, new_inits, static_steps):
    from onnx import helper, numpy_helper
    body = _attrs(loop)["body"]
    n_carried = len(loop.input) - 2
    bout = [o.name for o in body.output]
    if len(body.input) != n_carried + 2 or len(body.output) < n_carried + 1:
        _refuse("its body does not have the Loop's inputs and outputs")
    trip = outer_const(loop.input[0]) if loop.input[0] else None
    cond0 = outer_const(loop.input[1]) if loop.input[1] else np.array(True)
    if trip is None or cond0 is None or not bool(np.all(cond0)):
        _refuse("its trip count is computed at run time (an input with a dynamic number of steps)")
    T = int(trip)

    seq_source: list = []
    ev = _Body(loop, {k: v for k, v in consts.items()}, seq_source)
    step_marker = _Op("step_index", [])
    ev.values[body.input[0].name] = step_marker
    state_index = None
    for k in range(n_carried):
        name_in, name_out, init = body.input[k + 2].name, bout[k + 1], loop.input[k + 2]
        if name_out == name_in:  # passed through unchanged: a loop-invariant (the weights)
            v = outer_const(init)
            if v is None:
                _refuse(f"loop variable {init!r} is passed through but is not a constant")
            ev.values[name_in] = v
            continue
        init_v = outer_const(init)
        prod = ev.producer.get(name_out)
        if (init_v is not None and init_v.ndim == 0 and int(init_v) == 0 and prod is not None
                and prod.op_type == "Add" and name_in in prod.input):
            ev.values[name_in] = step_marker  # the time index t, 0, 1, 2, ...
            incr = [i for i in prod.input if i != name_in]
            inc_v = ev.consts.get(incr[0]) if incr else None
            if inc_v is None or int(inc_v) != 1:
                _refuse("its time index does not advance by one step")
            continue
        if state_index is not None:
            _refuse("it carries more than one state tensor")
        state_index = k
        if not _is_zero(init, g, consts):
            _refuse("the state does not start at zero")
    if state_index is None:
        _refuse("it carries no state")
    if len(body.output) != n_carried + 2:
        _refuse("it does not collect exactly one output per step")
    state_in = body.input[state_index + 2].name
    H = _matrix_rows(ev, state_in, "the state")

    ev.values[state_in] = _Lin(None, np.eye(H), [])
    ev.x = _Lin(np.eye(_input_width(ev, step_marker)), None, [])
    h_new = ev.value(bout[state_index + 1])
    I = ev.x.ax.shape[0]
    scan = ev.value(bout[n_carried + 1])
    if scan is not h_new:
        _refuse("the per-step output is not the new state")
    cond_out = bout[0]
    _check_cond(ev, cond_out, T, step_marker)
    W, R, B, lbr, f, gact = _match_gru(h_new, H, I)
    if not seq_source or len(set(seq_source)) != 1:
        _refuse("it does not read one time step of one input sequence per iteration")
    X = seq_source[0]
    if static_steps.get(X) != T:
        _refuse(f"its {T} iterations are not provably the number of time steps of {X!r} "
                f"(shape {static_steps.get(X, 'unknown')} along time)")

    prefix = loop.name.replace("/", "_") + "__gru"
    names = {k: f"{prefix}_{k}" for k in ("W", "R", "B", "Y", "Yh", "ax1", "ax0")}
    new_inits += [numpy_helper.from_array(W[None], names["W"]), numpy_helper.from_array(R[None], names["R"]),
                  numpy_helper.from_array(B[None], names["B"]),
                  numpy_helper.from_array(np.array([1], np.int64), names["ax1"]),
                  numpy_helper.from_array(np.array([0], np.int64), names["ax0"])]
    acts = [f[0], gact[0]]
    alphas = [v for v in (f[1], gact[1]) if v is not None]
    betas = [v for v in (f[2], gact[2]) if v is not None]
    attrs = dict(hidden_size=H, linear_before_reset=int(lbr), activations=acts)
    if alphas:
        attrs.update(activation_alpha=alphas, activation_beta=betas)
    nodes = [helper.make_node("GRU", [X, names["W"], names["R"], names["B"]], [names["Y"], names["Yh"]],
                              name=prefix, **attrs)]
    scan_out = loop.output[n_carried]
    nodes.append(helper.make_node("Squeeze", [names["Y"], names["ax1"]], [scan_out], name=prefix + "_squeeze_y"))
    nodes.append(helper.make_node("Squeeze", [names["Yh"], names["ax0"]], [loop.output[state_index]],
                                  name=prefix + "_squeeze_yh"))
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    for k, name in enumerate(loop.output[:n_carried]):
        if k != state_index and name in used:
            _refuse(f"its loop variable output {name!r} is used after the loop")
    return nodes


def _matrix_rows(ev: _Body, name: str, what: str) -> int:
    """The row count of the constant matrix that multiplies `name` in the body (I or H)."""
    for n in ev.body.node:
        if n.op_type == "MatMul" and n.input[0] == name:
            w = ev.value(n.input[1])
            if isinstance(w, np.ndarray) and w.ndim == 2:
                return int(w.shape[0])
    _refuse(f"{what} is not multiplied by a weight matrix")


def _input_width(ev: _Body, step_marker) -> int:
    """I, from the constant matrix that multiplies the gathered time step."""
    for n in ev.body.node:
        if n.op_type == "Gather" and len(n.input) == 2 and ev.values.get(n.input[1]) is step_marker:
            return _matrix_rows(ev, n.output[0], "the input step")
    _refuse("the body reads no step of an input sequence")


def _is_zero(name: str, g, consts) -> bool:
    """name is provably all zeros: a zero constant, Expand of one, or ConstantOfShape of zero."""
    from onnx import numpy_helper
    if name in consts:
        return not np.any(consts[name])
    node = next((n for n in g.node if name in n.output), None)
    if node is None:
        return False
    if node.op_type == "Expand":
        return _is_zero(node.input[0], g, consts)
    if node.op_type == "ConstantOfShape":
        value = _attrs(node).get("value")
        return value is None or not np.any(numpy_helper.to_array(value))
    if node.op_type in ("Identity", "Cast"):
        return _is_zero(node.input[0], g, consts)
    return False


def _check_cond(ev: _Body, name: str, T: int, step_marker) -> None:
    """The loop's condition must stay true for the first T - 1 iterations: an And of `i < c` or
    `i + 1 < c` tests with constants c >= T."""
    node = ev.producer.get(name)
    if node is None:
        v = ev.consts.get(name)
        if v is not None and bool(np.all(v)):
            return
        _refuse("its condition is not a test of the step count")
    if node.op_type in ("Identity",):
        return _check_cond(ev, node.input[0], T, step_marker)
    if node.op_type == "And":
        for i in node.input:
            _check_cond(ev, i, T, step_marker)
        return
    if node.op_type == "Less":
        lhs, rhs = node.input
        c = ev.consts.get(rhs)
        if c is None or float(c) < T or not _is_step_count(ev, lhs, step_marker):
            _refuse("its condition may end the loop before the last time step")
        return
    _refuse(f"its condition uses a {node.op_type}")


def _is_step_count(ev: _Body, name: str, step_marker) -> bool:
    """name is (a Cast of) the iteration number / time index, or that plus one."""
    if ev.values.get(name) is step_marker:
        return True
    node = ev.producer.get(name)
    if node is None:
        return False
    if node.op_type in ("Cast", "Identity"):
        return _is_step_count(ev, node.input[0], step_marker)
    if node.op_type == "Add":
        a, b = node.input
        for s, c in ((a, b), (b, a)):
            cv = ev.consts.get(c)
            if cv is not None and int(cv) == 1 and ev.values.get(s) is step_marker:
                return True
    return False


def _leading_dims(model) -> Dict[str, int]:
    """{value name: its first dimension} for the outer graph's values whose first dimension is static."""
    from onnx import shape_inference
    try:
        inferred = shape_inference.infer_shapes(model).graph
    except Exception:  # shape inference is a help here, not a requirement: no shapes, no rewrite
        return {}
    out = {}
    for vi in list(inferred.input) + list(inferred.value_info):
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value"):
            out[vi.name] = int(dims[0].dim_value)
    return out


def _reads(node) -> set:
    """Every name a node reads, including the outer-scope names its subgraphs read."""
    names = {i for i in node.input if i}
    for a in node.attribute:
        for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            for n in sub.node:
                names |= _reads(n)
    return names


def _prune(g) -> None:
    """Drop nodes whose outputs reach no graph output (the loop's shape and condition plumbing)."""
    needed = {o.name for o in g.output}
    keep = []
    for node in reversed(list(g.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(_reads(node))
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    used = needed
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
