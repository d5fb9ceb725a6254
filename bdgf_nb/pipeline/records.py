"""Where runs leave their numbers: one JSON per notebook, merged into summary.json; and the
results the repository keeps.

Notebooks record through their context (`ctx.record(RECORDS.<notebook>, key, value)`, which
calls `record`); `bdgf-run` merges every notebook's file into `<out_dir>/summary.json`, so a
headless run leaves one machine-readable record, and the library reads it back by the same
names. `StoredResult` is notebook 03's rows of one finished run and how it was run, kept in
`results/<name>.json` (`bdgf-results add`), from which docs/RESULTS.md and the README's
headline table are generated.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.presentation.report import StoredResult
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
    return [
        {**row, "dataset": name}
        for name, summary in summaries.items()
        for row in summary.get(RECORDS.comparison, {}).get("rows", [])
    ]


RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"


def run_command(summary: dict[str, Any]) -> str:
    """The `bdgf-run` command line that wrote `summary` (its parameters, notebooks and jobs)."""
    parts = ["bdgf-run", "--dataset", str(summary["dataset"])]
    preset = summary.get("preset", "quick" if summary.get("quick") else "full")
    parts += ["--quick"] if preset == "quick" else [] if preset == "full" else ["--preset", preset]
    parts += ["--seed", str(summary["seed"])] if summary.get("seed") else []
    parts += ["--seeds", str(summary["seeds"])] if summary.get("seeds") else []
    parts += ["--class-balanced"] if summary.get("class_balanced") else []
    parts += ["--select-on", str(summary["select_on"])] if summary.get("select_on", "kappa") != "kappa" else []
    notebooks = sorted(name[:2] for name in summary.get("notebook_seconds", {}))
    parts += ["--notebooks", ",".join(notebooks)] if notebooks and len(notebooks) < 6 else []
    parts += ["--jobs", str(summary["jobs"])] if summary.get("jobs", 1) > 1 else []
    return " ".join(parts)


def stored_result(summary: dict[str, Any], name: str, recorded: str, code: str = "") -> StoredResult:
    """The result to keep from a finished run's summary.json (it must hold notebook 03's rows)."""
    comparison = summary.get(RECORDS.comparison)
    if not comparison or not comparison.get("rows"):
        raise ValueError(
            f"summary of {summary.get('dataset')!r}: expected notebook 03's rows ({RECORDS.comparison}), found none"
        )
    scheduled = summary.get("scheduled") or {}
    seconds = {
        "scheduler": scheduled.get("seconds"),
        "jobs": summary.get("jobs", 1),
        "notebooks": summary.get("notebook_seconds", {}),
    }
    settings = comparison.get("settings", {})
    return StoredResult(
        name,
        str(summary["dataset"]),
        str(summary.get("preset")),
        list(settings.get("seeds", [])),
        run_command(summary),
        recorded,
        list(comparison["rows"]),
        settings,
        seconds,
        code,
    )


def write_stored_result(result: StoredResult, folder: str | Path = RESULTS_DIR) -> Path:
    path = Path(folder) / f"{result.name}.json"
    write_json_atomic(path, asdict(result))
    return path


def load_stored_results(folder: str | Path = RESULTS_DIR) -> list[StoredResult]:
    """Every `results/*.json`, its datasets in the order of the repository's catalog (the
    synthetic default first), then by name."""
    results = [StoredResult(**json.loads(p.read_text())) for p in Path(folder).glob("*.json")]
    order = {name: i for i, name in enumerate(load_catalog())}
    return sorted(results, key=lambda r: (order.get(r.dataset, len(order)), r.name))
