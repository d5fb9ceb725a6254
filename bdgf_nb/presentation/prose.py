"""Prose computed from numbers: the notebooks' "Reading it" cells.

Every sentence that compares two numbers gets its direction from code, decided on the numbers
AS PRINTED (rounded to `digits`), so a reader can never see "above" next to a smaller number, and
a rerun on another scene or seed rewrites the sentence instead of contradicting it. Two phrase
shapes carry every direction, so one property test covers all chapters:

    "<A> (<a>) is above|below|equal to <B> (<b>) [by <|a - b|> <unit>]"     (`versus`)
    "<what> rises|falls from <x> to <y>" / "<what> stays at <x>"           (`change`)

Chapter readers: `probe_vs_control` (01), `masking_reading` (01), `guidance_effect` (02),
`ensemble_reading` and `cka_reading` (04); `compare` with a confidence interval for any paired
comparison (03, 05); `mean_text` prints "65.2 ± 0.4 (3 seeds)" or "65.2 (1 seed)", never "± 0.00".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bdgf_nb.analysis.stats import paired_difference, summarize
from bdgf_nb.errors import DataError, expect

# CKA words (our convention, stated in every sentence with the number): >= 0.8 "largely
# similar", >= 0.5 "partly similar", below "largely different" (Kornblith et al. 2019 read CKA
# as similarity of representations up to rotation and isotropic scale).
CKA_WORDS = ((0.8, "largely similar"), (0.5, "partly similar"), (-math.inf, "largely different"))


def shown(x: float, digits: int) -> float:
    """x as printed with `digits` decimals (-0.0 becomes 0.0): directions are read from this."""
    value = round(float(x), digits)
    return 0.0 if value == 0 else value


def _fmt(x: float, digits: int) -> str:
    return f"{shown(x, digits):.{digits}f}"


def _finite(**values: float) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(float(v))}
    expect(not bad, DataError, f"reading needs finite numbers, found {bad}")


def versus(name_a: str, a: float, name_b: str, b: float, digits: int = 1, unit: str = "points") -> str:
    """'A (a) is above B (b) by d points' / 'below' / 'equal to B (b)', on the printed values."""
    _finite(a=a, b=b)
    sa, sb = shown(a, digits), shown(b, digits)
    head = f"{name_a} ({_fmt(a, digits)}) is"
    if sa == sb:
        return f"{head} equal to {name_b} ({_fmt(b, digits)}) at this precision"
    gap = f"{abs(sa - sb):.{digits}f}"
    return f"{head} {'above' if sa > sb else 'below'} {name_b} ({_fmt(b, digits)}) by {gap}{' ' + unit if unit else ''}"


def change(what: str, before: float, after: float, digits: int = 2) -> str:
    """'<what> rises from x to y' / 'falls from x to y' / 'stays at x', on the printed values."""
    _finite(before=before, after=after)
    sb, sa = shown(before, digits), shown(after, digits)
    if sa == sb:
        return f"{what} stays at {_fmt(before, digits)}"
    return f"{what} {'rises' if sa > sb else 'falls'} from {_fmt(before, digits)} to {_fmt(after, digits)}"


def compare(
    name_a: str,
    a: float,
    name_b: str,
    b: float,
    unit: str = "OA",
    ci: tuple[float, float] | None = None,
    digits: int = 1,
    confidence: float = 0.95,
) -> str:
    """One sentence: which of two results is higher and, given the `confidence` interval `ci` of
    the paired difference a - b (e.g. stats.paired_difference), whether that is resolved.

    compare("BDGF", 65.2, "no masking", 64.1, ci=(-0.3, 2.5)) -> "By OA, BDGF (65.2) is above no
    masking (64.1) by 1.1 points; the 95 % CI of the difference [-0.3, 2.5] includes zero, so the
    difference is not resolved." An interval whose printed bound is 0.0 counts as including zero."""
    text = f"By {unit}, {versus(name_a, a, name_b, b, digits)}" if unit else versus(name_a, a, name_b, b, digits)
    if ci is None or any(math.isnan(float(v)) for v in ci):
        return text + (" (one seed: no interval, so the difference is not resolved)." if ci is not None else ".")
    lo, hi = shown(min(ci), digits), shown(max(ci), digits)
    interval = f"the {100 * confidence:g} % CI of the difference [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"
    if lo <= 0.0 <= hi:
        return f"{text}; {interval} includes zero, so the difference is not resolved."
    side = "above" if lo > 0 else "below"
    point = shown(a, digits) - shown(b, digits)
    if (point > 0) == (lo > 0) and point != 0:
        return f"{text}; {interval} lies {side} zero, so the difference is resolved at this confidence."
    return f"{text}; {interval} lies {side} zero while the point difference does not: read it with care."


