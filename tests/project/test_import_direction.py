"""Imports go one way: no cycle between the packages of qslm_neuro, and the hardware side
(``hw``, ``workload``) never reaches into torch, models, measurement, search or Lava.

Every import is counted, including those inside functions: a lazy import still ties two
packages together, it only hides the cycle until the function runs. No exemption is needed.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "qslm_neuro"
#: What the hardware side may never import (third-party top-level names and our packages).
FORBIDDEN_FOR_HW = {"torch", "snntorch", "lava", "qslm_neuro.models", "qslm_neuro.measure",
                    "qslm_neuro.quantsearch", "qslm_neuro.lava", "qslm_neuro.training",
                    "qslm_neuro.tasks", "qslm_neuro.cli", "qslm_neuro.candidate_costs"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_our_module(name: str) -> bool:
    """``qslm_neuro.hw`` or ``qslm_neuro.cli.eval``: a package or module file of ours."""
    if not name.startswith("qslm_neuro."):
        return False
    base = PACKAGE.parent.joinpath(*name.split("."))
    return (base / "__init__.py").is_file() or base.with_suffix(".py").is_file()


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute names of every module ``path`` imports (anywhere in the file), with line numbers.

    ``from qslm_neuro import hw`` counts as ``qslm_neuro.hw``; the lazy-export tables
    (``_EXPORTS = {"name": "qslm_neuro.x.y"}``) count as imports of their targets.
    """
    name = _module_name(path)
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names
                      if _is_our_module(f"{module}.{alias.name}")]
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                found += [(v.value, node.lineno) for v in node.value.values
                          if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return found


def _unit(module: str) -> str | None:
    """The package-level unit of one of our modules: ``qslm_neuro.hw.costing`` -> ``hw``,
    ``qslm_neuro.errors`` -> ``errors``; None for third-party modules and the root package."""
    parts = module.split(".")
    if parts[0] != "qslm_neuro" or len(parts) < 2:
        return None
    return parts[1]


def _graph() -> dict[str, dict[str, list[str]]]:
    """unit -> {imported unit: ["file:line", ...]} over every file of the package."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(_module_name(path))
        if source is None:  # qslm_neuro/__init__.py: the lazy public API sits above everything
            continue
        graph.setdefault(source, {})
        for module, line in _imports(path):
            target = _unit(module)
            if target is not None and target != source:
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                graph[source].setdefault(target, []).append(where)
    return graph


def _find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, {}):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_lazy_and_relative_imports():
    """The parser must see what the other tests rely on, or they would pass vacuously."""
    graph = _graph()
    assert {"hw", "workload", "measure", "models", "quant", "cli", "candidate_costs", "lava"} <= set(graph)
    assert "workload" in graph["hw"] and "errors" in graph["hw"]
    assert "lava" in graph["cli"]          # imported inside a function only
    assert "measure" in graph["candidate_costs"]  # idem
    assert "workload" in graph["measure"]  # also through measure's _EXPORTS table


def test_no_import_cycle_between_packages():
    graph = _graph()
    cycle = _find_cycle(graph)
    if cycle:
        edges = [f"{a} -> {b} ({', '.join(graph[a][b][:2])})" for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import cycle between packages: " + "; ".join(edges))


@pytest.mark.parametrize("package", ["hw", "workload"])
def test_hardware_side_never_imports_the_torch_side(package):
    bad = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for module, line in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN_FOR_HW):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
        assert "import_module(" not in path.read_text(), f"{path}: no dynamic imports here"
    assert not bad, bad


@pytest.mark.parametrize("statement", [
    "import qslm_neuro.hw",
    "import qslm_neuro.workload",
    # the public front door costs a workload without the torch side too
    "import qslm_neuro; from qslm_neuro.workload.synthetic import synthetic_slm_workload as s; "
    "assert qslm_neuro.estimate(s(), hw='loihi2').energy_per_token_j > 0",
])
def test_hardware_imports_load_neither_torch_nor_lava(statement):
    code = textwrap.dedent(f"""
        import sys
        {statement}
        loaded = sorted(m for m in sys.modules
                        if m.split(".")[0] in ("torch", "snntorch", "lava"))
        assert not loaded, loaded[:5]
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
