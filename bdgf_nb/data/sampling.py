"""One class-stratified subsampler for every place that draws fewer pixels than it has:
training and validation pixels of quick runs, SVM training pixels, probe pixels, points of an
embedding. Same seed, same draw, whatever the caller.
"""

from __future__ import annotations

import numpy as np

from bdgf_nb.data.checks import check
from bdgf_nb.errors import ConfigError, expect


def stratified_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of exactly min(n, N) of the (N,) `labels`, stratified by class.

    Every class first keeps `min(count, floor)` points with `floor = max(1, n // (2 * classes))`,
    so rare classes survive the cut; the rest of the budget is shared in proportion to the
    points each class has left (largest-remainder rounding, exact integer arithmetic).
    All indices when `n >= N`."""
    labels = np.asarray(labels)
    check(labels.ndim == 1, f"labels must be 1-D (N,), found shape {labels.shape}")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    expect(
        n >= len(classes),
        ConfigError,
        f"n must be >= the number of classes ({len(classes)}) so every class keeps a point, found {n}",
    )
    if n >= len(labels):
        return np.arange(len(labels))
    floors = np.minimum(counts, max(1, n // (2 * len(classes))))
    spare = counts - floors
    rest = n - int(floors.sum())
    share, remainder = np.divmod(rest * spare, spare.sum())  # exact shares rest * spare / sum(spare)
    take = floors + share
    # Hand the points lost to rounding down to the largest remainders (ties -> class order).
    take[np.argsort(-remainder, kind="stable")[: rest - int(share.sum())]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(inverse == c), size=int(k), replace=False) for c, k in enumerate(take)]
    return np.sort(np.concatenate(chosen))


def limit_mask(mask: np.ndarray, labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """`mask` (any shape) with at most `limit` of its pixels kept, stratified by `labels` (same
    shape); `limit=None` keeps them all."""
    if limit is None or int(mask.sum()) <= limit:
        return mask
    index = np.flatnonzero(mask.ravel())
    kept = index[stratified_subsample(labels.ravel()[index], limit, seed)]
    out = np.zeros(mask.size, dtype=bool)
    out[kept] = True
    return out.reshape(mask.shape)


def per_class_mask(mask: np.ndarray, labels: np.ndarray, per_class: int | None, seed: int = 0) -> np.ndarray:
    """`mask` with at most `per_class` of its pixels kept in every class (a label budget: "n
    labelled pixels per class"), drawn uniformly within each class with `seed`; a class with
    fewer keeps all it has. `per_class=None` keeps them all. Labels <= 0 (unlabelled) are never
    kept. Each class draws from its own generator (seeded by `seed` and the class), so the draw
    of one class does not depend on which other classes the region holds."""
    expect(mask.shape == labels.shape, ConfigError, f"mask {mask.shape} and labels {labels.shape} must match")
    if per_class is None:
        return mask & (labels > 0)
    expect(per_class >= 1, ConfigError, f"per_class must be >= 1 (or None: all), found {per_class}")
    flat_mask, flat_labels = mask.ravel(), labels.ravel()
    out = np.zeros(mask.size, dtype=bool)
    for c in np.unique(flat_labels[flat_mask]):
        if c <= 0:
            continue
        index = np.flatnonzero(flat_mask & (flat_labels == c))
        rng = np.random.default_rng([seed, int(c)])
        out[rng.choice(index, size=min(per_class, index.size), replace=False)] = True
    return out.reshape(mask.shape)
