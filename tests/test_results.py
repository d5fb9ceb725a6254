"""Stored results -> docs/RESULTS.md and the README's headline table: the committed documents are
the ones `bdgf-results write` generates, so the README's headline numbers are the stored runs'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bdgf_nb.cli import results as cli
from bdgf_nb.pipeline.stored_results import (
    load_stored_results,
    run_command,
    stored_result,
    write_stored_result,
)
from bdgf_nb.presentation.report import HEADLINE_END, HEADLINE_START, headline, results_document


def rows(seeds: int = 3) -> list[dict]:
    """Notebook-03 rows of a made-up run: BDGF, its ideas' variants and two baselines."""
    out = []
    for seed in range(seeds):
        for method, family, oa in (
            ("BDGF", "BDGF / ablation", 80.0),
            ("no guidance", "BDGF / ablation", 76.0),
            ("no guidance, widened to BDGF's size", "BDGF / ablation", 75.0),
            ("no mutual learning", "BDGF / ablation", 80.5),
            ("SVM (centre)", "baseline", 70.0),
            ("SVM (patch stats)", "baseline", 79.0),
        ):
            value = oa + (seed - 1) * (0.5 if method != "no mutual learning" else -1.5)
            out.append(
                {
                    "method": method,
                    "family": family,
                    "seed": seed,
                    "overall_accuracy": value,
                    "average_accuracy": value - 5,
                    "kappa": value - 10,
                }
            )
    return out


def summary(seeds: int = 3) -> dict:
    return {
        "dataset": "synthetic",
        "quick": False,
        "preset": "full",
        "seed": 0,
        "seeds": seeds,
        "class_balanced": False,
        "select_on": "kappa",
        "jobs": 2,
        "scheduled": {"seconds": 600.0},
        "notebook_seconds": {"03_mutual_learning": 40.0},
        "03_mutual_learning": {"rows": rows(seeds), "settings": {"seeds": list(range(seeds))}},
    }


def test_the_committed_documents_are_the_generated_ones() -> None:
    """README's headline numbers equal the generated ones, and docs/RESULTS.md is current."""
    wanted = cli.documents()
    for path, text in wanted.items():
        assert path.read_text() == text, f"{path.name} is stale: run `bdgf-results write`"
    readme = cli.README.read_text()
    assert readme.index(HEADLINE_START) < readme.index(HEADLINE_END)
    protocol = [r for r in load_stored_results() if r.preset != "quick"]
    assert headline(protocol) in readme and all(r.title in readme for r in protocol)


def test_a_summary_is_stored_with_its_command_and_read_back(tmp_path: Path) -> None:
    result = stored_result(summary(), "synthetic_full_3seeds", "2026-01-01", code="abc1234")
    assert result.command == "bdgf-run --dataset synthetic --seeds 3 --notebooks 03 --jobs 2"
    assert (
        result.seeds == [0, 1, 2]
        and "10.0 min in 2 one-thread workers" in result.cost
        and "notebook 03 40 s" in result.cost
    )
    write_stored_result(result, tmp_path)
    (again,) = load_stored_results(tmp_path)
    assert again == result


def test_the_document_carries_the_tables_and_the_verdicts() -> None:
    text = results_document([stored_result(summary(), "x", "2026-01-01")])
    assert "| BDGF | 80.00 ± 0.50 | [78.76, 81.24] | reference |" in text
    assert "| guidance vs none | +4.00 [+4.00, +4.00] |" in text  # paired over the seeds: a constant difference
    assert "guidance vs none helps (+4.00 [+4.00, +4.00] OA)" in text
    assert "cannot tell: mutual learning vs none" in text
    assert "SVM (patch stats): 79.00" in text and "| BDGF minus best baseline, OA | +1.00 [+1.00, +1.00] |" in text


def test_commands_follow_the_summary() -> None:
    quick = {
        "dataset": "houston2018_west",
        "preset": "quick",
        "seed": 1,
        "seeds": 0,
        "jobs": 1,
        "notebook_seconds": {f"0{i}_x": 1.0 for i in range(6)},
        "select_on": "aa",
        "class_balanced": True,
    }
    assert run_command(quick) == "bdgf-run --dataset houston2018_west --quick --seed 1 --class-balanced --select-on aa"
    assert run_command({"dataset": "s", "preset": "paper"}) == "bdgf-run --dataset s --preset paper"


def test_adding_a_summary_without_notebook_03_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"dataset": "synthetic", "preset": "quick"}))
    assert cli.main(["add", str(path)]) == 2
    assert "expected notebook 03's rows" in capsys.readouterr().err


def test_a_run_without_some_ideas_keeps_every_figure_in_its_own_column() -> None:
    """A pixel table has no DDPM, so its run lacks the guidance rows: the other run's figures
    must stay under their own title."""
    full = stored_result(summary(), "a", "2026-01-01")
    no_ddpm = [r for r in rows() if r["method"] not in ("no guidance", "no guidance, widened to BDGF's size")]
    pixels = stored_result(
        {
            **summary(),
            "dataset": "houston2013",
            "03_mutual_learning": {"rows": no_ddpm, "settings": {"seeds": [0, 1, 2]}},
        },
        "b",
        "2026-01-01",
    )
    table = headline([pixels, full]).split("\n")
    guidance = next(line for line in table if line.startswith("| guidance vs none |"))
    assert guidance == "| guidance vs none | not run | +4.00 [+4.00, +4.00], helps |"
