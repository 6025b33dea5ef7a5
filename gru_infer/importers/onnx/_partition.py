"""Cutting an ONNX graph into GRU islands (run by gru_infer) and the rest (run by onnxruntime).

`partition(model) -> list of Step`, in an order in which every step's inputs exist before it runs:

- a GRU island (`Step.kind == "gru_infer"`) is one GRU node plus the exporters' plumbing around it
  that `GraphWalker` understands (a Transpose (1, 0, 2) before it; after it Squeeze, Unsqueeze,
  Transpose, Reshape, Slice, Gather, Concat, Identity, Cast, Flatten and stacked GRU nodes), written
  as a small ONNX model of its own and interpreted by the walker into layers. A zero initial_h
  (ConstantOfShape / Expand of 0) is dropped: it is the GRU's default. initial_h and sequence_lens
  computed elsewhere become inputs of the island (predict's h0= and lengths=).
- the other nodes (`Step.kind == "onnxruntime"`) are grouped by stage (how many islands lie before
  them) into subgraphs of the original graph cut by tensor names, with the initializers and the
  constant nodes they read copied in.

An island's plumbing is grown greedily and trimmed until the walker accepts it; a GRU node the walker
refuses on its own is refused (OnnxImportError naming the node): nothing is approximated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

from ...errors import OnnxImportError
from ._walker import _CONTROL_FLOW, _NONDETERMINISTIC, GraphWalker

PLUMBING = {"Transpose", "Squeeze", "Unsqueeze", "Reshape", "Slice", "Gather", "Concat", "Identity", "Cast",
            "Flatten"}
_FLOAT = 1  # TensorProto.FLOAT
_MOVES_DATA = {"Slice", "Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Gather", "Expand"}


@dataclass
class Step:
    kind: str                 # "gru_infer" or "onnxruntime"
    model: object             # the subgraph as an onnx.ModelProto
    inputs: List[str]
    outputs: List[str]
    nodes: List[str]          # the original nodes it runs (node_label)
    layers: Optional[list] = None   # gru_infer: the walker's layers and info
    info: Optional[dict] = None


@dataclass
class _Island:
    seed: int                          # index of the GRU node
    members: Set[int] = field(default_factory=set)
    dropped_h0: Set[int] = field(default_factory=set)  # GRU nodes whose zero initial_h is dropped


class _Walker(GraphWalker):
    """GraphWalker that remembers the node it was interpreting when it failed (None: in _result)."""
    current = None

    def _node(self, node, ins):
        self.current = node
        return super()._node(node, ins)

    def _result(self):
        self.current = None
        return super()._result()


def node_label(index: int, node) -> str:
    """A node's name, or for an unnamed node its op and position in the graph."""
    return node.name or f"#{index} {node.op_type}"


def _subgraph_names(node) -> Set[str]:
    """Names a node reads from the outer scope through its subgraphs (If/Loop/Scan bodies)."""
    out: Set[str] = set()
    for a in node.attribute:
        for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            inner = {t.name for t in g.initializer} | {i.name for i in g.input}
            for n in g.node:
                inner.update(n.output)
            for n in g.node:
                out.update(x for x in list(n.input) + sorted(_subgraph_names(n)) if x and x not in inner)
    return out