def mean_text(values: Sequence[float], digits: int = 1) -> str:
    """'65.2 ± 0.4 (3 seeds)' (sample std) or '65.2 (1 seed)': one run has no spread to print."""
    s = summarize(values)
    if s.n == 1:
        return f"{_fmt(s.mean, digits)} (1 seed)"
    return f"{_fmt(s.mean, digits)} ± {_fmt(s.std, digits)} ({s.n} seeds)"


def seconds_text(seconds: float) -> str:
    """A training's wall time as printed: "12 s", or "reloaded" for a checkpoint this process
    loaded instead of training (its own seconds are 0: it trained earlier, or in a worker)."""
    return "reloaded" if float(seconds) < 0.05 else f"{float(seconds):.0f} s"


def _best(scores: Mapping[str, float]) -> str:
    expect(len(scores) >= 1, DataError, "reading needs at least one named score, found none")
    return max(scores, key=lambda k: float(scores[k]))


# --- chapter readers ---------------------------------------------------------------------------


def probe_vs_control(
    features: Mapping[str, float], control_name: str, control: float, unit: str = "OA", digits: int = 1
) -> str:
    """Notebook 01: linear-probe scores of diffusion feature sets against a raw-pixel control
    (the 3 x 3 mean of the inputs). Says whether ANY feature set beats the control."""
    _best(features)
    parts = [versus(name, score, control_name, control, digits) for name, score in features.items()]
    above = [n for n, v in features.items() if shown(v, digits) > shown(control, digits)]
    if len(above) == len(features):
        verdict = (
            "every diffusion feature set beats the raw-pixel control, "
            "so the probe shows information beyond local raw means"
        )
    elif above:
        verdict = f"only {', '.join(above)} beats the raw-pixel control, so the evidence for added information is mixed"
    else:
        verdict = (
            "no diffusion feature set beats the raw-pixel control, "
            "so this probe does not show that the diffusion features add information the raw pixels lack"
        )
    return f"Linear probe ({unit}): " + "; ".join(parts) + f". On this run {verdict}."


def guidance_effect(
    branch: str,
    guided: float,
    unguided: float,
    params_guided: int,
    params_unguided: int,
    unit: str = "OA",
    ci: tuple[float, float] | None = None,
    digits: int = 1,
) -> str:
    """Notebook 02: effect of diffusion guidance on one branch, with the parameter confound."""
    expect(
        params_guided > 0 and params_unguided > 0,
        DataError,
        f"parameter counts must be > 0, found {params_guided} and {params_unguided}",
    )
    text = compare(f"guided {branch}", guided, f"unguided {branch}", unguided, unit, ci, digits)
    extra = 100.0 * (params_guided - params_unguided) / params_unguided
    size = (
        f"{abs(extra):.0f} % {'more' if extra >= 0 else 'fewer'} parameters ({params_guided:,} vs {params_unguided:,})"
    )
    sg, su = shown(guided, digits), shown(unguided, digits)
    if sg > su and extra > 0:
        return (
            f"{text} The guided {branch} also has {size}: part of the gain may be capacity; "
            "compare at equal parameter count to separate the two."
        )
    if sg < su and extra > 0:
        return f"{text} The guided {branch} is not better despite {size}."
    return f"{text} The guided {branch} has {size}."


def ensemble_reading(branch_accuracy: Mapping[str, float], ensemble: float, unit: str = "OA", digits: int = 1) -> str:
    """Notebook 04: the ensemble against its best branch (the gain an ensemble must earn)."""
    best = _best(branch_accuracy)
    text = versus("the ensemble", ensemble, f"its best branch {best}", branch_accuracy[best], digits)
    gain = shown(ensemble, digits) - shown(branch_accuracy[best], digits)
    verdict = (
        "averaging the branches helped"
        if gain > 0
        else "averaging the branches cost accuracy"
        if gain < 0
        else "averaging the branches changed nothing"
    )
    return f"By {unit}, {text}: {verdict} on this run."


