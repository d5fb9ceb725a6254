"""Linear probes: are the diffusion features worth guiding with? (docs/METHOD.md §2)

A logistic regression on frozen features of a pixel, trained on the training pixels and scored
on the test pixels of the same (leak-free) split. The probe sees the same pixels for every
feature set, so differences come from the features alone: raw standardised channels of the
pixel, raw channels averaged over its 3 x 3 neighbourhood (a fair control: diffusion features
carry spatial context), and the K hierarchical diffusion feature maps concatenated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from bdgf_nb.analysis.stats import paired_difference, summarize
from bdgf_nb.data.sampling import limit_mask, per_class_mask
from bdgf_nb.errors import DataError, expect
from bdgf_nb.metrics import METRICS, classification_report


def pixels_at(maps: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """K maps (G_k, H, W) -> (N, sum G_k) features of the pixels where `mask` is true."""
    expect(len(maps) > 0, DataError, "pixels_at needs at least one feature map, found none")
    for m in maps:
        expect(
            m.shape[1:] == mask.shape, DataError, f"feature map spatial shape {m.shape[1:]} != mask shape {mask.shape}"
        )
    return np.concatenate([m[:, mask].T for m in maps], axis=1)


def neighbourhood_mean(image: np.ndarray, size: int = 3) -> np.ndarray:
    """(C, H, W) -> (C, H, W) mean over a size x size window (reflect at borders)."""
    return uniform_filter(image, size=(1, size, size), mode="reflect")


def linear_probe(
    feature_sets: dict[str, list[np.ndarray]],
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    max_train: int = 4000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One logistic-regression probe per feature set; rows of {features, dims, OA, AA, kappa}.

    feature_sets: name -> list of (G, H, W) maps (a raw image is a one-item list)."""
    rows = probe_scores(feature_sets, labels, train, {"test": test}, n_classes, max_train, seed)
    return [{k: v for k, v in row.items() if k != "where"} for row in rows]


def probe_scores(
    feature_sets: dict[str, list[np.ndarray]],
    labels: np.ndarray,
    train: np.ndarray,
    scored: dict[str, np.ndarray],
    n_classes: int,
    max_train: int = 4000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """`linear_probe` fitted once per feature set and scored on every mask of `scored` (e.g.
    validation and test): rows of {where, features, dims, OA, AA, kappa}."""
    train = limit_mask(train, labels, max_train, seed)  # stratified: the same pixels for every feature set
    rows = []
    for name, maps in feature_sets.items():
        x_train = pixels_at(maps, train)
        scaler = StandardScaler().fit(x_train)
        # class-balanced: on scenes with one dominant class (Houston 2018: 72 %) an unweighted
        # probe predicts that class and every feature set scores alike.
        probe = LogisticRegression(max_iter=2000, C=1.0, class_weight="balanced")
        probe.fit(scaler.transform(x_train), labels[train])
        for where, mask in scored.items():
            predicted = probe.predict(scaler.transform(pixels_at(maps, mask)))
            report = classification_report(labels[mask], predicted, n_classes).to_dict()
            row = {"where": where, "features": name, "dims": int(x_train.shape[1])}
            rows.append(row | {k: report[k] for k in METRICS})
    return rows


def budget_label(per_class: int | None) -> str:
    """How a label budget reads in tables: "10 / class", or "all" (capped by the probe's max_train)."""
    return "all" if per_class is None else f"{per_class} / class"


def budget_probe(
    feature_sets: dict[str, list[np.ndarray]],
    labels: np.ndarray,
    fit: np.ndarray,
    scored: dict[str, np.ndarray],
    n_classes: int,
    budgets: tuple[int | None, ...] = (10, 50),
    draws: int = 5,
    max_train: int = 4000,
) -> list[dict[str, Any]]:
    """The linear probe where labels are scarce: for each budget (labelled pixels per class,
    None: all) and each draw d, `per_class_mask(fit, labels, budget, seed=d)` labels the probe's
    training pixels (the same pixels for every feature set of that draw: paired), and every
    feature set is scored on each mask of `scored` (e.g. {"val": ..., "test": ...}).
    Rows of {budget, draw, where, features, dims, OA, AA, kappa}; `budget_summary` reduces them."""
    expect(draws >= 1, DataError, f"draws must be >= 1, found {draws}")
    rows = []
    for budget in budgets:
        for draw in range(draws):
            train = per_class_mask(fit, labels, budget, seed=draw)
            for row in probe_scores(feature_sets, labels, train, scored, n_classes, max_train, seed=draw):
                rows.append({"budget": budget_label(budget), "draw": draw, **row})
    return rows


def budget_summary(
    rows: list[dict[str, Any]], reference: str, metric: str = "overall_accuracy", where: str = "test"
) -> list[dict[str, Any]]:
    """`budget_probe` rows -> one row per (budget, feature set) scored on `where`: mean, sample
    std and 95 % t-interval of `metric` over the label draws, and the paired difference to the
    `reference` feature set draw by draw (its interval excluding 0 is a resolved difference)."""
    picked = [r for r in rows if r["where"] == where]
    out = []
    for budget in dict.fromkeys(r["budget"] for r in picked):
        at = [r for r in picked if r["budget"] == budget]
        ref = {r["draw"]: r[metric] for r in at if r["features"] == reference}
        for name in dict.fromkeys(r["features"] for r in at):
            values = {r["draw"]: r[metric] for r in at if r["features"] == name}
            s = summarize(list(values.values()))
            row = {"budget": budget, "features": name, "draws": s.n, "mean": s.mean, "std": s.std}
            row.update({"ci_low": s.low, "ci_high": s.high})
            if name != reference and ref:
                d = paired_difference(values, ref, name=name)
                row.update({"diff": d.mean, "diff_low": d.low, "diff_high": d.high})
            out.append(row)
    return out


SCARCE_REFERENCE = "raw 3x3 mean"


def scarce_label_probe(
    image: np.ndarray,
    maps: list[np.ndarray],
    labels: np.ndarray,
    fit: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    budgets: tuple[int | None, ...] = (10, 50),
    draws: int = 5,
) -> list[dict[str, Any]]:
    """Notebook 01's question where labels are scarce: the diffusion features `maps`, alone and
    added to the raw 3 x 3 mean of `image`, against that mean (`SCARCE_REFERENCE`), probed at
    each budget over `draws` label draws and scored on `test` (`budget_summary` rows)."""
    mean3 = neighbourhood_mean(image)
    sets = {SCARCE_REFERENCE: [mean3], "diffusion": maps, "raw 3x3 + diffusion": [mean3, *maps]}
    rows = budget_probe(sets, labels, fit, {"test": test}, n_classes, budgets=budgets, draws=draws)
    return budget_summary(rows, SCARCE_REFERENCE)