class Partitioner:
    def __init__(self, model):
        import onnx
        self.model = model
        self.graph = model.graph
        self.nodes = list(self.graph.node)
        self.inits = {t.name: t for t in self.graph.initializer}
        self.graph_inputs = [i.name for i in self.graph.input if i.name not in self.inits]
        self.graph_outputs = [o.name for o in self.graph.output]
        self.reads = [[x for x in n.input if x] + sorted(_subgraph_names(n)) for n in self.nodes]
        self.producer: Dict[str, int] = {}
        for i, n in enumerate(self.nodes):
            for o in n.output:
                if o:
                    self.producer[o] = i
        self.consumers: Dict[str, List[int]] = {}
        for i, names in enumerate(self.reads):
            for x in names:
                self.consumers.setdefault(x, []).append(i)
        known = set(self.inits) | set(self.graph_inputs)
        for i, names in enumerate(self.reads):
            missing = [x for x in names if x not in known]
            if missing:
                raise OnnxImportError(f"{self.nodes[i].op_type} node {self.nodes[i].name!r} reads {missing}, which no "
                                      f"earlier node, initializer or graph input produces (graph not in "
                                      f"topological order)")
            known.update(o for o in self.nodes[i].output if o)
        self.const = self._constant_nodes()
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001 - shapes are only hints for the cut tensors' declarations
            inferred = model
        g = inferred.graph
        self.value_info = {v.name: v for v in list(g.value_info) + list(g.input) + list(g.output)}

    # -- constants ------------------------------------------------------------------------
    def _constant_nodes(self) -> Set[int]:
        """Nodes computed from initializers and constants only (copied into every part that reads them)."""
        const: Set[int] = set()
        const_names = set(self.inits)
        for i, n in enumerate(self.nodes):
            if n.op_type in _NONDETERMINISTIC or n.op_type in _CONTROL_FLOW or n.op_type == "GRU":
                continue
            if n.domain not in ("", "ai.onnx") or any(o in self.graph_outputs for o in n.output):
                continue
            if all(x in const_names for x in self.reads[i]):
                const.add(i)
                const_names.update(o for o in n.output if o)
        return const

    def _is_const(self, name: str) -> bool:
        return name in self.inits or self.producer.get(name) in self.const

    def _const_closure(self, names) -> Set[int]:
        out: Set[int] = set()
        stack = [self.producer[x] for x in names if self.producer.get(x) in self.const]
        while stack:
            i = stack.pop()
            if i not in out:
                out.add(i)
                stack.extend(self.producer[x] for x in self.reads[i] if self.producer.get(x) in self.const)
        return out

    # -- islands --------------------------------------------------------------------------
    def _zero_h0(self, i: int) -> bool:
        """initial_h is all zeros whatever its shape: ConstantOfShape of 0, or Expand of a zero constant."""
        n = self.nodes[i]
        name = n.input[5] if len(n.input) > 5 else ""
        p = self.producer.get(name)
        while p is not None and p not in self.const and self.nodes[p].op_type in _MOVES_DATA:
            p = self.producer.get(self.nodes[p].input[0])  # a slice, cast, ... of zeros is zeros
        if not name or p is None or p in self.const:
            return False
        src = self.nodes[p]
        if src.op_type == "ConstantOfShape":
            from onnx import numpy_helper
            value = next((a.t for a in src.attribute if a.name == "value"), None)
            return value is None or not numpy_helper.to_array(value).any()
        if src.op_type == "Expand" and self._is_const(src.input[0]):
            return not self._const_value(src.input[0]).any()
        return False

    def _const_value(self, name: str):
        from onnx import numpy_helper
        from onnx.reference import ReferenceEvaluator
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        m = self._model(sorted(self._const_closure([name])), [], [name])
        return ReferenceEvaluator(m).run(None, {})[0]

    def _absorbable_gru(self, i: int) -> bool:
        """A stacked GRU node may join an island when it has no inputs of its own besides X."""
        n = self.nodes[i]
        lens = n.input[4] if len(n.input) > 4 else ""
        h0 = n.input[5] if len(n.input) > 5 else ""
        weights = all(self._is_const(x) for x in n.input[1:4] if x)
        return weights and not lens and (not h0 or self._zero_h0(i) or self._is_const(h0))

    def _grow(self, seed: int, taken: Set[int]) -> _Island:
        isl = _Island(seed, {seed})
        x = self.nodes[seed].input[0]
        p = self.producer.get(x)
        if p is not None and p not in self.const and p not in taken and self.nodes[p].op_type == "Transpose" \
                and [int(v) for a in self.nodes[p].attribute if a.name == "perm" for v in a.ints] == [1, 0, 2] \
                and self.consumers.get(x) == [seed]:
            isl.members.add(p)  # batch-first data transposed to the GRU's (time, batch, features)
        produced = {o for i in isl.members for o in self.nodes[i].output if o}
        for i in range(seed + 1, len(self.nodes)):
            n = self.nodes[i]
            if i in taken or i in self.const:
                continue
            if n.op_type not in PLUMBING and not (n.op_type == "GRU" and self._absorbable_gru(i)):
                continue
            ins = self.reads[i]
            if n.op_type == "GRU":
                ins = [n.input[0]]  # W, R, B constants; initial_h zero or constant (checked above)
            if any(x in produced for x in ins) and all(x in produced or self._is_const(x) for x in ins):
                isl.members.add(i)
                produced.update(o for o in n.output if o)
        for i in isl.members:
            if self.nodes[i].op_type == "GRU" and self._zero_h0(i):
                isl.dropped_h0.add(i)
        return isl

    def _island_nodes(self, isl: _Island) -> list:
        out = []
        for i in sorted(isl.members):
            n = self.nodes[i]
            if i in isl.dropped_h0:
                from onnx import NodeProto
                copy = NodeProto()
                copy.CopyFrom(n)
                copy.input[5] = ""
                n = copy
            out.append(n)
        return out

    def _island_io(self, isl: _Island):
        nodes = self._island_nodes(isl)
        produced = {o for n in nodes for o in n.output if o}
        ins = []
        for n in nodes:
            for x in n.input:
                if x and x not in produced and not self._is_const(x) and x not in ins:
                    ins.append(x)
        outs = [o for o in sorted(produced, key=self._order)
                if o in self.graph_outputs or any(c not in isl.members for c in self.consumers.get(o, []))]
        return nodes, ins, outs

    def _order(self, name: str):
        return (self.producer.get(name, -1), name)

    def _try_island(self, isl: _Island):
        nodes, ins, outs = self._island_io(isl)
        gru = self.nodes[isl.seed]
        data = ins[0]
        types = {}
        for x in ins:
            vi = self.value_info.get(x)
            elem = vi.type.tensor_type.elem_type if vi is not None else 0
            if x == data and elem not in (0, _FLOAT):
                raise OnnxImportError(f"GRU node {gru.name!r}: its input {x!r} has element type {elem}; the "
                                      f"hybrid path runs float32 GRUs only")
            types[x] = _FLOAT if x == data else elem
        model = self._model([], ins, outs, nodes=nodes, in_types=types, keep_shapes=True)
        walker = _Walker(model)
        try:
            layers, info = walker.run()
        except OnnxImportError as e:
            return None, walker.current, e
        extra = [o for o in outs if o not in (info["output_name"], info.get("state_output"))]
        if extra:
            return None, None, OnnxImportError(f"outputs {extra} of the island are neither its main output nor "
                                               f"its final state")
        return (model, ins, outs, layers, info), None, None

    def _island(self, seed: int, taken: Set[int]):
        """Grow the island, then trim it until the walker accepts it: drop the node the walker failed
        on (and what depends on it), or the last one when the island's outputs are what it refused."""
        gru = self.nodes[seed]
        for x, what in zip(gru.input[1:4], ("W", "R", "B")):
            if x and not self._is_const(x):
                raise OnnxImportError(f"GRU node {gru.name!r}: its {what} ({x!r}) is not a constant (an initializer "
                                      f"or computed from initializers only); gru_infer runs GRUs with fixed weights")
        isl = self._grow(seed, taken)
        while True:
            ok, failed, err = self._try_island(isl)
            if ok:
                model, ins, outs, layers, info = ok
                names = [node_label(i, self.nodes[i]) for i in sorted(isl.members)]
                return isl, Step("gru_infer", model, ins, outs, names, layers, info)
            before = {i for i in isl.members if i < seed}  # the Transpose feeding X, if taken
            idx = None if failed is None else next(
                (i for i in isl.members if self.nodes[i] is failed or
                 (self.nodes[i].name and (self.nodes[i].name, self.nodes[i].op_type) == (failed.name, failed.op_type))),
                None)
            after = sorted(isl.members - before - {seed})
            if idx is None and after:
                idx = after[-1]
            if idx is None or idx == seed or idx in before:
                if not before:
                    raise OnnxImportError(f"GRU node {self.nodes[seed].name!r} cannot run in gru_infer: "
                                          f"{err}") from None
                isl.members -= before  # feed the GRU's X itself
                continue
            self._drop(isl, idx)

    def _drop(self, isl: _Island, idx: int) -> None:
        """Remove a node and everything in the island that depends on it."""
        gone = {idx}
        for i in sorted(isl.members):
            if i > idx and any(self.producer.get(x) in gone for x in self.reads[i]):
                gone.add(i)
        isl.members -= gone
        isl.dropped_h0 -= gone

    # -- subgraphs ------------------------------------------------------------------------
    def _declared(self, name: str, elem: Optional[int] = None, keep_shapes: bool = True):
        from onnx import ValueInfoProto, helper
        vi = self.value_info.get(name)
        if vi is not None and vi.type.tensor_type.elem_type and (elem in (None, 0) or
                                                                 elem == vi.type.tensor_type.elem_type):
            out = ValueInfoProto()
            out.CopyFrom(vi)
            if not keep_shapes:
                out.type.tensor_type.ClearField("shape")
            return out
        if elem:
            return helper.make_tensor_value_info(name, elem, None)
        out = ValueInfoProto()
        out.name = name  # an output whose type onnxruntime infers itself
        return out

    def _model(self, node_ids, ins, outs, nodes=None, in_types=None, keep_shapes=True):
        from onnx import helper
        nodes = list(nodes) if nodes is not None else [self.nodes[i] for i in sorted(node_ids)]
        reads = {x for n in nodes for x in list(n.input) + sorted(_subgraph_names(n)) if x}
        consts = self._const_closure([x for x in reads if x not in ins])
        own = {id(n) for n in nodes}
        nodes = [self.nodes[i] for i in sorted(consts) if id(self.nodes[i]) not in own] + nodes
        nodes.sort(key=lambda n: self.producer.get(next((o for o in n.output if o), ""), -1))
        reads |= {x for i in consts for x in self.reads[i]}
        inits = [self.inits[x] for x in sorted(reads) if x in self.inits and x not in ins]
        in_types = in_types or {}
        g = helper.make_graph(nodes, "part", [self._declared(x, in_types.get(x), keep_shapes) for x in ins],
                              [self._declared(x, None, keep_shapes) for x in outs], initializer=inits)
        m = helper.make_model(g, opset_imports=list(self.model.opset_import), ir_version=self.model.ir_version)
        m.functions.extend(self.model.functions)
        return m

    # -- the plan -------------------------------------------------------------------------
    def run(self) -> List[Step]:
        islands, taken = [], set()
        for i, n in enumerate(self.nodes):
            if n.op_type == "GRU" and i not in taken:
                isl, step = self._island(i, taken)
                taken |= isl.members
                islands.append((isl, step))
        if not islands:
            raise OnnxImportError("the graph has no GRU node: nothing would run in gru_infer (run it in "
                                  "onnxruntime)")
        owner = {}  # node index -> island number
        for k, (isl, _) in enumerate(islands):
            for i in isl.members:
                owner[i] = k
        # what the graph outputs need, through islands (whose dropped zero h0 needs nothing)
        need_nodes, need_islands = set(), set()
        stack = list(self.graph_outputs)
        seen = set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            p = self.producer.get(x)
            if p is None or p in self.const:
                continue
            if p in owner:
                k = owner[p]
                if k not in need_islands:
                    need_islands.add(k)
                    stack.extend(islands[k][1].inputs)
            elif p not in need_nodes:
                need_nodes.add(p)
                stack.extend(self.reads[p])
        # stages: onnxruntime nodes even, islands odd
        stage: Dict[str, int] = {}   # tensor -> stage of the step producing it
        node_stage: Dict[int, int] = {}
        island_stage: Dict[int, int] = {}
        first = {k: min(isl.members) for k, (isl, _) in enumerate(islands)}
        units = sorted([(i, "node", i) for i in need_nodes] + [(first[k], "island", k) for k in need_islands])
        for _, kind, ref in units:
            if kind == "node":
                s = max([0] + [stage[x] + (stage[x] % 2) for x in self.reads[ref] if x in stage])
                node_stage[ref] = s
                outs = self.nodes[ref].output
            else:
                step = islands[ref][1]
                s = max([1] + [stage[x] + 1 + (stage[x] % 2) for x in step.inputs if x in stage])
                island_stage[ref] = s
                outs = [o for i in islands[ref][0].members for o in self.nodes[i].output]
            for o in outs:
                if o:
                    stage[o] = s
        steps_by_stage: Dict[int, List[tuple]] = {}
        for s in node_stage.values():
            steps_by_stage.setdefault(s, [])
        for k, s in island_stage.items():
            steps_by_stage.setdefault(s, []).append(("island", k))
        plan_units = []
        for s in sorted(steps_by_stage):
            if s % 2 == 0:
                plan_units.append(("ort", sorted(i for i, t in node_stage.items() if t == s)))
            else:
                plan_units.extend(sorted(steps_by_stage[s], key=lambda u: first[u[1]]))
        # each part's inputs and outputs
        reads_of = []
        for kind, ref in plan_units:
            reads_of.append(set(islands[ref][1].inputs) if kind == "island"
                            else {x for i in ref for x in self.reads[i] if not self._is_const(x)})
        steps: List[Step] = []
        for u, (kind, ref) in enumerate(plan_units):
            if kind == "island":
                steps.append(islands[ref][1])
                continue
            made = [o for i in ref for o in self.nodes[i].output if o]
            later = set().union(*reads_of[u + 1:]) if u + 1 < len(plan_units) else set()
            outs = [o for o in made if o in later or o in self.graph_outputs]
            ins = sorted(x for x in reads_of[u] if x not in made)
            ins.sort(key=self._order)
            types = {x: self._elem_type(x, steps) for x in ins}
            model = self._model(ref, ins, outs, in_types=types)
            steps.append(Step("onnxruntime", model, ins, outs, [node_label(i, self.nodes[i]) for i in ref]))
        const_outs = [o for o in self.graph_outputs if self._is_const(o)]
        if const_outs:
            steps.append(Step("onnxruntime", self._model([], [], const_outs), [], const_outs, []))
        return steps

    def _elem_type(self, name: str, steps: List[Step]) -> int:
        vi = self.value_info.get(name)
        if vi is not None and vi.type.tensor_type.elem_type:
            return vi.type.tensor_type.elem_type
        if any(s.kind == "gru_infer" and name in s.outputs for s in steps):
            return _FLOAT
        return 0  # filled in from the producing session by the caller (HybridModel)


def partition(model) -> List[Step]:
    return Partitioner(model).run()
