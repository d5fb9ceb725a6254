"""The results the repository keeps: notebook 03's rows of a finished run and how it was run
(`StoredResult`), in `results/<name>.json`. `bdgf-results add` stores one from a run's
summary.json; docs/RESULTS.md and the README's headline table are generated from them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.pipeline.records import RECORDS
from bdgf_nb.presentation.report import StoredResult
from bdgf_nb.storage import atomic_write_json

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"


def run_command(summary: dict[str, Any]) -> str:
    """The `bdgf-run` command line that wrote `summary` (its parameters, notebooks and jobs)."""
    parts = ["bdgf-run", "--dataset", str(summary["dataset"])]
    preset = summary.get("preset", "quick" if summary.get("quick") else "full")
    parts += ["--quick"] if preset == "quick" else [] if preset == "full" else ["--preset", preset]
    parts += ["--seed", str(summary["seed"])] if summary.get("seed") else []
    parts += ["--seeds", str(summary["seeds"])] if summary.get("seeds") else []
    parts += ["--masking", str(summary["masking"])] if summary.get("masking", "adaptive") != "adaptive" else []
    parts += (
        ["--masking-signal", str(summary["masking_signal"])]
        if summary.get("masking_signal", "feature") != "feature"
        else []
    )
    parts += ["--width", str(summary["width"])] if summary.get("width") else []
    parts += ["--lambda-kl", f"{summary['lambda_kl']:g}"] if summary.get("lambda_kl", 1.0) != 1.0 else []
    parts += ["--entropy-matching"] if summary.get("entropy_matching") else []
    parts += ["--class-balanced"] if summary.get("class_balanced") else []
    parts += ["--select-on", str(summary["select_on"])] if summary.get("select_on", "kappa") != "kappa" else []
    parts += ["--allow-unmeasurable"] if summary.get("allow_unmeasurable") else []
    parts += ["--catalog", str(summary["catalog"])] if summary.get("catalog") else []
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
    settings = {**comparison.get("settings", {}), "masking": summary.get("masking", "adaptive")}
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
    atomic_write_json(asdict(result), path)
    return path


def load_stored_results(folder: str | Path = RESULTS_DIR) -> list[StoredResult]:
    """Every `results/*.json`, its datasets in the order of the repository's catalog (the
    synthetic default first), then by name."""
    results = [StoredResult(**json.loads(p.read_text())) for p in Path(folder).glob("*.json")]
    order = {name: i for i, name in enumerate(load_catalog())}
    return sorted(results, key=lambda r: (order.get(r.dataset, len(order)), r.name))
