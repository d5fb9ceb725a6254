"""Where notebooks leave their numbers: one JSON per notebook, merged into summary.json.

Notebooks call `record(out_dir, notebook, key, value)` with the notebook's name from `RECORDS`;
`bdgf-run` merges every notebook's file into `<out_dir>/summary.json`, so a headless run leaves
one machine-readable record, and the library reads it back by the same names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, NaN to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_json_atomic(path: str | Path, data: Any) -> None:
    """`data` made JSON-safe (`_plain`), written atomically (storage.atomic_write_json)."""
    atomic_write_json(_plain(data), path)


def record(out_dir: str | Path, notebook: str, key: str, value: Any) -> None:
    """Store `value` under `key` in `<out_dir>/results/<notebook>.json` (read-modify-write)."""
    path = Path(out_dir) / "results" / f"{notebook}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    write_json_atomic(path, data)


def load_results(out_dir: str | Path) -> dict[str, Any]:
    """All notebooks' records under `<out_dir>/results/`, keyed by notebook name."""
    folder = Path(out_dir) / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def collect_summaries(root: str | Path, current: str | Path | None = None) -> dict[str, tuple[Path, dict[str, Any]]]:
    """dataset -> (path, summary) for every `<root>/*/summary.json`; the `current` run's folder is
    read from its per-notebook records instead (its summary.json is written after the last
    notebook, i.e. after the notebook that calls this)."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(Path(root).glob("*/summary.json")):
        summary = json.loads(path.read_text())
        found[str(summary.get("dataset", path.parent.name))] = (path, summary)
    if current is not None and (Path(current) / "results").is_dir():
        records = load_results(current)
        name = str(records.get(RECORDS.data, {}).get("dataset", {}).get("name", Path(current).name))
        found[name] = (Path(current) / "results", {"dataset": name, **records})
    return found


def comparison_rows(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Notebook 03's result rows of every summary, each tagged with its dataset."""
    return [{**row, "dataset": name} for name, summary in summaries.items() for row in summary.get(RECORDS.comparison, {}).get("rows", [])]
