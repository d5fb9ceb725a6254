"""Every chapter's closing cell: what this run shows, and what the full protocol shows.

A quick run rests on one model seed and one DDPM draw per arm, so its readings rank methods and
resolve nothing; the full protocol (5 paired model seeds, docs/PROTOCOL.md) is kept in
`results/*.json` (`pipeline.stored_results`). The closing cell prints both side by side, each
sentence computed: this run's from its own numbers (the chapter's readers in prose.py), the full
protocol's from the stored rows of the same scene, with when and from which code they were
recorded. Chapter 05 answers "does BDGF work, where, by how much, against the peers" from the same
stored rows (`answer`).

Idea sentences read `tables.idea_effects` rows: "guidance vs none: helps, +2.58 [+1.11, +4.06] OA
points over 5 paired seeds" or, on one seed, "+0.28 OA points on 1 seed: no interval, so not
resolved" (never "(1 seed) (1 seed)").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bdgf_nb.errors import DataError, expect
from bdgf_nb.presentation.prose import shown, versus
from bdgf_nb.presentation.report import StoredResult, bdgf_against_best_baseline
from bdgf_nb.presentation.tables import IDEAS, idea_effects

ALL_IDEAS = tuple(idea for idea, _, _ in IDEAS)
# The ideas each chapter teaches (tables.IDEAS names), read in its closing cell.
CHAPTER_IDEAS: dict[str, tuple[str, ...]] = {
    "01": ("adaptive masking vs no masking", "adaptive vs random masking at the same rate"),
    "02": ("guidance vs none", "guidance vs none at equal parameter count"),
    "03": ALL_IDEAS,
    "04": ("mutual learning vs none", "ensemble rule chosen on validation vs mean"),
    "05": ALL_IDEAS,
}


def _units(row: Mapping[str, Any]) -> str:
    """'5 paired seeds', '1 seed', '2 DDPM draws' from an idea_effects row's "seeds"."""
    seeds = row["seeds"]
    if isinstance(seeds, str):  # DDPM-draw ideas: "2 DDPM draws" / "1 DDPM draw"
        return seeds
    return "1 seed" if int(seeds) == 1 else f"{int(seeds)} paired seeds"


def idea_sentence(idea: str, row: Mapping[str, Any]) -> str:
    """One idea's paired OA effect in words (row: one row of tables.idea_effects)."""
    verdict = str(row["verdict (OA)"])
    if verdict in ("1 seed", "1 draw"):
        return f"{idea}: {row['OA effect']:+.2f} OA points on {_units(row)}: no interval, so not resolved"
    return f"{idea}: {verdict}, {row['ΔOA [95 % CI]']} OA points over {_units(row)}"


def idea_sentences(ideas: pd.DataFrame, names: Sequence[str] = ALL_IDEAS) -> list[str]:
    """The sentences of the `names` ideas present in `ideas` (tables.idea_effects), in that order."""
    return [idea_sentence(name, ideas.loc[name]) for name in names if name in ideas.index]


def versus_best_baseline(rows: Sequence[Mapping[str, Any]]) -> str:
    """BDGF against the baseline of highest mean OA, paired over shared seeds (rows: notebook 03's)."""
    best = bdgf_against_best_baseline(StoredResult("run", "", "", [], "", "", [dict(r) for r in rows]))
    n = best["seeds"]
    difference = f"{best['difference_mean']:+.2f}" if n == 1 else best["difference"]
    units = "1 seed: no interval, so not resolved" if n == 1 else f"{n} paired seeds"
    return (
        f"BDGF ({best['bdgf']['mean']:.2f} OA) minus the best baseline, {best['best']} "
        f"({best['best_oa']:.2f}): {difference} OA points ({units})"
    )


def noise_floor(
    rows: Sequence[Mapping[str, Any]],
    a: str = "no guidance",
    b: str = "no guidance, widened to BDGF's size",
    digits: int = 1,
) -> str | None:
    """Two arms that differ only in width (both unguided) on the run's first seed: their gap is
    a floor for what one seed can tell apart. None when either arm is missing."""
    first = min(int(r["seed"]) for r in rows)
    score = {str(r["method"]): float(r["overall_accuracy"]) for r in rows if int(r["seed"]) == first}
    if a not in score or b not in score:
        return None
    gap = abs(shown(score[a], digits) - shown(score[b], digits))
    quoted = versus(f"“{a}”", score[a], f"“{b}”", score[b], digits)
    return (
        f"Seed noise: {quoted}; the two differ only in "
        f"width (both unguided), so on one seed a gap of about {gap:.{digits}f} points between any two "
        "arms of this table can be noise"
    )