def cka_reading(mean_cka: float, ensemble_gain: float, digits: int = 2) -> str:
    """Notebook 04: mean off-diagonal linear CKA of the branch features with the ensemble gain
    (points over the best branch): complementarity is claimed only if the gain is positive."""
    _finite(mean_cka=mean_cka, ensemble_gain=ensemble_gain)
    c = shown(mean_cka, digits)
    words = next(w for threshold, w in CKA_WORDS if c >= threshold)
    gain = shown(ensemble_gain, 1)
    ensemble = (
        f"the ensemble is {abs(gain):.1f} points {'above' if gain > 0 else 'below'} its best branch"
        if gain != 0
        else "the ensemble is equal to its best branch at this precision"
    )
    verdict = (
        "so the branches' differences pay off in the ensemble"
        if gain > 0
        else "so this run shows no complementarity that the ensemble exploits"
    )
    return (
        f"Mean linear CKA between branch features is {_fmt(mean_cka, digits)} "
        "(1 = the same representation up to rotation "
        f"and scale; >= 0.8 we call largely similar, < 0.5 largely different): the branches learn {words} features, "
        f"and {ensemble}, {verdict}."
    )


def masking_reading(
    arms: Mapping[str, Mapping[str, float]],
    modalities: Sequence[str],
    reference: str = "none",
    loss_key: str = "loss_{}",
    eps: float = 0.02,
    digits: int = 3,
) -> str:
    """Notebook 01: what masking did to balance. arms: masking mode -> final-epoch record with
    `dominance_gap`, `reliance_<m>` and optionally `loss_key.format(m)` (lower = better).
    Compares every arm with `reference`; names modalities relied on below `eps` in every arm
    (masking.MaskingConfig.reliance_eps: "not relied on")."""
    expect(
        reference in arms and len(arms) >= 2,
        DataError,
        f"arms must hold the reference {reference!r} and one more, found {list(arms)}",
    )
    base = arms[reference]
    label = {arm: "no masking" if arm == "none" else f"{arm} masking" for arm in arms}
    sentences = []
    for arm, record in arms.items():
        if arm == reference:
            continue
        gap = versus(
            f"under {label[arm]} the dominance gap",
            record["dominance_gap"],
            f"that under {label[reference]}",
            base["dominance_gap"],
            digits,
            unit="",
        )
        closer = shown(record["dominance_gap"], digits) < shown(base["dominance_gap"], digits)
        further = shown(record["dominance_gap"], digits) > shown(base["dominance_gap"], digits)
        sentences.append(
            gap
            + (
                ": closer to balance (0 = balanced)"
                if closer
                else ": further from balance (0 = balanced)"
                if further
                else ""
            )
        )
        sentences.append(
            "; ".join(
                change(f"reliance on {m}", base[f"reliance_{m}"], record[f"reliance_{m}"], digits) for m in modalities
            )
            + f" ({label[reference]} -> {label[arm]})"
        )
        losses = [m for m in modalities if loss_key.format(m) in record and loss_key.format(m) in base]
        if losses:
            sentences.append(
                "; ".join(
                    change(f"the {m} loss", base[loss_key.format(m)], record[loss_key.format(m)], 3) for m in losses
                )
                + f" ({label[reference]} -> {label[arm]}; lower is better)"
            )
    ignored = [m for m in modalities if all(float(r[f"reliance_{m}"]) < eps for r in arms.values())]
    if ignored:
        sentences.append(
            f"In every arm the reliance on {', '.join(ignored)} stays below {eps:g}: "
            "the denoiser barely uses it, whatever the masking"
        )
    return " ".join(s[0].upper() + s[1:] + "." for s in sentences)


# --- readers over result rows (notebooks 00, 01, 03, 05) -----------------------------


