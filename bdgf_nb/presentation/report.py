"""Stored results as Markdown: docs/RESULTS.md and the README's headline table.

A `StoredResult` is notebook 03's rows of one finished run and how it was run (built, read and
written by `pipeline.records`). Its tables are the ones notebook 03 shows (`tables.mean_std_table`,
`tables.idea_effects`), so the documents print exactly the notebook's numbers; `bdgf-results
write` regenerates both documents, and a test holds the committed ones equal to the generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bdgf_nb.presentation.tables import idea_effects, mean_std_table, seed_statistics

HEADLINE_START = "<!-- headline results: written by `bdgf-results write`, do not edit by hand -->"
HEADLINE_END = "<!-- end of headline results -->"


@dataclass(frozen=True)
class StoredResult:
    """Notebook 03's rows of one finished run, and how it was run: the command, the date its
    summary was written, the code it ran (a revision, when the recorder gave one) and the run's
    own wall seconds (the scheduler's trainings and each notebook)."""

    name: str
    dataset: str
    preset: str
    seeds: list[int]
    command: str
    recorded: str
    rows: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, Any] = field(default_factory=dict)
    code: str = ""

    @property
    def title(self) -> str:
        n = len(self.seeds)
        masking = self.settings.get("masking", "adaptive")
        other = f", BDGF's DDPM with {masking} masking" if masking != "adaptive" else ""
        return f"{self.dataset}, {self.preset} preset, {n} paired model seed{'s' if n != 1 else ''}{other}"

    @property
    def cost(self) -> str:
        """The run's wall time in its parts, as it recorded them."""
        parts = []
        if self.seconds.get("scheduler"):
            parts.append(
                f"DDPMs, trainings and baselines {self.seconds['scheduler'] / 60:.1f} min in "
                f"{self.seconds.get('jobs', 1)} one-thread workers"
            )
        parts += [f"notebook {name[:2]} {secs:.0f} s" for name, secs in self.seconds.get("notebooks", {}).items()]
        return ", ".join(parts) or "wall time not recorded"


TABLE_COLUMNS = [
    "OA",
    "OA 95 % CI",
    "ΔOA vs BDGF [95 % CI]",
    "AA",
    "ΔAA vs BDGF [95 % CI]",
    "kappa",
    "Δkappa vs BDGF [95 % CI]",
    "seeds",
]
IDEA_COLUMNS = ["ΔOA [95 % CI]", "ΔAA [95 % CI]", "Δkappa [95 % CI]", "seeds", "verdict (OA)"]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def methods_table(result: StoredResult) -> str:
    """Every method's mean ± std, 95 % CI and paired difference to BDGF (notebook 03's table)."""
    table = mean_std_table(result.rows, by=["family", "method"])
    return markdown_table(
        ["method", *TABLE_COLUMNS],
        [[method, *(row[c] for c in TABLE_COLUMNS)] for (_, method), row in table.iterrows()],
    )


def ideas_table(result: StoredResult) -> str:
    """Each idea's paired effect and verdict (notebook 03's "what each idea does")."""
    ideas = idea_effects(result.rows)
    return markdown_table(
        ["idea (with minus without)", *IDEA_COLUMNS],
        [[idea, *(row[c] for c in IDEA_COLUMNS)] for idea, row in ideas.iterrows()],
    )


def _signed(mean: float, low: float, high: float, n: int) -> str:
    return f"{mean:+.2f} (1 seed)" if n == 1 else f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


def bdgf_against_best_baseline(result: StoredResult) -> dict[str, Any]:
    """BDGF's OA with its interval, the baseline of highest mean OA, and BDGF minus it (paired):
    as text ("difference") and as numbers (difference_mean / _low / _high; NaN bounds on one seed)."""
    tidy = seed_statistics(result.rows, by=["family", "method"])
    oa = tidy[tidy["metric"] == "OA"].set_index("method")
    bdgf = oa.loc["BDGF"]
    baselines = oa[oa["family"] == "baseline"]
    best = baselines["mean"].idxmax()
    row = baselines.loc[best]
    n = int(row["diff_n"])
    return {
        "bdgf": bdgf,
        "best": best,
        "best_oa": float(row["mean"]),
        "difference": _signed(-row["diff_mean"], -row["diff_high"], -row["diff_low"], n),
        "difference_mean": float(-row["diff_mean"]),
        "difference_low": float(-row["diff_high"]),
        "difference_high": float(-row["diff_low"]),
        "seeds": n,
    }


