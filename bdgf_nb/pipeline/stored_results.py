"""The results the repository keeps: notebook 03's rows of a finished run and how it was run
(`StoredResult`), in `results/<name>.json`. `bdgf-results add` stores one from a run's
summary.json; docs/RESULTS.md and the README's headline table are generated from them.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.pipeline.records import RECORDS
from bdgf_nb.presentation.closing import CHAPTER_IDEAS, answer, full_protocol
from bdgf_nb.presentation.report import StoredResult
from bdgf_nb.storage import atomic_write_json

REPOSITORY = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPOSITORY / "results"
# The code a stored result depends on: commits here since its recording make it describe older code.
CODE_FOLDERS = ("bdgf_nb/ddpm", "bdgf_nb/model", "bdgf_nb/train")
# Published models run from their authors' code on the same split (docs/PROTOCOL.md, "Peers on
# houston2018_west"): (name, mean OA, seeds).
PEERS: dict[str, tuple[tuple[str, float, int], ...]] = {
    "houston2018_west": (
        ("two-stream 2-D CNN", 64.96, 3),
        ("MFT (Roy et al., TGRS 2023)", 62.73, 3),
        ("Coupled CNNs (Hang et al., TGRS 2020)", 62.30, 3),
    )
}


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
    parts += ["--labels-per-class", str(summary["labels_per_class"])] if summary.get("labels_per_class") else []
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


def code_changes_since(code: str, folders: tuple[str, ...] = CODE_FOLDERS) -> dict[str, int] | None:
    """folder -> commits that changed it since revision `code` (git rev-list --count), or None
    where there is no git history to ask (an installed copy, an unknown revision)."""
    counts = {}
    for folder in folders:
        try:
            done = subprocess.run(
                ["git", "rev-list", "--count", f"{code}..HEAD", "--", folder],
                cwd=REPOSITORY,
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
            counts[folder] = int(done.stdout.strip())
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
    return counts


def full_protocol_lines(dataset: str, chapter: str, folder: str | Path = RESULTS_DIR) -> list[str]:
    """A chapter's closing cell, its second half: the stored full-protocol verdicts of `dataset` on
    the ideas the chapter teaches (presentation.closing.CHAPTER_IDEAS), with their age."""
    results = load_stored_results(folder)
    changed = {r.name: code_changes_since(r.code) if r.code else None for r in results if r.dataset == dataset}
    return full_protocol(results, dataset, CHAPTER_IDEAS[chapter], changed)


def stored_answer(folder: str | Path = RESULTS_DIR) -> list[str]:
    """Chapter 05's answer from every stored full-protocol result, with the published peers."""
    return answer(load_stored_results(folder), PEERS)


LABEL_EFFICIENCY_DIR = RESULTS_DIR / "label_efficiency"


def label_efficiency_studies(folder: Path = LABEL_EFFICIENCY_DIR) -> dict[str, dict[str, Any]]:
    """dataset -> the stored label-efficiency study (docs/experiments/label_efficiency.py --store)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}


def label_efficiency_curves(study: dict[str, Any], metric: str = "oa") -> dict[str, dict[int, dict[str, float]]]:
    """method -> labelled pixels per class -> {mean, low, high} of `metric` over seeds ("all" left out)."""
    curves: dict[str, dict[int, dict[str, float]]] = {}
    for budget, entry in study["budgets"].items():
        if not budget.isdigit():
            continue
        for method, per_metric in entry["summary"].items():
            s = per_metric[metric]
            curves.setdefault(method, {})[int(budget)] = {"mean": s["mean"], "low": s["low"], "high": s["high"]}
    return curves