def branch_alone_scores(rows: Sequence[Mapping[str, Any]], branches: Sequence[str], seed: int) -> dict[str, float]:
    """branch -> test OA of that branch trained alone on model seed `seed` (notebook 03's
    "<Branch> branch only" rows; a branch without such a row is left out)."""
    wanted = {f"{b.lower()} branch only": b for b in branches}
    return {
        wanted[str(r["method"]).lower()]: float(r["overall_accuracy"])
        for r in rows
        if str(r["method"]).lower() in wanted and int(r["seed"]) == seed
    }


def branches_inside_and_alone(
    inside: Mapping[str, float], alone: Mapping[str, float], ensemble: float, digits: int = 1
) -> str:
    """Notebook 04: each branch's test OA inside BDGF (trained mutually) against the same branch
    trained alone (chapter 03's "<Branch> branch only" rows): what mutual learning did to it."""
    expect(bool(inside), DataError, "branches_inside_and_alone needs branch accuracies, found none")
    parts = []
    for branch, value in inside.items():
        if branch in alone:
            parts.append(versus(f"{branch} inside BDGF", value, f"{branch} trained alone", alone[branch], digits))
    if not parts:
        return "No branch-alone rows from chapter 03 in this run's records: run chapter 03 to compare."
    return (
        "; ".join(parts)
        + f" (the ensemble: {ensemble:.{digits}f}). A branch that moves far from its lone score was reshaped by "
        "its peers and the shared training, not only averaged with them"
    )


def _age(result: StoredResult, changed: Mapping[str, int] | None) -> str:
    """When and from which code the result was recorded, and what changed since (git counts)."""
    head = f"recorded {result.recorded}" + (f" from code {result.code}" if result.code else "")
    if changed is None:
        return head + "; whether the code changed since cannot be checked here (no git history)"
    moved = {folder: n for folder, n in changed.items() if n}
    if not moved:
        return head + f"; {' and '.join(changed)} unchanged since"
    counts = ", ".join(f"{n} commit{'s' * (n != 1)} to {folder}" for folder, n in moved.items())
    return head + f"; since then {counts}, so these numbers describe older code"


def full_protocol(
    results: Sequence[StoredResult],
    dataset: str,
    ideas: Sequence[str] = ALL_IDEAS,
    changed: Mapping[str, Mapping[str, int] | None] | None = None,
) -> list[str]:
    """The stored full-protocol verdicts of `dataset` (presets other than quick): per result, its
    title and age, BDGF against the best baseline, and the `ideas`. changed: result name -> code
    folder -> commits since the result's code (None: unknown)."""
    stored = [r for r in results if r.dataset == dataset and r.preset != "quick"]
    if not stored:
        kept = sorted({f"{r.dataset} ({r.preset})" for r in results}) or ["none"]
        return [
            f"No full-protocol run of {dataset} is stored in results/ (stored: {', '.join(kept)}). "
            f"`bdgf-run --dataset {dataset} --seeds 5 --notebooks 03 --jobs 2`, then "
            "`bdgf-results add OUT/<dataset>/summary.json`, keeps one"
        ]
    out = []
    for result in stored:
        out.append(f"{result.title} ({_age(result, (changed or {}).get(result.name))}):")
        out.append(versus_best_baseline(result.rows))
        out += idea_sentences(idea_effects(result.rows), ideas)
    return out


def what_it_shows(this_run: Sequence[str], run_units: str, full: Sequence[str]) -> str:
    """The closing cell's text: this run's sentences under their seed count, then the full protocol's."""
    expect(bool(this_run), DataError, "what_it_shows needs at least one sentence about this run, found none")
    lines = [f"What this run shows ({run_units}):"]
    lines += [f"  - {s[0].upper() + s[1:]}{'' if s.endswith(('.', ':')) else '.'}" for s in this_run]
    lines.append("What the full protocol shows (docs/PROTOCOL.md; results/*.json):")
    lines += [
        f"  {s}" if s.endswith(":") else f"    - {s[0].upper() + s[1:]}{'' if s.endswith('.') else '.'}" for s in full
    ]
    return "\n".join(lines)


def run_units(rows: Sequence[Mapping[str, Any]], ddpm_draws: int) -> str:
    """'1 model seed, 1 DDPM draw per masking arm' from notebook 03's rows."""
    seeds = len({int(r["seed"]) for r in rows})
    return (
        f"{seeds} model seed{'s' * (seeds != 1)}, {ddpm_draws} DDPM draw{'s' * (ddpm_draws != 1)} per masking arm"
        + (": it ranks methods and resolves nothing" if seeds == 1 else "")
    )


