"""`bdgf-run --labels-per-class 5,10,all`: one run per label budget, each into its own subfolder
with its own summary.json, all sharing the dataset folder's checkpoints and caches, listed in
sweep.json; a single value keeps the single run's layout. Notebook execution is faked (it writes
the executed copy and a record, and notes the checkpoint paths its parameters lead to), so no
kernel starts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import papermill
import pytest

from bdgf_nb.cli import run
from bdgf_nb.pipeline.context import DDPMSource
from bdgf_nb.pipeline.parameters import RunParameters
from bdgf_nb.pipeline.records import record


@dataclass
class FakeNotebooks:
    """Each faked notebook run (its notebook, target, parameters and the checkpoints they name);
    the runs of budget `fail_on` raise as a failing cell would."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_on: int | None = None

    def __call__(self, path: Path, target: Path, parameters: dict[str, Any], exclusive: bool = True) -> None:
        ctx = RunParameters.from_namespace(parameters).context()
        self.calls.append(
            {
                "notebook": path.name[:2],
                "target": target,
                "parameters": parameters,
                "ddpm": ctx.ddpm_checkpoint("synthetic", DDPMSource("adaptive", 0)),
                "classifier": ctx.classifier_checkpoint("synthetic", "bdgf", None, 0),
                "cache": ctx.cache_dir,
            }
        )
        if parameters.get("labels_per_class") == self.fail_on:
            raise papermill.PapermillExecutionError(0, 1, "x = 1 / 0", "ZeroDivisionError", "division by zero", [])
        target.write_text("{}")
        record(parameters["out_dir"], "02_branches", "budget", parameters.get("labels_per_class"))


@pytest.fixture
def notebooks(monkeypatch: pytest.MonkeyPatch) -> FakeNotebooks:
    fake = FakeNotebooks()
    monkeypatch.setattr(run, "execute_notebook", fake)
    return fake


