"""Statistics over repeated runs (seeds): mean, sample std, Student-t confidence intervals, and
the paired difference of a variant to a reference run on the same seeds.

A table that says "65.2 ± 0.4 vs 65.1 ± 0.3" over three seeds cannot tell whether an ablation
hurts. Variants of one comparison share their seeds (same split, pixel draw and batch order), so
the per-seed difference cancels the seed-to-seed noise they share; its t-interval is the number a
reviewer reads. Intervals are two-sided, by Student t with n - 1 degrees of freedom:
    mean ± t_{(1 + c) / 2, n - 1} * s / sqrt(n),   s the sample std (ddof = 1).
With one seed there is no std and no interval: both are NaN, and tables print "1 seed".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from bdgf_nb.errors import ConfigError, DataError, expect


@dataclass(frozen=True)
class Summary:
    """mean, sample std (ddof=1) and the `confidence` t-interval of n values; std, low and high
    are NaN when n == 1 (one value has no spread)."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


def summarize(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Summary:
    """Mean, sample std and Student-t interval of `values` (n,), e.g. one metric over seeds."""
    expect(0.0 < confidence < 1.0, ConfigError, f"confidence must be in (0, 1), found {confidence}")
    x = np.asarray(values, dtype=np.float64).ravel()
    expect(x.size >= 1, DataError, "summarize: expected at least one value, found none")
    expect(bool(np.all(np.isfinite(x))), DataError, f"summarize: expected finite values, found {x.tolist()}")
    mean = float(x.mean())
    if x.size == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan, confidence)
    std = float(x.std(ddof=1))
    # t quantile from scipy; std == 0 gives a zero-width interval (not NaN, as ttest_1samp would)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df=x.size - 1)) * std / math.sqrt(x.size)
    return Summary(int(x.size), mean, std, mean - half, mean + half, confidence)


def paired_difference(
    values: Mapping[int, float], reference: Mapping[int, float], confidence: float = 0.95, name: str = "variant"
) -> Summary:
    """Summary of `values[s] - reference[s]` over the seeds s both have (seed -> metric maps).

    Equivalent to scipy.stats.ttest_rel(values, reference).confidence_interval(confidence) on the
    shared seeds. Refuses (DataError) when the two share no seed: unpaired runs cannot be
    compared this way, and pooling them silently would hide the seed noise."""
    shared = sorted(set(values) & set(reference))
    expect(
        len(shared) >= 1,
        DataError,
        f"{name}: no seed in common with the reference (variant seeds {sorted(values)}, reference seeds "
        f"{sorted(reference)}); run both on the same seeds to compare them",
    )
    diff = np.array([values[s] - reference[s] for s in shared], dtype=np.float64)
    return summarize(diff, confidence)


def draw_means(values: Mapping[int, Sequence[float]], name: str = "arm") -> dict[int, float]:
    """Nested runs, reduced to their unit: draw -> the mean of the values measured on that draw.

    Where arms differ by their DDPM, the classifier seeds sharing one DDPM draw are not
    independent replicates of the arm: averaging them within the draw and treating the draws as
    the sample (n = number of draws) gives intervals that respect the nesting (docs/PROTOCOL.md,
    "The DDPM draw as the unit"). Pass the result to `summarize(list(...values()))` or, draw by
    draw, to `paired_difference`."""
    expect(len(values) >= 1, DataError, f"{name}: expected at least one draw, found none")
    empty = sorted(d for d, v in values.items() if len(v) == 0)
    expect(not empty, DataError, f"{name}: draws {empty} hold no value")
    return {int(d): float(np.mean(np.asarray(v, dtype=np.float64))) for d, v in values.items()}
