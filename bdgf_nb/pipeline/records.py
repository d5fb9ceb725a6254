"""Where runs leave their numbers: one JSON per notebook, merged into summary.json.

Notebooks record through their context (`ctx.record(RECORDS.<notebook>, key, value)`, which
calls `record`); `bdgf-run` merges every notebook's file into `<out_dir>/summary.json`, so a
headless run leaves one machine-readable record, and the library reads it back by the same
names. The results the repository keeps are stored_results.py's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bdgf_nb.storage import atomic_write_json


@dataclass(frozen=True)
class RecordNames:
    """The file (and summary.json key) each notebook records under."""

    data: str = "00_data"
    pretraining: str = "01_pretraining"
    branches: str = "02_branches"
    comparison: str = "03_mutual_learning"
    interpretation: str = "04_interpretation"


RECORDS = RecordNames()


def record(out_dir: str | Path, notebook: str, key: str, value: Any) -> None:
    """Store `value` under `key` in `<out_dir>/results/<notebook>.json` (read-modify-write)."""
    path = Path(out_dir) / "results" / f"{notebook}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    atomic_write_json(data, path)


def load_results(out_dir: str | Path) -> dict[str, Any]:
    """All notebooks' records under `<out_dir>/results/`, keyed by notebook name."""
    folder = Path(out_dir) / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def collect_summaries(root: str | Path, current: str | Path | None = None) -> dict[str, tuple[Path, dict[str, Any]]]:
    """name -> (path, summary) for every `<root>/*/summary.json`; the `current` run's folder is
    read from its per-notebook records instead (its summary.json is written after the last
    notebook, i.e. after the notebook that calls this). The name is the dataset's, with the label
    budget beside it where the run had one (`budget_name`), so a sweep's budgets stay apart."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(Path(root).glob("*/summary.json")):
        summary = json.loads(path.read_text())
        name = budget_name(str(summary.get("dataset", path.parent.name)), summary.get("labels_per_class"))
        found[name] = (path, summary)
    if current is not None and (Path(current) / "results").is_dir():
        records = load_results(current)
        dataset = str(records.get(RECORDS.data, {}).get("dataset", {}).get("name", Path(current).name))
        rows = records.get(RECORDS.comparison, {}).get("rows", [])
        name = budget_name(dataset, rows[0].get("labels_per_class") if rows else None)
        found[name] = (Path(current) / "results", {"dataset": dataset, **records})
    return found


def budget_name(dataset: str, labels_per_class: int | None) -> str:
    """ "houston2018_west", or "houston2018_west, 10 labels / class" for a run under a label budget."""
    return dataset if not labels_per_class else f"{dataset}, {labels_per_class} labels / class"


def comparison_rows(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Notebook 03's result rows of every summary, each tagged with its dataset."""
    return [
        {**row, "dataset": name}
        for name, summary in summaries.items()
        for row in summary.get(RECORDS.comparison, {}).get("rows", [])
    ]