def answer(
    results: Sequence[StoredResult], peers: Mapping[str, Sequence[tuple[str, float, int]]], digits: int = 2
) -> list[str]:
    """Chapter 05: does BDGF work, where, by how much, against the peers, from the stored
    full-protocol results (one sentence per scene, then one on the paper). peers: dataset ->
    (name, mean OA, seeds) of published models run on the same split (docs/PROTOCOL.md)."""
    out = []
    for result in [r for r in results if r.preset != "quick"]:
        best = bdgf_against_best_baseline(result)
        b, low, high = best["bdgf"], best["difference_low"], best["difference_high"]
        where = "above" if low > 0 else "below" if high < 0 else "level with"
        ideas = idea_effects(result.rows)
        resolved = [f"{i} {r['verdict (OA)']}" for i, r in ideas.iterrows() if r["verdict (OA)"] in ("helps", "hurts")]
        sentence = (
            f"On {result.dataset} ({len(result.seeds)} paired seeds, {result.preset} preset, recorded {result.recorded}"
            + (f" from code {result.code}" if result.code else "")
            + "), BDGF reaches "
            f"{b['mean']:.{digits}f} OA [{b['low']:.{digits}f}, {b['high']:.{digits}f}] and is {where} the best "
            f"baseline, {best['best']} ({best['best_oa']:.{digits}f}): {best['difference']} OA points"
            + (" (the interval holds 0: cannot tell)" if where == "level with" else "")
            + "; ideas resolved: "
            + (", ".join(resolved) or "none")
        )
        for name, oa, seeds in peers.get(result.dataset, ()):
            sentence += (
                "; "
                + versus("BDGF", float(b["mean"]), f"the peer {name}", oa, digits)
                + f" (its mean of {seeds} seeds)"
            )
        out.append(sentence)
    if not out:
        out.append("No full-protocol result is stored in results/, so this chapter cannot answer yet")
    out.append(
        "Against the paper: it is public only as an abstract, with no numbers to compare; docs/METHOD.md is "
        "our design of it"
    )
    return out


def best_classifier(
    rows: Sequence[Mapping[str, Any]],
    probe_rows: Sequence[Mapping[str, Any]] = (),
    reference: str = "BDGF",
    train_pixels: int | None = None,
    max_train_pixels: int | None = None,
    digits: int = 1,
) -> str:
    """The run's best classifier by test OA among notebook 03's methods (seed means) and notebook
    01's linear probes, against `reference`, with what each trained on: the probes fit on all the
    split's training pixels, the neural classifiers on at most `max_train_pixels`."""
    per: dict[str, list[float]] = {}
    for r in rows:
        per.setdefault(str(r["method"]), []).append(float(r["overall_accuracy"]))
    scores = {m: sum(v) / len(v) for m, v in per.items()}
    scores.update(
        {f"the linear probe on {p['features']} (chapter 01)": float(p["overall_accuracy"]) for p in probe_rows}
    )
    expect(reference in scores, DataError, f"best_classifier: no rows of {reference!r}; methods are {sorted(scores)}")
    best = max(scores, key=lambda m: scores[m])
    text = f"the best classifier of this run is {best}"
    text += (
        f"; it ({scores[best]:.{digits}f} OA) is the reference itself"
        if best == reference
        else "; " + versus("it", scores[best], reference, scores[reference], digits)
    )
    if probe_rows and train_pixels:
        cap = f"at most {max_train_pixels:,}" if max_train_pixels else "all of them"
        text += (
            f" (the probes fit on all {train_pixels:,} training pixels of the split, BDGF and its ablations on {cap})"
        )
    return text


def run_findings(dataset: str, summary: Mapping[str, Any], records: Any) -> list[str]:
    """Chapter 05's lines about one run of `dataset`: BDGF against the best baseline, and the best
    classifier (probes included). summary: summary.json's dict (or the current run's records);
    records: pipeline.records.RECORDS (the keys each notebook records under)."""
    comparison = summary.get(records.comparison, {})
    rows = comparison.get("rows", [])
    if not rows:
        return [f"on {dataset}: no notebook-03 rows in this run"]
    split = summary.get(records.data, {}).get("split", {})
    probes = summary.get(records.pretraining, {}).get("linear_probe", [])
    return [
        f"on {dataset}: " + versus_best_baseline(rows),
        f"on {dataset}: "
        + best_classifier(
            rows,
            probes,
            train_pixels=split.get("train"),
            max_train_pixels=comparison.get("settings", {}).get("max_train_pixels"),
        ),
    ]


def training_pixels(train: int, max_train_pixels: int | None, svm_cap: int | None) -> str:
    """What each family of this run's scoreboard trained on: the split's training pixels, the
    neural classifiers' cap (the preset's max_train_pixels), the SVM's cap; the RF and chapter 01's
    linear probes use them all. A method that saw more pixels is not thereby a better method."""

    def cap(n: int | None) -> str:
        return f"at most {min(n, train):,}" if n else f"all {train:,}"

    return (
        f"training pixels: the split holds {train:,}; BDGF, its ablations and the single branches fit on "
        f"{cap(max_train_pixels)} of them, the SVM on {cap(svm_cap)}, the RF and chapter 01's linear probes "
        f"on all {train:,}"
    )
