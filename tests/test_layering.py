"""The package's modules form layers: no gru_infer module depends, directly or through others, on
itself (docs/ARCHITECTURE.md, "Layers"). Every import of a gru_infer module counts, at module level
or inside a function (a function-level import keeps `import gru_infer` light, it is still a
dependency), and so do the importer registry's imports by name (gru_infer.importers.REGISTRY) and
the plain imports of the Cython module src/_stream.pyx (gru_infer._stream). Type stubs (.pyi) do
not count: they describe, they never run."""
import ast
import re
from pathlib import Path

import gru_infer
from gru_infer import importers

PACKAGE = Path(gru_infer.__file__).parent
CYTHON = {"gru_infer._stream": PACKAGE.parent / "src" / "_stream.pyx"}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = (root.name,) + path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, name: str, is_package: bool, modules: set) -> set:
    """The gru_infer modules that the module `name` imports anywhere in `tree`: `from . import x`
    imports the module `x` when there is one, else a name of the package (its __init__)."""
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target not in modules and "." in target:  # `import gru_infer.x.y` -> its deepest module
                target = target.rpartition(".")[0]
            if target in modules and target != name:
                out.add(target)
    return out


def _cython_imports(path: Path) -> ast.Module:
    """The Python imports of a .pyx file (not its cimports), as an ast.Module."""
    statements = re.findall(r"^[ \t]*((?:from[ \t]+\S+[ \t]+import|import)[ \t][^\n(]*(?:\([^)]*\))?)",
                            path.read_text(), re.M)
    return ast.parse("\n".join(s.strip() for s in statements))


def dependency_graph(root: Path = PACKAGE, cython: dict = None, registry=None) -> dict:
    """{module: set of gru_infer modules it imports} for every module under `root`."""
    cython = CYTHON if cython is None else cython
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    compiled = {module_name(p.with_name(p.name.split(".")[0] + ".py"), root)  # _core.cpython-311-...so
                for pattern in ("*.so", "*.pyd", "*.pyi") for p in root.rglob(pattern)}
    modules = set(files) | set(cython) | compiled
    graph = {name: set() for name in compiled}  # pybind11 modules import no gru_infer module
    for name, path in files.items():
        graph[name] = _imported(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py", modules)
    for name, path in cython.items():
        graph[name] = _imported(_cython_imports(path), name, False, modules) if path.exists() else set()
    registry = importers.REGISTRY if registry is None else registry
    pkg = f"{root.name}.importers"
    if pkg in graph:  # importers.importer(fmt): importlib.import_module of each registered format
        graph[pkg] |= {f"{pkg}.{module}" for _, module in registry}
    return graph


def find_cycle(graph: dict):
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def all_cycles(graph: dict) -> list:
    """Every strongly connected group of more than one module (each holds at least one cycle)."""
    index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return groups


def test_the_package_has_no_import_cycle():
    graph = dependency_graph()
    assert "gru_infer.model" in graph and "gru_infer.importers.onnx._walker" in graph and "gru_infer._stream" in graph
    cycle = find_cycle(graph)
    assert cycle is None, ("import cycle: " + " -> ".join(cycle) + "\nall cyclic groups: "
                           + "; ".join(", ".join(g) for g in all_cycles(graph)))


def architecture_layers(text: str, compiled=("_core", "_stream")) -> list:
    """The numbered list of docs/ARCHITECTURE.md's "Layers" section, bottom-up: for each layer, the
    paths under gru_infer/ it names (`model.py` -> "model", `importers/` -> "importers", `__init__.py`
    -> ""; compiled modules by name: `_core`). Other words in backticks are prose."""
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    layers = []
    for item in re.split(r"\n(?=\d+\. )", section.split("\n1. ", 1)[1].split("\n\n", 1)[0]):
        names = [n for n in re.findall(r"`([\w/]+\.py|[\w/]+/|\w+)`", item)
                 if n.endswith((".py", "/")) or n in compiled]
        layers.append([n.removesuffix(".py").removesuffix("__init__").strip("/") for n in names])
    return layers


def test_the_layers_of_the_architecture_page_hold():
    """docs/ARCHITECTURE.md lists the layers bottom-up; a module imports only modules of its own layer or
    below, and every module is in one layer."""
    layers = architecture_layers((PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text())
    graph = dependency_graph()

    def path_of(module):  # gru_infer.importers.onnx._walker -> importers/onnx/_walker, gru_infer -> ""
        return module.replace(".", "/").partition("/")[2]

    def holds(name, module):
        return path_of(module) == name or (name != "" and path_of(module).startswith(name + "/"))

    def layer_of(module):  # the layer of the longest listed path that holds the module
        found = [(len(n), i) for i, names in enumerate(layers) for n in names if holds(n, module)]
        return max(found)[1] if found else None

    assert len(layers) >= 5, layers
    stale = [n for names in layers for n in names if not any(holds(n, m) for m in graph)]
    assert not stale, f"docs/ARCHITECTURE.md lists paths that name no module: {stale}"
    unplaced = sorted(m for m in graph if layer_of(m) is None)
    assert not unplaced, f"modules in no layer of docs/ARCHITECTURE.md: {unplaced}"
    upward = [f"{a} (layer {layer_of(a) + 1}) imports {b} (layer {layer_of(b) + 1})"
              for a in sorted(graph) for b in sorted(graph[a]) if layer_of(b) > layer_of(a)]
    assert not upward, "imports up the layers:\n" + "\n".join(upward)


def test_the_check_sees_cycles(tmp_path):
    """Module-level, function-level and package imports: each makes a cycle the check finds."""
    pkg = tmp_path / "gru_infer"
    (pkg / "importers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .model import Model\n")
    (pkg / "model.py").write_text("def quantize():\n    from .quantization import quantize\n")
    (pkg / "quantization.py").write_text("from . import model\n")
    (pkg / "importers" / "__init__.py").write_text("")
    (pkg / "importers" / "a.py").write_text("from ..model import Model\n")
    (pkg / "importers" / "b.py").write_text("def f():\n    import gru_infer.importers.a\n")
    graph = dependency_graph(pkg, cython={}, registry=[("x", "a")])
    assert graph["gru_infer.importers"] == {"gru_infer.importers.a"}
    assert graph["gru_infer.importers.b"] == {"gru_infer.importers.a"}
    assert graph["gru_infer"] == {"gru_infer.model"}
    assert find_cycle(graph) == ["gru_infer.model", "gru_infer.quantization", "gru_infer.model"]
    (pkg / "quantization.py").write_text("import numpy\n")
    assert find_cycle(dependency_graph(pkg, cython={}, registry=[])) is None
    (pkg / "importers" / "a.py").write_text("from . import b\n")
    assert find_cycle(dependency_graph(pkg, cython={}, registry=[])) == [
        "gru_infer.importers.a", "gru_infer.importers.b", "gru_infer.importers.a"]


def test_the_check_reads_cython_imports(tmp_path):
    pyx = tmp_path / "_stream.pyx"
    pyx.write_text("cimport numpy as cnp\nfrom libc.stdint cimport int64_t\nfrom . import _core\n"
                   "def f():\n    from .model import (_numeric,\n        _flag)\n")
    pkg = tmp_path / "gru_infer"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("from ._stream import Stream\n")
    (pkg / "_core.py").write_text("")
    graph = dependency_graph(pkg, cython={"gru_infer._stream": pyx}, registry=[])
    assert graph["gru_infer._stream"] == {"gru_infer._core", "gru_infer.model"}
    assert find_cycle(graph) == ["gru_infer._stream", "gru_infer.model", "gru_infer._stream"]
