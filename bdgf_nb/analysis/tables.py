"""Result rows -> readable tables (pandas), shared by notebooks 00, 03 and 05."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

METRICS = {"overall_accuracy": "OA", "average_accuracy": "AA", "kappa": "kappa"}


def pivot_metrics(rows: Sequence[dict[str, Any]], index: list[str], columns: str) -> pd.DataFrame:
    """OA / AA / kappa (x100) with `columns` values side by side, one decimal."""
    frame = pd.DataFrame(list(rows)).rename(columns=METRICS)
    return frame.pivot_table(index=index, columns=columns, values=list(METRICS.values()), sort=False).round(1)


def mean_std_table(rows: Sequence[dict[str, Any]], by: list[str]) -> pd.DataFrame:
    """'mean ± std' strings of OA / AA / kappa over the rows of each group (e.g. seeds)."""
    frame = pd.DataFrame(list(rows)).rename(columns=METRICS)
    grouped = frame.groupby(by, sort=False)[list(METRICS.values())]
    mean, std = grouped.mean(), grouped.std(ddof=0).fillna(0.0)
    out = mean.copy().astype(object)
    for col in mean.columns:
        out[col] = [f"{m:.2f} ± {s:.2f}" for m, s in zip(mean[col], std[col], strict=True)]
    out["seeds"] = grouped.size()
    return out


def mean_std_rows(rows: Sequence[dict[str, Any]], by: Sequence[str], metric: str = "overall_accuracy") -> list[dict[str, Any]]:
    """[{*by: group keys, metric: mean, metric_std: std}] per group of `by` columns, first-seen order
    (for bar charts with error bars)."""
    grouped = pd.DataFrame(list(rows)).groupby(list(by), sort=False)[metric]
    out = []
    for keys, values in grouped:
        keys = keys if isinstance(keys, tuple) else (keys,)
        out.append({**dict(zip(by, keys, strict=True)), metric: float(values.mean()), f"{metric}_std": float(values.std(ddof=0))})
    return out