@pytest.mark.parametrize(
    ("text", "budgets"),
    [("5,10,25,50,all", (5, 10, 25, 50, 0)), ("all", (0,)), ("0", (0,)), ("7", (7,)), (" 25, all ", (25, 0))],
)
def test_label_budgets_parse_a_list_with_all(text: str, budgets: tuple[int, ...]) -> None:
    assert run.label_budgets(text) == budgets


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5,x", "integers >= 1 or 'all'"),
        ("-3", "integers >= 1 or 'all'"),
        ("", "integers >= 1 or 'all'"),
        ("5,", "integers >= 1 or 'all'"),
        ("0,5", "integers >= 1 or 'all'"),  # 0 means all only alone
        ("5,5", "each budget once"),
        ("all,10,all", "each budget once"),
    ],
)
def test_a_bad_budget_list_fails_before_any_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], notebooks: FakeNotebooks, value: str, expected: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run.main(["--labels-per-class", value, "--notebooks", "02", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    line = f"bdgf-run: error: argument --labels-per-class: expected {expected}"
    assert re.search(re.escape(line) + r".*, found " + re.escape(repr(value)), err), err
    assert "Traceback" not in err and not notebooks.calls and not (tmp_path / "out").exists()


def test_a_sweep_runs_each_budget_into_its_folder_sharing_the_checkpoints(
    tmp_path: Path, notebooks: FakeNotebooks
) -> None:
    argv = ["--labels-per-class", "5,10,all", "--notebooks", "02,03", "--quick", "--out", str(tmp_path)]
    assert run.main(argv) == 0
    folder = (tmp_path / "synthetic").resolve()
    expected_order = [(b, n) for b in ("lpc5", "lpc10", "all") for n in ("02", "03")]
    assert [(c["target"].parent.name, c["notebook"]) for c in notebooks.calls] == expected_order
    assert [c["parameters"]["labels_per_class"] for c in notebooks.calls[::2]] == [5, 10, 0]
    for call in notebooks.calls:
        assert Path(call["parameters"]["out_dir"]) == call["target"].parent and call["target"].parent.parent == folder
        assert call["parameters"]["shared_dir"] == str(folder)
        assert call["ddpm"].parent == folder / "artifacts" and call["cache"] == folder / "cache"
    assert len({c["ddpm"] for c in notebooks.calls}) == 1  # one DDPM for every budget
    assert len({c["classifier"] for c in notebooks.calls}) == 3  # a classifier per budget, side by side in artifacts/
    assert {c["classifier"].parent for c in notebooks.calls} == {folder / "artifacts"}

    sweep = json.loads((folder / "sweep.json").read_text())
    assert [b["folder"] for b in sweep["budgets"]] == ["lpc5", "lpc10", "all"]
    assert [b["labels_per_class"] for b in sweep["budgets"]] == [5, 10, None]
    assert sweep["failed"] is None and sweep["not_run"] == [] and sweep["shared_dir"] == str(folder)
    for budget, lpc in zip(sweep["budgets"], (5, 10, None), strict=True):
        assert budget["summary"] == f"{budget['folder']}/summary.json" and budget["seconds"] >= 0
        summary = json.loads((folder / budget["summary"]).read_text())
        assert summary["labels_per_class"] == lpc and summary["02_branches"] == {"budget": lpc or 0}
        assert summary["shared_dir"] == str(folder)
        assert (folder / budget["folder"] / "02_guided_branches.ipynb").exists()
    assert not (folder / "summary.json").exists() and not (folder / "results").exists()
    assert (folder / ".gitignore").exists()  # the shared folder is a run folder too


def test_a_failing_budget_stops_the_sweep_naming_it_and_keeps_what_finished(
    tmp_path: Path, notebooks: FakeNotebooks
) -> None:
    notebooks.fail_on = 10
    with pytest.raises(SystemExit) as exit_:
        run.main(["--labels-per-class", "5,10,all", "--notebooks", "02", "--quick", "--out", str(tmp_path)])
    message, folder = str(exit_.value), (tmp_path / "synthetic").resolve()
    assert "synthetic: label budget lpc10 failed; finished: ['lpc5'], not run: ['all']" in message
    assert "ZeroDivisionError: division by zero" in message
    sweep = json.loads((folder / "sweep.json").read_text())
    assert [b["folder"] for b in sweep["budgets"]] == ["lpc5"] and sweep["not_run"] == ["all"]
    assert sweep["failed"]["folder"] == "lpc10" and "ZeroDivisionError" in sweep["failed"]["error"]
    assert (folder / "lpc5" / "summary.json").exists() and not (folder / "lpc10" / "summary.json").exists()
    assert not (folder / "all").exists()


@pytest.mark.parametrize(("value", "lpc"), [(None, None), ("0", None), ("all", None), ("5", 5)])
def test_a_single_budget_keeps_the_single_run_layout(
    tmp_path: Path, notebooks: FakeNotebooks, value: str | None, lpc: int | None
) -> None:
    option = [] if value is None else ["--labels-per-class", value]
    assert run.main([*option, "--notebooks", "02", "--quick", "--out", str(tmp_path)]) == 0
    folder = (tmp_path / "synthetic").resolve()
    (call,) = notebooks.calls
    assert call["target"] == folder / "02_guided_branches.ipynb"
    assert call["parameters"]["labels_per_class"] == (lpc or 0) and call["parameters"]["shared_dir"] == ""
    assert call["ddpm"].parent == folder / "artifacts" and call["cache"] == folder / "cache"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["labels_per_class"] == lpc and "shared_dir" not in summary
    assert not (folder / "sweep.json").exists() and [p.name for p in folder.iterdir() if p.is_dir()] == ["results"]


def test_chapter_05_keeps_a_sweeps_budgets_apart(tmp_path):
    import json

    from bdgf_nb.pipeline.records import RECORDS, collect_summaries, comparison_rows, record

    def row(budget):
        return {"method": "BDGF", "seed": 0, "overall_accuracy": 50.0, "labels_per_class": budget, "label_draw": 0}

    for folder, budget in (("lpc5", 5), ("all", None)):
        (tmp_path / folder).mkdir()
        summary = {"dataset": "synthetic", "labels_per_class": budget, RECORDS.comparison: {"rows": [row(budget)]}}
        (tmp_path / folder / "summary.json").write_text(json.dumps(summary))
    record(tmp_path / "lpc10", RECORDS.comparison, "rows", [row(10)])  # the run now executing chapter 05
    record(tmp_path / "lpc10", RECORDS.data, "dataset", {"name": "synthetic"})
    found = collect_summaries(tmp_path, current=tmp_path / "lpc10")
    assert sorted(found) == ["synthetic", "synthetic, 10 labels / class", "synthetic, 5 labels / class"]
    rows = comparison_rows({name: summary for name, (_, summary) in found.items()})
    assert {(r["dataset"], r["labels_per_class"]) for r in rows} == {
        ("synthetic", None),
        ("synthetic, 5 labels / class", 5),
        ("synthetic, 10 labels / class", 10),
    }
