"""Notebooks stay prose, parameters, a few calls and plots: the logic lives in bdgf_nb, tested."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_STATEMENTS = 12


def logic_statements(source: str) -> int:
    """Statements in a cell, nested ones included, imports and `.show()` calls aside."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt) or isinstance(node, ast.Import | ast.ImportFrom):
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "show":
            continue
        count += 1
    return count


def test_the_counter_counts_nested_logic_and_skips_imports_and_plots() -> None:
    assert (
        logic_statements("import numpy as np\nfig.show()\nx = 1\nfor i in range(3):\n    if i:\n        x += i\n") == 4
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_no_code_cell_holds_more_than_a_few_statements_of_logic(path: Path) -> None:
    """The parameters cell aside: it holds one annotated scalar per RunParameters field the
    chapter reads, no logic (the next test holds it to parameters_cell)."""
    cells = json.loads(path.read_text())["cells"]
    heavy = {
        i: n
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
        and "parameters" not in c["metadata"].get("tags", [])  # declarations, checked against RunParameters below
        and (n := logic_statements("".join(c["source"]))) > MAX_STATEMENTS
    }
    assert not heavy, (
        f"{path.name}: cells {heavy} hold more than {MAX_STATEMENTS} statements; "
        "move the logic into bdgf_nb with a test"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_each_parameters_cell_is_the_one_run_parameters_declares(path: Path) -> None:
    """Run parameters are declared once (pipeline.parameters.RunParameters): a chapter's cell
    holds the fields it reads with their defaults and comments, and builds its context from them."""
    from bdgf_nb.pipeline.parameters import parameters_cell

    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    (cell,) = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    source = "".join(cell["source"])
    declared = [line.split(":")[0] for line in source.splitlines()]
    assert source == parameters_cell(declared), (
        f"{path.name}: regenerate its parameters cell with parameters_cell({declared})"
    )
    assert "ctx = run_context(globals())" in "".join(cells[cells.index(cell) + 1]["source"]), (
        f"{path.name}: the next cell builds the context"
    )
