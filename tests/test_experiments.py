"""The wing for experiments (docs/experiments/): every script imports without running anything,
answers `--help` with the question it answers, uses only public names of `bdgf_nb`, and has a row
in docs/experiments/README.md (and every row names a script that exists)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "docs" / "experiments"
SCRIPTS = sorted(EXPERIMENTS.glob("*.py"))
ROW = re.compile(r"^\|\s*\[([\w.-]+\.py)\]\(([\w./-]+)\)\s*\|")  # | [name.py](name.py) | ...


@pytest.fixture(scope="module")
def helps() -> dict[str, subprocess.CompletedProcess[str]]:
    """`python SCRIPT --help` of every script, from the repo root, a few at a time (each one
    imports torch and the library: about 3 s)."""

    def run(script: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) + 1)) as pool:
        return dict(zip((s.name for s in SCRIPTS), pool.map(run, SCRIPTS), strict=True))


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 10, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__": main()`, nothing more."""
    return (
        isinstance(node, ast.If)
        and ast.unparse(node.test) in ("__name__ == '__main__'", '__name__ == "__main__"')
        and not node.orelse
        and [ast.unparse(s) for s in node.body] == ["main()"]
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_imports_without_running(script: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """At module level a script only imports and defines (constants included), then calls main()
    under the __main__ guard; loaded as a module it writes nothing. Its folder is on sys.path, as
    when it runs (sys.path[0]), so it may import a neighbour."""
    tree = ast.parse(script.read_text(), filename=str(script))
    doings = [
        f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}"
        for node in tree.body[1:]
        if not isinstance(
            node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign
        )
        and not is_main_guard(node)
    ]
    assert not doings, f"{script.name} does work at module level: {doings}"
    assert any(is_main_guard(node) for node in tree.body), f'{script.name}: no `if __name__ == "__main__": main()`'
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    monkeypatch.chdir(tmp_path)  # the scripts write under the working directory (outputs/experiments/...)
    spec = importlib.util.spec_from_file_location(f"experiment_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None)), f"{script.name}: no main()"
    assert module.__doc__, f"{script.name}: no docstring"
    assert not list(tmp_path.iterdir()), f"{script.name}: importing it wrote {list(tmp_path.iterdir())}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_states_the_question(script: Path, helps: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = helps[script.name]
    assert done.returncode == 0, f"{script.name} --help exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert done.stdout.strip(), f"{script.name} --help printed nothing"
    question = (ast.get_docstring(ast.parse(script.read_text())) or "").splitlines()[0]
    assert question.endswith("?"), (
        f"{script.name}: the docstring's first line should be the question it answers, found {question!r}"
    )
    assert question in " ".join(done.stdout.split()), f"{script.name}: --help does not state the question {question!r}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_uses_only_public_library_names(script: Path) -> None:
    """No `from bdgf_nb... import _name`, no private module on the way, and no `name._attr` on a
    name imported from the library (`openmp._x`, `bdgf_nb.cli._y`)."""
    tree = ast.parse(script.read_text(), filename=str(script))
    private, library_names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bdgf_nb":
            private += [
                f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")
            ]
            private += [
                f"line {node.lineno}: module {node.module}" for part in node.module.split(".") if part.startswith("_")
            ]
            library_names |= {a.asname or a.name for a in node.names}
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "bdgf_nb":
                    private += [
                        f"line {node.lineno}: module {a.name}" for part in a.name.split(".") if part.startswith("_")
                    ]
                    library_names.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in library_names:
                private.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not private, f"{script.name} uses private names of bdgf_nb: {private}"


def test_every_script_has_a_row_and_every_row_a_script() -> None:
    rows = [ROW.match(line) for line in (EXPERIMENTS / "README.md").read_text().splitlines()]
    named = [m.group(1) for m in rows if m]
    assert all(m.group(1) == m.group(2) for m in rows if m), "a row's link text and target differ"
    assert len(named) == len(set(named)), (
        f"scripts with more than one row: {sorted(n for n in named if named.count(n) > 1)}"
    )
    scripts = {s.name for s in SCRIPTS}
    assert not scripts - set(named), (
        f"scripts without a row in docs/experiments/README.md: {sorted(scripts - set(named))}"
    )
    assert not set(named) - scripts, f"rows naming no script: {sorted(set(named) - scripts)}"