def headline(results: Sequence[StoredResult]) -> str:
    """One column per stored result: BDGF's OA, the best baseline, and every idea's paired OA
    effect with its verdict; then one line per result naming what it resolves."""
    if not results:
        return "No stored results yet: `bdgf-results add OUT/<dataset>/summary.json` keeps one."
    cells: dict[str, dict[str, str]] = {}  # row name -> column title -> cell
    for result in results:
        column = result.title
        best = bdgf_against_best_baseline(result)
        b = best["bdgf"]
        cells.setdefault("BDGF OA [95 % CI]", {})[column] = (
            f"{b['mean']:.2f} (1 seed)" if b["n"] == 1 else f"{b['mean']:.2f} [{b['low']:.2f}, {b['high']:.2f}]"
        )
        cells.setdefault("best baseline: mean OA", {})[column] = f"{best['best']}: {best['best_oa']:.2f}"
        cells.setdefault("BDGF minus best baseline, OA", {})[column] = best["difference"]
        for idea, row in idea_effects(result.rows).iterrows():  # a pixel table has no DDPM ideas
            verdict = "" if row["verdict (OA)"] in ("1 seed", "1 draw") else f", {row['verdict (OA)']}"
            cells.setdefault(str(idea), {})[column] = f"{row['ΔOA [95 % CI]']}{verdict}"
    columns = [r.title for r in results]
    rows = [[name, *(by_column.get(c, "not run") for c in columns)] for name, by_column in cells.items()]
    return markdown_table(["", *columns], rows) + "\n\n" + "\n".join(verdicts(r) for r in results)


def verdicts(result: StoredResult) -> str:
    """One line: which ideas the run resolves (the paired OA interval excludes 0) and which not."""
    ideas = idea_effects(result.rows)
    resolved = [
        f"{idea} {row['verdict (OA)']} ({row['ΔOA [95 % CI]']} OA)"
        for idea, row in ideas.iterrows()
        if row["verdict (OA)"] in ("helps", "hurts")
    ]
    open_ = [str(idea) for idea, row in ideas.iterrows() if row["verdict (OA)"] not in ("helps", "hurts")]
    return (
        f"- **{result.title}**: "
        + ("; ".join(resolved) if resolved else "no idea resolved")
        + (f"; cannot tell: {', '.join(open_)}." if open_ else ".")
    )


def section(result: StoredResult) -> str:
    """One stored result: how it was run, the methods table and the ideas table."""
    ran = f"Recorded {result.recorded}" + (f" from code {result.code}" if result.code else "")
    return "\n\n".join(
        [
            f"## {result.title}",
            f"    {result.command}",
            f"{ran}: {result.cost}. Stored in `results/{result.name}.json`.",
            methods_table(result),
            ideas_table(result),
        ]
    )


def results_document(results: Sequence[StoredResult]) -> str:
    """The whole of docs/RESULTS.md."""
    intro = (
        "# Results\n\nEvery table here is generated by `bdgf-results write` from the stored results in "
        "`results/` (notebook 03's rows of a finished `bdgf-run`; `bdgf-results add OUT/<dataset>/summary.json` "
        "stores one). Mean ± sample std over paired model seeds, Student-t 95 % intervals, and paired "
        'differences to BDGF over the seeds both share; "cannot tell" where the interval holds 0. How a '
        "comparison is made: docs/PROTOCOL.md.\n\n## At a glance\n\n" + headline(results)
    )
    return "\n\n".join([intro, *(section(r) for r in results)]) + "\n"


def replace_headline(readme: str, table: str) -> str:
    """`readme` with the text between the headline markers replaced by `table`."""
    start, end = readme.index(HEADLINE_START) + len(HEADLINE_START), readme.index(HEADLINE_END)
    return readme[:start] + "\n" + table + "\n" + readme[end:]
