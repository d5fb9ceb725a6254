"""Every chapter's exercises can be done from its parameters cell: each `name = value` an exercise
asks for is a parameter that chapter declares, and builds a valid run (config construction, no
training); each exercise states its difficulty, its cost on 2 cores and a folded answer. The one
exercise that edits a cell (03's toy loss with kl_warmup=0.0, which used to divide by zero) is
executed."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from bdgf_nb.pipeline.parameters import RunParameters

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0[1-5]_*.ipynb"))
FIELDS = {f.name for f in fields(RunParameters)}
ASSIGNMENT = re.compile(r"`(\w+) = ([^`]+)`")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def exercises(path: Path) -> str:
    (text,) = [source(c) for c in cells(path) if source(c).startswith("## Exercises")]
    return text


def declared(path: Path) -> list[str]:
    (cell,) = [c for c in cells(path) if "parameters" in c["metadata"].get("tags", [])]
    return [line.split(":")[0] for line in source(cell).splitlines()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_each_exercise_has_a_difficulty_a_cost_and_a_folded_answer(path: Path) -> None:
    items = re.split(r"\n(?=\d\. )", exercises(path))[1:]
    assert len(items) >= 3, f"{path.name}: expected numbered exercises"
    for item in items:
        head = item.splitlines()[0]
        assert re.match(r"\d\. ★{1,3} \*\*", head), f"{path.name}: no difficulty tag in {head!r}"
        assert re.search(r"\((about \d+(\.\d+)? min|seconds)", item), f"{path.name}: no cost in {head!r}"
        assert item.count("<details><summary>Answer</summary>") == 1 and "</details>" in item, (
            f"{path.name}: no folded answer in {head!r}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_exercise_parameters_are_declared_and_build_a_run(path: Path, tmp_path: Path) -> None:
    """Each `name = value` naming a run parameter is one this chapter declares, and the run it
    describes is valid (RunParameters' checks and the RunContext's configs: no training)."""
    names = declared(path)
    asked = [(name, ast.literal_eval(value)) for name, value in ASSIGNMENT.findall(exercises(path)) if name in FIELDS]
    for name, value in asked:
        assert name in names, f"{path.name}: an exercise sets {name!r}, which its parameters cell does not declare"
        params = RunParameters(**{name: value, "out_dir": str(tmp_path)})
        ctx = params.context()
        assert ctx.preset is not None
    if path.name.startswith(("01", "02", "03")):
        assert asked, f"{path.name}: expected exercises run from parameters"


def test_the_exercises_knobs_are_all_used() -> None:
    """The parameters the issue asked for (signal, width, KL weight, entropy matching) each have an
    exercise."""
    asked = {name for path in NOTEBOOKS for name, _ in ASSIGNMENT.findall(exercises(path))}
    assert {"masking_signal", "width", "lambda_kl", "entropy_matching", "seeds", "masking", "seed"} <= asked


def test_the_toy_loss_runs_without_warm_up() -> None:
    """03 exercise 4: the toy cells with kl_warmup=0.0 run, and the hand-written total still
    matches the library (the cells' own assert)."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("03"))
    toy = [source(c) for c in cells(path) if "toy_cfg" in source(c) and c["cell_type"] == "code"]
    assert len(toy) == 2 and "kl_warmup=0.3" in toy[0]
    namespace: dict = {"seed": 0}
    exec(toy[0].replace("kl_warmup=0.3", "kl_warmup=0.0"), namespace)
    exec(toy[1], namespace)
    assert namespace["w_kl"] == 1.0
