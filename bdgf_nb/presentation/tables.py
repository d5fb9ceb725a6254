"""Result rows -> readable tables (pandas), shared by notebooks 00, 03 and 05 and the README.

Rows are flat dicts, one per run: the grouping columns (e.g. "family", "method", "dataset"), a
"seed" and the metrics OA / AA / kappa in percent. Over seeds a table gives the mean, the sample
std (ddof = 1), a 95 % Student-t interval and the paired difference to the reference variant
("BDGF") over the seeds both share (analysis/stats.py). One seed prints as "1 seed".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bdgf_nb.analysis.stats import Summary, draw_means, paired_difference, summarize
from bdgf_nb.errors import DataError, expect
from bdgf_nb.metrics import LABELS


def pivot_metrics(rows: Sequence[dict[str, Any]], index: list[str], columns: str) -> pd.DataFrame:
    """OA / AA / kappa (x100) with `columns` values side by side, one decimal."""
    frame = pd.DataFrame(list(rows)).rename(columns=LABELS)
    return frame.pivot_table(index=index, columns=columns, values=list(LABELS.values()), sort=False).round(1)


def _key(keys: Any) -> tuple[Any, ...]:
    return keys if isinstance(keys, tuple) else (keys,)


def seed_statistics(
    rows: Sequence[dict[str, Any]],
    by: Sequence[str],
    reference: str = "BDGF",
    variant: str = "method",
    seed: str = "seed",
    pair_within: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Tidy numbers: one row per group of `by` and metric (OA, AA, kappa) with n, mean, std,
    low, high (t-interval) and the paired difference to the reference, diff_n, diff_mean,
    diff_std, diff_low, diff_high (NaN where the context has no reference row).

    The reference of a group is the group whose `variant` column equals `reference` and whose
    `pair_within` columns match (default: the columns of `by` other than `variant` and
    "family", e.g. "dataset"). Raises DataError when a row has no seed, a seed repeats inside a
    group, or a group shares no seed with its reference."""
    expect(len(rows) > 0, DataError, "seed_statistics: expected result rows, found none")
    frame = pd.DataFrame(list(rows))
    missing = [c for c in (*by, seed, variant) if c not in frame.columns]
    expect(not missing, DataError, f"seed_statistics: rows lack the columns {missing} (have {list(frame.columns)})")
    within = [c for c in by if c not in (variant, "family")] if pair_within is None else list(pair_within)
    per_group: dict[tuple[Any, ...], dict[Any, pd.Series]] = {}
    for keys, group in frame.groupby(list(by), sort=False):
        dupes = group[seed][group[seed].duplicated()].tolist()
        expect(
            not dupes,
            DataError,
            f"group {dict(zip(by, _key(keys), strict=True))}: seeds {dupes} appear more than once; one row per seed",
        )
        per_group[_key(keys)] = group.set_index(seed)
    references: dict[tuple[Any, ...], pd.DataFrame] = {}
    for keys, group in per_group.items():
        named = dict(zip(by, keys, strict=True))
        if named.get(variant) == reference:
            references[tuple(named[c] for c in within)] = group
    out = []
    for keys, group in per_group.items():
        named = dict(zip(by, keys, strict=True))
        ref = references.get(tuple(named[c] for c in within))
        for metric, label in LABELS.items():
            s = summarize(group[metric].to_numpy(), confidence)
            d: Summary | None = None
            if ref is not None:
                d = paired_difference(group[metric].to_dict(), ref[metric].to_dict(), confidence, name=str(named))
            out.append(
                {
                    **named,
                    "metric": label,
                    "n": s.n,
                    "mean": s.mean,
                    "std": s.std,
                    "low": s.low,
                    "high": s.high,
                    "diff_n": d.n if d else 0,
                    "diff_mean": d.mean if d else math.nan,
                    "diff_std": d.std if d else math.nan,
                    "diff_low": d.low if d else math.nan,
                    "diff_high": d.high if d else math.nan,
                }
            )
    return pd.DataFrame(out)


