"""The package's shape: imports point one way through the layers, and no module imports itself
back through a circle. Read by ast (no import runs), so a lazy import inside a function counts.

Layer order (low -> high; a module may import only its own layer or lower ones):
  root (errors, config_checks, device, memory, storage, checkpoint, metrics, openmp) < data
  < ddpm < model < evaluate < train < analysis < presentation < pipeline < cli
"""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path

import pytest

import bdgf_nb

PACKAGE = Path(__file__).resolve().parents[1] / "bdgf_nb"
LAYERS = list(bdgf_nb.LAYERS)


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in the file, lazy imports included)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.level == 0
                and node.module.startswith(package.name)
            ):
                base = node.module
                for alias in node.names:  # `from bdgf_nb.train import distributed` names a module
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                raise AssertionError(f"{path}: relative import; use absolute `from {package.name}...` imports")
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith(package.name)}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else 0


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{a} (layer {LAYERS[layer_of(a)] or 'root'}) imports {b} (layer {LAYERS[layer_of(b)]})"
        for a, targets in graph.items()
        for b in targets
        if layer_of(b) > layer_of(a)
    ]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_sits_in_a_known_layer() -> None:
    for module in import_graph(PACKAGE):
        parts = module.split(".")
        assert len(parts) <= 3, f"{module}: sub-packages are one level deep"
        if len(parts) == 3:
            assert parts[1] in LAYERS, f"{module}: sub-package {parts[1]!r} is not in the layer order {LAYERS[1:]}"


def test_imports_point_one_way() -> None:
    assert layer_violations(import_graph(PACKAGE)) == []


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph(PACKAGE)) is None


def test_the_checks_catch_a_planted_cycle_and_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "bdgf_nb"
    for folder in ("data", "model"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "a.py").write_text("from bdgf_nb.model.b import f\n")
    (pkg / "model" / "b.py").write_text("def f():\n    from bdgf_nb.data.a import g\n")
    graph = import_graph(pkg)
    assert find_cycle(graph) == ["bdgf_nb.data.a", "bdgf_nb.model.b", "bdgf_nb.data.a"]
    assert layer_violations(graph) == ["bdgf_nb.data.a (layer data) imports bdgf_nb.model.b (layer model)"]


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()))
def test_each_sub_package_says_what_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc and len(doc) > 40, f"bdgf_nb/{package}/__init__.py needs a docstring saying what it holds"


def test_contracts_cover_every_module_and_every_name_a_notebook_imports() -> None:
    """docs/CONTRACTS.md is what `python docs/contracts.py` writes from the current docstrings
    and notebooks: a new module or a new notebook import without it fails here."""
    root = PACKAGE.parent
    spec = importlib.util.spec_from_file_location("contracts", root / "docs" / "contracts.py")
    assert spec is not None and spec.loader is not None
    contracts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contracts)
    cwd = Path.cwd()
    try:
        os.chdir(root)
        expected = contracts.main()
    finally:
        os.chdir(cwd)
    assert (root / "docs" / "CONTRACTS.md").read_text() == expected, (
        "docs/CONTRACTS.md is stale: run `python docs/contracts.py`"
    )