def baseline_reading(
    rows: Sequence[Mapping[str, Any]],
    leak_free: str,
    leaky: Sequence[str] = ("official", "random"),
    metric: str = "overall_accuracy",
    digits: int = 1,
) -> str:
    """Notebook 00: per baseline model on the `leak_free` split, the fused modalities (the name
    joined by "+") against the best single modality; then the fused row on each `leaky` split
    present in `rows` against `leak_free` (the inflation the official split, where the scene
    ships one, and a random split add). rows: baseline_table's, with `split`, `method`,
    `modalities` and `metric`."""

    def score(split: str, method: str, modalities: str) -> float | None:
        hits = [
            float(r[metric]) for r in rows if (r["split"], r["method"], r["modalities"]) == (split, method, modalities)
        ]
        return hits[0] if hits else None

    sentences = []
    for method in dict.fromkeys(str(r["method"]) for r in rows):
        names = [str(r["modalities"]) for r in rows if r["split"] == leak_free and r["method"] == method]
        fused = [n for n in names if "+" in n]
        single = {n: score(leak_free, method, n) for n in names if "+" not in n}
        if fused and single:
            best = max(single, key=lambda n: float(single[n] or 0.0))
            sentences.append(
                f"{method}, leak-free split: "
                + versus(
                    f"fused {fused[0]}",
                    score(leak_free, method, fused[0]) or 0.0,
                    f"the best single modality {best}",
                    single[best] or 0.0,
                    digits,
                )
            )
            for other in leaky:
                leaked = score(other, method, fused[0]) if other != leak_free else None
                if leaked is not None:
                    sentences.append(
                        f"{method}, fused: "
                        + versus(
                            f"the {other} split",
                            leaked,
                            "the leak-free split",
                            score(leak_free, method, fused[0]) or 0.0,
                            digits,
                        )
                    )
    expect(
        bool(sentences),
        DataError,
        f"baseline_reading needs fused and single-modality rows on split {leak_free!r}, found {len(rows)} rows",
    )
    return " ".join(s + "." for s in sentences)


def masking_schedule_reading(
    history: Sequence[Mapping[str, float]], modalities: Sequence[str], p_max: float, digits: int = 2
) -> str:
    """Notebook 01: how p_mask of each modality moved over pretraining (first -> last epoch) and
    for how many epochs it sat at the cap p_max (a saturated rule no longer follows the balance)."""
    expect(len(history) >= 1, DataError, "masking_schedule_reading needs at least one epoch of history, found none")
    parts = []
    for m in modalities:
        key = f"p_mask_{m}"
        if key not in history[0]:
            continue
        values = [float(h[key]) for h in history]
        capped = sum(shown(v, digits) >= shown(p_max, digits) for v in values)
        parts.append(
            change(f"p_mask({m})", values[0], values[-1], digits)
            + f" (epoch 1 -> {len(values)}; at the cap p_max = {p_max:g} in {capped} of {len(values)} epochs)"
        )
    expect(
        bool(parts),
        DataError,
        f"masking_schedule_reading: no p_mask_<m> for modalities {list(modalities)} in the history",
    )
    return "; ".join(parts) + "."  # starts with the code name p_mask(m), left lower-case


def feature_balance_reading(rows: Sequence[Mapping[str, Any]], reference: str = "none", digits: int = 2) -> str:
    """Notebook 01: feature balance (min R^2 / max R^2, 1 = balanced) of each masking arm against
    `reference`. rows: {"masking": arm, "feature_balance": value, ...}; NaN balances are named."""
    by = {str(r["masking"]): float(r["feature_balance"]) for r in rows}
    expect(
        reference in by and len(by) >= 2,
        DataError,
        f"rows must hold the reference {reference!r} and one more arm, found {list(by)}",
    )
    out = []
    for arm, value in by.items():
        if arm == reference:
            continue
        if not (math.isfinite(value) and math.isfinite(by[reference])):
            out.append(f"The feature balance of {arm} or {reference} is undefined (no modality recoverable)")
            continue
        text = versus(
            f"the feature balance under {arm} masking", value, f"that under {reference}", by[reference], digits, unit=""
        )
        higher, lower = (
            shown(value, digits) > shown(by[reference], digits),
            shown(value, digits) < shown(by[reference], digits),
        )
        out.append(
            text[0].upper()
            + text[1:]
            + (
                ": the features are closer to balanced (1 = balanced)"
                if higher
                else ": the features are further from balanced (1 = balanced)"
                if lower
                else ""
            )
        )
    return " ".join(s + "." for s in out)