def _mean_std(n: int, mean: float, std: float) -> str:
    return f"{mean:.2f} (1 seed)" if n == 1 else f"{mean:.2f} ± {std:.2f}"


def _interval(n: int, low: float, high: float) -> str:
    return "1 seed" if n == 1 else f"[{low:.2f}, {high:.2f}]"


def _signed_interval(n: int, mean: float, low: float, high: float, unit: str = "seed") -> str:
    """A paired difference as text: "+1.23 [+0.40, +2.06]", or "+1.23 (1 seed)"."""
    return f"{mean:+.2f} (1 {unit})" if n == 1 else f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


def _difference(row: pd.Series, is_reference: bool) -> str:
    if is_reference:
        return "reference"
    if row["diff_n"] == 0:
        return "no reference"
    return _signed_interval(int(row["diff_n"]), row["diff_mean"], row["diff_low"], row["diff_high"])


def mean_std_table(
    rows: Sequence[dict[str, Any]],
    by: list[str],
    reference: str = "BDGF",
    variant: str = "method",
    seed: str = "seed",
    pair_within: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The results table of notebooks 03 / 05 and the README, indexed by `by`: per metric
    "OA" ("mean ± sample std", or "mean (1 seed)"), "OA 95 % CI" (Student t over seeds) and
    "ΔOA vs BDGF [95 % CI]" (paired over shared seeds; "reference" on the reference row), the
    same for AA and kappa, then "seeds" (runs in the group) and "paired seeds"."""
    tidy = seed_statistics(rows, by, reference, variant, seed, pair_within, confidence)
    pct = f"{round(100 * confidence)} %"
    records: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _, row in tidy.iterrows():
        keys = tuple(row[c] for c in by)
        rec = records.setdefault(keys, {})
        label, is_reference = row["metric"], row[variant] == reference
        rec[label] = _mean_std(row["n"], row["mean"], row["std"])
        rec[f"{label} {pct} CI"] = _interval(row["n"], row["low"], row["high"])
        rec[f"Δ{label} vs {reference} [{pct} CI]"] = _difference(row, is_reference)
        rec["seeds"], rec["paired seeds"] = int(row["n"]), int(row["diff_n"])
    index = (
        pd.MultiIndex.from_tuples(list(records), names=list(by))
        if len(by) > 1
        else pd.Index([k[0] for k in records], name=by[0])
    )
    frame = pd.DataFrame(list(records.values()), index=index)
    return frame[[c for c in frame.columns if "seeds" not in c] + ["seeds", "paired seeds"]]


def mean_std_rows(
    rows: Sequence[dict[str, Any]], by: Sequence[str], metric: str = "overall_accuracy", confidence: float = 0.95
) -> list[dict[str, Any]]:
    """[{*by: group keys, metric: mean, metric_std: sample std, metric_low / metric_high: t-interval,
    seeds: n}] per group of `by` columns, first-seen order (bar charts with error bars). With one
    seed the std and the interval are NaN, so no error bar is drawn."""
    grouped = pd.DataFrame(list(rows)).groupby(list(by), sort=False)[metric]
    out = []
    for keys, values in grouped:
        s = summarize(values.to_numpy(), confidence)
        out.append(
            {
                **dict(zip(by, _key(keys), strict=True)),
                metric: s.mean,
                f"{metric}_std": s.std,
                f"{metric}_low": s.low,
                f"{metric}_high": s.high,
                "seeds": s.n,
            }
        )
    return out


# Notebook 03's "what each idea does": each idea of BDGF as a paired contrast of two
# rows of the comparison, (idea, with it, without it). Positive effect = the idea helps.
IDEAS: tuple[tuple[str, str, str], ...] = (
    ("adaptive masking vs no masking", "BDGF", "no masking (DDPM trained without)"),
    ("adaptive vs random masking at the same rate", "BDGF", "random masking at the adaptive rate"),
    ("guidance vs none", "BDGF", "no guidance"),
    ("guidance vs none at equal parameter count", "BDGF", "no guidance, widened to BDGF's size"),
    ("mutual learning vs none", "BDGF", "no mutual learning"),
    ("ensemble rule chosen on validation vs mean", "BDGF, ensemble rule chosen on validation", "BDGF"),
)


# Ideas whose two arms differ by their DDPM: their unit is the DDPM draw, not the model seed
# (docs/PROTOCOL.md, "The DDPM draw as the unit").
DRAW_IDEAS = frozenset({"adaptive masking vs no masking", "adaptive vs random masking at the same rate"})


def _per_seed(rows: Sequence[dict[str, Any]], method: str, metric: str) -> dict[int, float]:
    return {
        int(r["seed"]): float(r[metric])
        for r in rows
        if r["method"] == method and r.get(metric) is not None and math.isfinite(float(r[metric]))
    }


def _per_draw(rows: Sequence[dict[str, Any]], method: str, metric: str) -> dict[int, float]:
    """The mean over the model seeds guided by each DDPM draw (`ddpm_seed`; a row without one
    is its own draw, as rows stored before draws were recorded)."""
    by_draw: dict[int, list[float]] = {}
    for r in rows:
        if r["method"] == method and r.get(metric) is not None and math.isfinite(float(r[metric])):
            by_draw.setdefault(int(r.get("ddpm_seed", r["seed"])), []).append(float(r[metric]))
    return draw_means(by_draw, name=method) if by_draw else {}


def _effect_text(s: Summary) -> str:
    return _signed_interval(s.n, s.mean, s.low, s.high)


def idea_effects(
    rows: Sequence[dict[str, Any]], ideas: Sequence[tuple[str, str, str]] = IDEAS, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per idea whose two methods are both in `rows`: the paired effect (with minus
    without, over the seeds both share; Student t, `stats.paired_difference`) on OA, AA and kappa,
    as "mean [95 % CI]" text, plus the numbers (`<metric> effect`, `<metric> low`, `<metric> high`)
    and a verdict on OA: "helps" / "hurts" where the interval excludes 0, else "cannot tell".
    The ideas of `DRAW_IDEAS` pair DDPM draws (each the mean of its model seeds) instead of
    model seeds: "seeds" then reads "n DDPM draws" and one draw is "1 draw"."""
    records = []
    for idea, with_it, without in ideas:
        draws = idea in DRAW_IDEAS
        per_unit, unit, one = (_per_draw, "DDPM draw", "1 draw") if draws else (_per_seed, "seed", "1 seed")
        with_seeds = {m: per_unit(rows, with_it, m) for m in LABELS}
        without_seeds = {m: per_unit(rows, without, m) for m in LABELS}
        if not (with_seeds["overall_accuracy"] and without_seeds["overall_accuracy"]):
            continue
        record: dict[str, Any] = {"idea": idea, "with": with_it, "without": without}
        for metric, label in LABELS.items():
            s = paired_difference(with_seeds[metric], without_seeds[metric], confidence, name=idea)
            record[f"Δ{label} [{round(100 * confidence)} % CI]"] = _signed_interval(s.n, s.mean, s.low, s.high, unit)
            record.update({f"{label} effect": s.mean, f"{label} low": s.low, f"{label} high": s.high})
            if label == "OA":
                record["seeds"] = f"{s.n} DDPM draw{'s' * (s.n > 1)}" if draws else s.n
                record["verdict (OA)"] = (
                    one if s.n == 1 else "helps" if s.low > 0 else "hurts" if s.high < 0 else "cannot tell"
                )
        records.append(record)
    expect(
        bool(records),
        DataError,
        f"idea_effects: no idea has both of its methods in the rows (methods: {sorted({r['method'] for r in rows})})",
    )
    return pd.DataFrame(records).set_index("idea")


def per_class_effects(
    per_class: dict[tuple[str, int], Sequence[float | None]],
    with_it: str,
    without: str,
    classes: Sequence[int],
    class_names: Sequence[str],
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Paired per-class effect of one idea: `per_class[(method, seed)]` is that run's test
    accuracy per class (%, NaN where the class has no test pixel); for each 0-based class in
    `classes` the with-minus-without difference over shared seeds, mean and t-interval."""

    def accuracies(method: str, c: int) -> dict[int, float]:  # None (JSON's NaN) and NaN: no test pixel
        values = {s: v[c] for (m, s), v in per_class.items() if m == method}
        return {s: float(x) for s, x in values.items() if x is not None and math.isfinite(float(x))}

    records = []
    for c in classes:
        a, b = accuracies(with_it, c), accuracies(without, c)
        if not (a and b and set(a) & set(b)):
            continue
        s = paired_difference(a, b, confidence, name=f"class {class_names[c]}")
        records.append(
            {
                "class": class_names[c],
                f"{with_it} (%)": sum(a.values()) / len(a),
                f"{without} (%)": sum(b.values()) / len(b),
                f"effect [{round(100 * confidence)} % CI]": _effect_text(s),
                "seeds": s.n,
            }
        )
    return pd.DataFrame(records)


def rounded(value: Any, digits: int = 2) -> Any:
    """`value` with every float inside (dicts, lists, tuples) rounded to `digits`, for display:
    a notebook prints 98.82, not 98.817568."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(rounded(v, digits) for v in value)
    return value


def budget_table(summary: Sequence[dict[str, Any]], unit: str = "draw") -> pd.DataFrame:
    """`analysis.probe.budget_summary` rows as a table: mean ± sample std (n draws), its 95 %
    interval, and the paired difference to the reference set with its interval."""
    rows = []
    for r in summary:
        rows.append(
            {
                "labels": r["budget"],
                "features": r["features"],
                "OA": _mean_std(r["draws"], r["mean"], r["std"]),
                "95 % CI": _interval(r["draws"], r["ci_low"], r["ci_high"]),
                "difference to the reference": "reference"
                if "diff" not in r
                else _signed_interval(r["draws"], r["diff"], r["diff_low"], r["diff_high"], unit),
            }
        )
    return pd.DataFrame(rows).set_index(["labels", "features"])


def label_efficiency_table(study: dict[str, Any], metric: str = "oa") -> pd.DataFrame:
    """One row per label budget of a stored label-efficiency study
    (docs/experiments/label_efficiency.py): BDGF as mean ± sample std over seeds, every other
    method as its paired difference to BDGF with the 95 % interval, and where the study was run
    with `--inflation` the best-validation and the best-test point of BDGF's own run, likewise
    as differences (the best test point is how published numbers are selected; not a result)."""
    expect(bool(study.get("budgets")), DataError, "label_efficiency_table: expected a study with budgets, found none")
    records = []
    for budget, entry in study["budgets"].items():
        expect(
            "BDGF" in entry["summary"],
            DataError,
            f"label_efficiency_table: budget {budget} has no BDGF row; found {sorted(entry['summary'])}",
        )
        bdgf = entry["summary"]["BDGF"][metric]
        record: dict[str, Any] = {"labelled px / class": budget}
        record["BDGF"] = _mean_std(bdgf["n"], bdgf["mean"], bdgf["std"])
        summaries = {**entry["summary"], **entry.get("selection", {}).get("summary", {})}
        for method, per_metric in summaries.items():
            if method != "BDGF":
                d = per_metric[metric]["minus_bdgf"]
                record[method] = _signed_interval(d["n"], d["mean"], d["low"], d["high"])
        records.append(record)
    return pd.DataFrame(records).set_index("labelled px / class")
