"""Notebook 03's results table of a finished run, as Markdown for the README.

    python docs/results_tables.py outputs/synthetic/summary.json [more summary.json ...]

The tables are `bdgf_nb.presentation.tables.mean_std_table` and `idea_effects` of the run's
notebook-03 rows, the same calls notebook 03 displays, so the README shows exactly the
notebook's numbers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bdgf_nb.pipeline.records import RECORDS
from bdgf_nb.presentation.tables import idea_effects, mean_std_table

COLUMNS = [
    "OA",
    "OA 95 % CI",
    "ΔOA vs BDGF [95 % CI]",
    "AA",
    "ΔAA vs BDGF [95 % CI]",
    "kappa",
    "Δkappa vs BDGF [95 % CI]",
    "seeds",
]


def markdown(summary_path: Path) -> str:
    summary = json.loads(summary_path.read_text())
    table = mean_std_table(summary[RECORDS.comparison]["rows"], by=["family", "method"])
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for (_, method), row in table.iterrows():
        lines.append(f"| {method} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    ideas = idea_effects(summary[RECORDS.comparison]["rows"])
    effects = [c for c in ideas.columns if c.startswith("Δ")] + ["seeds", "verdict (OA)"]
    lines += ["", "| idea (with minus without) | " + " | ".join(effects) + " |", "|---|" + "---|" * len(effects)]
    for idea, row in ideas.iterrows():
        lines.append(f"| {idea} | " + " | ".join(str(row[c]) for c in effects) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"{path}\n\n{markdown(Path(path))}\n")