def under_carried_reading(
    rows: Sequence[Mapping[str, Any]], reference: str = "none", digits: int = 2, spectral: str | None = None
) -> str:
    """Notebook 01: which modality the features of the `reference` arm carry least (lowest held-out
    R^2, `feature_r2_<m>`), and how every masking arm moves that modality's R^2 (the premise of
    masking: it should raise it). rows: {"masking": arm, "feature_r2_<m>": value, ...}.
    `spectral` (the scene's first modality, e.g. "hsi"): say whether the features are dominated by
    it, as the paper's premise (an HSI-dominated DDPM) expects, or carry another modality better."""
    by = {
        str(r["masking"]): {k[len("feature_r2_") :]: float(v) for k, v in r.items() if k.startswith("feature_r2_")}
        for r in rows
    }
    expect(
        reference in by and len(by[reference]) >= 2,
        DataError,
        f"rows must hold the reference {reference!r} with >= 2 feature_r2_<m> values, found {by}",
    )
    r2 = by[reference]
    _finite(**r2)
    under = min(r2, key=lambda m: r2[m])
    over = max(r2, key=lambda m: r2[m])
    out = [
        f"Without masking the features carry {under} least (R² {_fmt(r2[under], digits)} against "
        f"{_fmt(r2[over], digits)} for {over}): {under} is the under-carried modality of this run"
    ]
    if spectral is not None and spectral in r2 and shown(r2[under], digits) < shown(r2[over], digits):
        out[0] += (
            f", so the features carry {over} better than the spectral image {spectral}: the opposite of the "
            "HSI-dominated DDPM the paper warns of, and masking's job on this run is to raise the HSI's R²"
            if under == spectral
            else f", so the features are dominated by the spectral image {spectral}, as the paper's premise expects"
        )
    for arm, values in by.items():
        if arm != reference and under in values:
            out.append(change(f"under {arm} masking its R²", r2[under], values[under], digits))
    return ". ".join(s[0].upper() + s[1:] for s in out) + "."


def paired_readings(
    rows: Sequence[Mapping[str, Any]],
    reference: str = "BDGF",
    metric: str = "overall_accuracy",
    digits: int = 1,
    confidence: float = 0.95,
) -> list[str]:
    """Notebooks 03 / 05: one `compare` sentence per method against `reference`, on the seeds the
    two share (rows: {"method", "seed", metric}); the interval is stats.paired_difference's.
    One seed: "(one seed: no interval ...)". The reference's own line uses `mean_text`."""
    per: dict[str, dict[int, float]] = {}
    for r in rows:
        per.setdefault(str(r["method"]), {})[int(r["seed"])] = float(r[metric])
    expect(
        reference in per,
        DataError,
        f"paired_readings: no rows of the reference {reference!r}; methods are {sorted(per)}",
    )
    out = [f"{reference}: {mean_text(list(per[reference].values()), digits)}."]
    for method, values in per.items():
        if method == reference or not set(values) & set(per[reference]):
            continue
        diff = paired_difference(values, per[reference], confidence, name=method)
        shared = sorted(set(values) & set(per[reference]))
        a, b = sum(values[s] for s in shared) / len(shared), sum(per[reference][s] for s in shared) / len(shared)
        out.append(
            compare(method, a, reference, b, unit="", ci=(diff.low, diff.high), digits=digits, confidence=confidence)
        )
    return out


def best_method(
    rows: Sequence[Mapping[str, Any]], family: str, metric: str = "overall_accuracy", digits: int = 1
) -> str:
    """The method of `family` with the highest seed-mean `metric`, in words: 'the best baseline
    on this run is SVM (97.4 (1 seed))'. rows: {"family", "method", "seed", metric}."""
    per: dict[str, list[float]] = {}
    for r in rows:
        if r.get("family") == family:
            per.setdefault(str(r["method"]), []).append(float(r[metric]))
    expect(bool(per), DataError, f"best_method: no rows of family {family!r}")
    best = max(per, key=lambda m: sum(per[m]) / len(per[m]))
    return f"the best {family} on this run by {metric.replace('_', ' ')} is {best}: {mean_text(per[best], digits)}"


def quick_flags(summaries: Mapping[str, Mapping[str, Any]], current: str, quick: bool) -> dict[str, object]:
    """Notebook 05: dataset -> its summary's "quick" flag. The current run has no summary.json
    yet (it is written after the last notebook), so its flag is this notebook's `quick`."""
    return {name: summary.get("quick", quick if name == current else None) for name, summary in summaries.items()}


def budget_probe_reading(summary: Sequence[Mapping[str, Any]], reference: str, unit: str = "OA") -> str:
    """Notebook 01, labels scarce: per budget, each feature set against `reference` (the raw
    3 x 3 mean) with the paired interval over label draws (`analysis.probe.budget_summary` rows)."""
    expect(len(summary) > 0, DataError, "budget_probe_reading: expected summary rows, found none")
    sentences = []
    for row in summary:
        if row["features"] == reference:
            continue
        ref = next(r for r in summary if r["budget"] == row["budget"] and r["features"] == reference)
        ci = (row["diff_low"], row["diff_high"])
        head = f"At {row['budget']} ({row['draws']} label draws): "
        sentences.append(head + compare(row["features"], row["mean"], reference, ref["mean"], unit, ci=ci))
    return "\n".join(sentences)


def label_efficiency_reading(study: Mapping[str, Any], metric: str = "oa", unit: str = "OA") -> str:
    """Per budget of a label-efficiency study: BDGF against its unguided twin, the peers' two-stream
    CNN (where the study has it) and the best other method, each with the paired interval over
    seeds (method - BDGF, read from BDGF's side)."""
    sentences = []
    for budget, entry in study["budgets"].items():
        summary = entry["summary"]
        bdgf = summary["BDGF"][metric]
        others = {m: v[metric] for m, v in summary.items() if m != "BDGF"}
        expect(len(others) > 0, DataError, "label_efficiency_reading: expected methods beside BDGF, found none")
        best = max(others, key=lambda m: others[m]["mean"])
        named = [m for m in others if m.startswith(("no guidance", "two-stream"))]  # the twin, the best peer
        picked = dict.fromkeys([*named, best])
        for method in picked:
            d = others[method]["minus_bdgf"]
            text = compare("BDGF", bdgf["mean"], method, others[method]["mean"], unit, ci=(-d["high"], -d["low"]))
            sentences.append(f"{budget} labelled px / class ({bdgf['n']} seeds): {text}")
    return "\n".join(sentences)


def selection_inflation_reading(study: Mapping[str, Any], metric: str = "oa", unit: str = "OA") -> str:
    """Per budget of a label-efficiency study run with `--inflation`: what choosing BDGF's
    weights at the best test point (as published peers do) would have reported instead of the
    protocol's last weights, with the paired interval; "" when the study has no such rows."""
    sentences = []
    for budget, entry in study["budgets"].items():
        selection = entry.get("selection")
        if not selection:
            continue
        bdgf = entry["summary"]["BDGF"][metric]
        best = next(v[metric] for m, v in selection["summary"].items() if m.startswith("BDGF, best test point"))
        val = next(v[metric] for m, v in selection["summary"].items() if m.startswith("BDGF, best validation point"))
        d, dv = best["minus_bdgf"], val["minus_bdgf"]
        sentences.append(
            f"{budget} labelled px / class ({d['n']} seeds): the best test point would report {unit} "
            f"{best['mean']:.1f} for BDGF's {bdgf['mean']:.1f} ({d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}]): "
            f"an inflation from selecting on test, not skill; the best validation point gives {dv['mean']:+.1f} "
            f"[{dv['low']:+.1f}, {dv['high']:+.1f}]."
        )
    return "\n".join(sentences)


def label_efficiency_verdict(name: str, study: Mapping[str, Any], metric: str = "oa") -> str:
    """One sentence per scene: the budgets at which BDGF beats, and is beaten by, its unguided twin
    and the peers' two-stream CNN, each with a paired 95 % interval excluding 0; "at none" says so."""
    clauses = []
    for prefix in ("no guidance", "two-stream"):
        wins, losses, seen = [], [], None
        for budget, entry in study["budgets"].items():
            method = next((m for m in entry["summary"] if m.startswith(prefix)), None)
            if method is None:
                continue
            seen = method
            d = entry["summary"][method][metric]["minus_bdgf"]
            if d["high"] < 0:
                wins.append(budget)
            elif d["low"] > 0:
                losses.append(budget)
        if seen is None:
            continue
        text = f"beats {seen} at {_budgets(wins)}"
        clauses.append(text + (f" and loses to it at {_budgets(losses)}" if losses else ""))
    expect(bool(clauses), DataError, f"label_efficiency_verdict: {name} has neither the twin nor the two-stream CNN")
    return f"On {name}, BDGF " + "; it ".join(clauses) + " (paired 95 % intervals excluding 0)."


def _budgets(budgets: Sequence[str]) -> str:
    if not budgets:
        return "no budget"
    listed = budgets[0] if len(budgets) == 1 else ", ".join(budgets[:-1]) + f" and {budgets[-1]}"
    return f"{listed} labelled px / class"
