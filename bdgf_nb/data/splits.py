"""Train / test splits of one scene, leaky and leak-free.

Random pixel splits of one scene put a test pixel's neighbours (and most of its patch) into the
training set, which inflates accuracy. We therefore offer, side by side:
- `official_split`: masks shipped with the scene;
- `random_per_class_split`: the conventional fixed count per class (leaky; for comparison only);
- `disjoint_block_split`: whole blocks go to train or test and a buffer removes every test pixel
  whose patch would overlap the patch of any training pixel (the default for reported numbers);
- `group_folds`: scenes made of groups (plots of a tile mosaic, metadata["groups"]) are split by
  whole group in a k-fold (the default for such scenes; the seed picks the fold).
Masks are boolean over the scene grid (H, W), or over the rows (N,) of a pixel scene.

Validation (`with_validation`) is carved from the training region as whole blocks (stripes of
coordinates for pixel scenes, whole groups for grouped scenes), with training pixels near them
removed, so early stopping sees a spatial shift like the test set's instead of the neighbours of
training pixels.

A split that cannot carry a number is refused (`check_measurable`): a class missing from train
or test, or fewer than MIN_TEST test pixels in all; fewer than MIN_TEST_PER_CLASS test pixels of
a class is a warning on the split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.ndimage import maximum_filter
from scipy.spatial import cKDTree
from sklearn.model_selection import StratifiedGroupKFold

from bdgf_nb.data.checks import check
from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.errors import ConfigError, expect


@dataclass(frozen=True)
class Split:
    """Boolean masks over the same grid as the labels; `val` is carved from training pixels."""

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None
    description: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. an allowed unmeasurable split

    def __post_init__(self) -> None:
        check(
            self.train.shape == self.test.shape,
            f"split {self.name!r}: train/test masks differ in shape {self.train.shape} vs {self.test.shape}",
        )
        check(
            not np.any(self.train & self.test),
            f"split {self.name!r}: {int(np.sum(self.train & self.test))} pixels are in both train and test",
        )
        if self.val is not None:
            check(
                self.val.shape == self.train.shape,
                f"split {self.name!r}: val mask shape {self.val.shape}, expected {self.train.shape}",
            )
            check(
                not np.any(self.val & ~self.train),
                f"split {self.name!r}: {int(np.sum(self.val & ~self.train))} "
                "validation pixels lie outside the training mask",
            )

    @property
    def fit(self) -> np.ndarray:
        """Pixels the model is fitted on (training minus the validation hold-out)."""
        return self.train if self.val is None else self.train & ~self.val

    def counts(self) -> dict[str, int]:
        out = {"train": int(self.train.sum()), "test": int(self.test.sum())}
        if self.val is not None:
            out["val"] = int(self.val.sum())
        return out


def official_split(scene: Scene) -> Split:
    check(scene.has_official_split, f"scene {scene.name!r} has no official train/test masks")
    assert scene.train_mask is not None and scene.test_mask is not None
    labelled = scene.gt > 0
    return Split(
        "official", scene.train_mask & labelled, scene.test_mask & labelled, description="masks shipped with the scene"
    )


def random_per_class_split(labels: np.ndarray, per_class: int | float, seed: int = 0) -> Split:
    """Conventional split: `per_class` pixels (an int count, or a float fraction) of each class
    for training, the rest for testing, drawn uniformly at random. Leaky on one scene."""
    expect(
        (isinstance(per_class, int) and per_class >= 1) or (isinstance(per_class, float) and 0.0 < per_class < 1.0),
        ConfigError,
        f"per_class must be an int >= 1 or a float in (0, 1), found {per_class!r}",
    )
    rng = np.random.default_rng(seed)
    flat = labels.ravel()
    train = np.zeros(flat.shape, dtype=bool)
    for cls in np.unique(flat[flat > 0]):
        idx = np.flatnonzero(flat == cls)
        n = per_class if isinstance(per_class, int) else max(1, round(per_class * idx.size))
        n = min(n, idx.size - 1) if idx.size > 1 else idx.size  # keep at least one test pixel
        train[rng.choice(idx, size=n, replace=False)] = True
    train_mask = train.reshape(labels.shape)
    return Split("random", train_mask, (labels > 0) & ~train_mask, description=f"random, {per_class} per class (leaky)")


def buffer_mask(train: np.ndarray, distance: int) -> np.ndarray:
    """Pixels within Chebyshev `distance` of a training pixel (the training pixels included)."""
    if distance <= 0:
        return train.copy()
    return maximum_filter(train.astype(np.uint8), size=2 * distance + 1, mode="constant") > 0


def window_leakage(train: np.ndarray, test: np.ndarray, patch: int) -> float:
    """Share of test pixels whose `patch` x `patch` window (centred) contains a training pixel:
    how much of what a patch model sees at test time it has seen labelled. 0 on a leak-free
    split; NaN without test pixels. Image masks only (H, W)."""
    check(
        train.ndim == 2 and train.shape == test.shape,
        f"window_leakage: expected two (H, W) masks, found {train.shape}, {test.shape}",
    )
    expect(patch >= 1 and patch % 2 == 1, ConfigError, f"patch must be odd and >= 1, found {patch}")
    n_test = int(test.sum())
    if n_test == 0:
        return float("nan")
    return float((buffer_mask(train, patch // 2) & test).sum() / n_test)


def leakage_rows(splits: dict[str, Split], patch: int) -> list[dict[str, object]]:
    """One row per split: its pixel counts and `window_leakage` at `patch` x `patch` (None for a
    pixel table, whose (1, N) masks have no neighbourhood)."""
    rows: list[dict[str, object]] = []
    for name, split in splits.items():
        image = split.train.ndim == 2 and split.train.shape[0] > 1
        share = window_leakage(split.train, split.test, patch) if image else None
        rows.append({"split": name, **split.counts(), "patch": patch, "test_share_window_has_train": share})
    return rows


def disjoint_block_split(
    labels: np.ndarray,
    patch: int,
    block: int = 32,
    test_fraction: float = 0.5,
    seed: int = 0,
    attempts: int = 64,
) -> Split:
    """Spatially disjoint split: blocks of `block` x `block` pixels go wholly to train or test,
    then test pixels closer than `patch` (Chebyshev) to any training pixel are dropped, so no
    test patch overlaps any training patch. Among `attempts` random block assignments we keep
    the one where every class has training and test pixels and per-class test shares are closest
    to `test_fraction` (a class-aware draw; classes missing from either side, or with fewer
    than MIN_TEST_PER_CLASS test pixels, are avoided when a draw allows it)."""
    check(labels.ndim == 2, f"disjoint_block_split needs (H, W) labels, found shape {labels.shape}")
    expect(patch >= 1 and patch % 2 == 1, ConfigError, f"patch must be odd and >= 1, found {patch}")
    expect(block >= 4, ConfigError, f"block must be >= 4 pixels, found {block}")
    expect(0.0 < test_fraction < 1.0, ConfigError, f"test_fraction must be in (0, 1), found {test_fraction}")
    h, w = labels.shape
    expect(
        h >= 2 * block or w >= 2 * block,
        ConfigError,
        f"block {block} too large for a {h}x{w} scene: need at least two blocks",
    )
    rows, cols = -(-h // block), -(-w // block)
    block_id = (np.arange(h)[:, None] // block) * cols + (np.arange(w)[None, :] // block)
    labelled = labels > 0
    classes = np.unique(labels[labelled])
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(attempts):
        is_test_block = rng.random(rows * cols) < test_fraction
        if is_test_block.all() or not is_test_block.any():
            continue
        test_area = is_test_block[block_id]
        train = labelled & ~test_area
        # Patch of a test pixel (radius r) and patch of a train pixel never overlap: distance >= 2r + 1.
        test = labelled & test_area & ~buffer_mask(train, patch - 1)
        share = np.array(
            [np.sum(test & (labels == c)) / max(1, np.sum((train | test) & (labels == c))) for c in classes]
        )
        missing = np.sum([not np.any(train & (labels == c)) or not np.any(test & (labels == c)) for c in classes])
        scarce = np.sum([np.sum(test & (labels == c)) < MIN_TEST_PER_CLASS for c in classes])  # check_measurable's rule
        score = missing * 10.0 + scarce * 5.0 + float(np.abs(share - test_fraction).mean())
        if best is None or score < best[0]:
            best = (score, train, test)
    check(best is not None, "could not draw a block assignment with both train and test blocks")
    assert best is not None
    return Split(
        "disjoint",
        best[1],
        best[2],
        description=f"blocks of {block}px, buffer {patch - 1}px (leak-free for {patch}x{patch} patches)",
    )


def stripe_folds(coords: np.ndarray, image_width: int, n_stripes: int = 6) -> list[Split]:
    """Pixel scenes: cut the image columns into vertical stripes; even stripes train and odd
    stripes test, then the reverse (houston2013 README protocol)."""
    check(coords.ndim == 2 and coords.shape[1] == 2, f"coords must be (N, 2), found {coords.shape}")
    stripe = np.minimum(coords[:, 1] * n_stripes // image_width, n_stripes - 1)
    even = stripe % 2 == 0
    return [
        Split("stripes_even_to_odd", even, ~even, description=f"{n_stripes} column stripes, even train"),
        Split("stripes_odd_to_even", ~even, even, description=f"{n_stripes} column stripes, odd train"),
    ]


N_FOLDS = 5  # plot-disjoint k-fold of the idtrees_mlbs data README's baselines


def _fold_score(counts: np.ndarray, fold: np.ndarray, n_folds: int) -> float:
    """Lower is better. `counts` (G, K) labelled pixels per group and class, `fold` (G,) the test
    fold of each group. A class missing from a fold's training side costs most (it cannot be
    learnt), then one missing from its test side (check_measurable refuses both), then a class
    with fewer than MIN_TEST_PER_CLASS test pixels (coarse), then the distance of per-class test
    shares from 1 / n_folds."""
    test = np.stack([counts[fold == f].sum(0) for f in range(n_folds)])  # (F, K)
    total = counts.sum(0)
    present = total > 0
    train = total - test
    missing_train = int(np.sum((train == 0) & present))
    missing_test = int(np.sum((test == 0) & present))
    scarce = int(np.sum((test < MIN_TEST_PER_CLASS) & present))
    share = test[:, present] / total[present]
    return 100.0 * missing_train + 10.0 * missing_test + scarce + float(np.abs(share - 1.0 / n_folds).mean())


def group_folds(
    labels: np.ndarray, groups: np.ndarray, n_folds: int = N_FOLDS, patch: int = 1, starts: int = 16
) -> list[Split]:
    """Group k-fold: each group (a plot; `groups` > 0, same shape as `labels`) is tested in
    exactly one of `n_folds` folds and trained on in the others, never split; group 0 (mosaic
    padding) is in neither side. Training pixels of fold f are the labelled pixels of the other
    groups; test pixels within Chebyshev `patch` - 1 of a training pixel are dropped (a no-op for
    tiles padded on their own, which lie further apart than any patch reaches).

    The assignment depends on the labels alone (never on a seed or a result): among `starts`
    StratifiedGroupKFold draws (it balances class shares), refined by moving one group at a time
    while that helps, we keep the one that leaves every class in every fold's training side and,
    where the groups allow, in its test side with at least MIN_TEST_PER_CLASS pixels
    (`_fold_score`). A class found in fewer groups than folds cannot be tested in every fold;
    check_measurable then refuses that fold with its per-class counts."""
    check(labels.shape == groups.shape, f"groups must have the labels' shape {labels.shape}, found {groups.shape}")
    expect(patch >= 1 and patch % 2 == 1, ConfigError, f"patch must be odd and >= 1, found {patch}")
    labelled = (labels > 0) & (groups > 0)
    ids = np.unique(groups[labelled])
    expect(n_folds >= 2, ConfigError, f"n_folds must be >= 2, found {n_folds}")
    check(
        ids.size >= n_folds,
        f"group k-fold needs at least n_folds = {n_folds} groups with labelled pixels, found {ids.size}",
    )
    y, g = labels[labelled], np.searchsorted(ids, groups[labelled])  # g: group index 0..G-1
    k = int(y.max())
    counts = np.zeros((ids.size, k + 1), dtype=np.int64)
    np.add.at(counts, (g, y), 1)
    counts = counts[:, 1:]  # (G, K)
    best: tuple[float, np.ndarray] | None = None
    for start in range(starts):
        fold = np.empty(ids.size, dtype=np.int64)
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=start)
        for f, (_, test_idx) in enumerate(splitter.split(np.zeros(y.size), y, g)):
            fold[np.unique(g[test_idx])] = f
        score = _fold_score(counts, fold, n_folds)
        improved = True
        while improved:  # first-improvement moves of one group to another fold
            improved = False
            for i in range(ids.size):
                for f in range(n_folds):
                    if f == fold[i] or np.sum(fold == fold[i]) == 1:
                        continue
                    old, fold[i] = fold[i], f
                    moved = _fold_score(counts, fold, n_folds)
                    if moved < score - 1e-12:
                        score, improved = moved, True
                    else:
                        fold[i] = old
        if best is None or score < best[0]:
            best = (score, fold.copy())
    assert best is not None
    fold = best[1]
    splits = []
    for f in range(n_folds):
        in_test = labelled & np.isin(groups, ids[fold == f])
        train = labelled & ~in_test
        test = in_test & ~buffer_mask(train, patch - 1)
        splits.append(
            Split(
                f"groups_fold{f}",
                train,
                test,
                description=f"group k-fold, fold {f} of {n_folds}: {int(np.sum(fold == f))} of {ids.size} "
                f"labelled groups tested, whole groups only, buffer {patch - 1}px",
            )
        )
    return splits


def drop_unseen_classes(split: Split, labels: np.ndarray) -> Split:
    """Remove test pixels of classes with no training pixel (they cannot be predicted)."""
    seen = np.unique(labels[split.train])
    test = split.test & np.isin(labels, seen)
    return replace(split, test=test)


def _cells(
    shape: tuple[int, ...],
    coords: np.ndarray | None,
    groups: np.ndarray | None,
    train: np.ndarray,
    block: int,
    n_stripes: int,
) -> np.ndarray:
    """Candidate validation regions, an int id per pixel (flat): the `groups` themselves (whole
    plots) when given, square `block` tiles of an (H, W) grid, or, given pixel `coords` (N, 2),
    column stripes holding about equal numbers of training pixels (a column never straddles two
    stripes)."""
    if groups is not None:
        return groups.ravel()
    if coords is not None:
        edges = np.unique(np.quantile(coords[train, 1], np.linspace(0.0, 1.0, n_stripes + 1))[1:-1])
        return np.searchsorted(edges, coords[:, 1], side="right")
    h, w = shape
    return ((np.arange(h)[:, None] // block) * (-(-w // block)) + (np.arange(w)[None, :] // block)).ravel()


def _near(val: np.ndarray, shape: tuple[int, ...], coords: np.ndarray | None, buffer: int) -> np.ndarray:
    """Flat mask of pixels within Chebyshev `buffer` of a validation pixel (on the grid, or in
    coordinate space for pixel scenes)."""
    if coords is None:
        return buffer_mask(val.reshape(shape), buffer).ravel()
    if buffer <= 0 or not val.any():
        return val.copy()
    dist, _ = cKDTree(coords[val]).query(coords, p=np.inf, distance_upper_bound=buffer + 0.5)
    return np.isfinite(dist)


def with_validation(
    split: Split,
    labels: np.ndarray,
    fraction: float = 0.1,
    seed: int = 0,
    patch: int = 1,
    coords: np.ndarray | None = None,
    block: int | None = None,
    buffer: int | None = None,
    attempts: int = 64,
    groups: np.ndarray | None = None,
) -> Split:
    """Carve a spatially separate validation set (about `fraction` of the training pixels) out
    of the training region, for early stopping, model selection and post-hoc fits.

    Whole cells go to validation: `block` x `block` tiles of the grid (default max(8, 2 * patch
    + 1)), or, with pixel `coords` (N, 2) (a 1 x N pixel scene), stripes of the column
    coordinate, or, with `groups` (the labels' shape, e.g. a tile scene's metadata["groups"]),
    whole groups: validation plots are training plots, never part of one. Training pixels within Chebyshev
    `buffer` (default patch // 2) of a validation
    pixel are then dropped, so no validation patch of side `patch` contains a training pixel,
    as the test split's buffer keeps test patches off training pixels. The returned split's
    `train` is `fit | val` (buffer pixels leave it), `val` its validation part, `fit` the rest.
    Among `attempts` draws (cells in random order, or grown around a random cell so fewer
    pixels are lost to the buffer) we keep the one where every training class is in both fit
    and val, per-class val shares are closest to `fraction` and the buffer costs least; a class
    that still misses one side is recorded in `Split.warnings`."""
    expect(0.0 < fraction < 1.0, ConfigError, f"validation fraction must be in (0, 1), found {fraction}")
    expect(patch >= 1 and patch % 2 == 1, ConfigError, f"patch must be odd and >= 1, found {patch}")
    block = max(8, 2 * patch + 1) if block is None else block
    buffer = patch // 2 if buffer is None else buffer
    expect(block >= 1, ConfigError, f"block must be >= 1, found {block}")
    expect(buffer >= 0, ConfigError, f"buffer must be >= 0, found {buffer}")
    shape = split.train.shape
    flat_labels, train = labels.ravel(), split.train.ravel()
    check(flat_labels.size == train.size, f"labels have {flat_labels.size} pixels, the split {train.size}")
    expect(coords is None or groups is None, ConfigError, "give validation cells as coords or as groups, not both")
    if groups is not None:
        check(
            groups.size == train.size, f"groups must have the split's {train.size} pixels, found shape {groups.shape}"
        )
    if coords is not None:
        check(coords.shape == (train.size, 2), f"coords must be (N, 2) with N = {train.size}, found {coords.shape}")
    elif len(shape) == 1:
        shape = (1, train.size)  # rows in their stored order, as the 1 x N layout has them
    classes = np.unique(flat_labels[train])
    n_train = int(train.sum())
    check(n_train >= 2, f"split {split.name!r}: {n_train} training pixels, need at least 2 to hold out validation")
    cell = _cells(shape, coords, groups, train, block, n_stripes=max(10, int(np.ceil(3.0 / fraction))))
    cell_ids = np.unique(cell[train])
    train_per_class = np.array([np.sum(train & (flat_labels == c)) for c in classes])
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    centres = np.array(
        [
            np.argwhere(cell.reshape(shape) == c).mean(0)
            if coords is None
            else [0.0, float(np.median(coords[cell == c, 1]))]
            for c in cell_ids
        ]
    )
    for attempt in range(attempts):
        if attempt % 2 == 0:
            order = rng.permutation(cell_ids.size)
        else:  # a compact cluster around a random cell: less buffer per validation pixel
            d = np.abs(centres - centres[rng.integers(cell_ids.size)]).max(1)
            order = np.argsort(d + rng.random(d.size) * block * 0.5, kind="stable")
        val = np.zeros_like(train)
        for i in order:
            if val.sum() >= fraction * n_train:
                break
            val |= train & (cell == cell_ids[i])
        fit = train & ~_near(val, shape, coords, buffer)
        if not fit.any():
            continue
        val_pc = np.array([np.sum(val & (flat_labels == c)) for c in classes])
        fit_pc = np.array([np.sum(fit & (flat_labels == c)) for c in classes])
        missing = int(np.sum(val_pc == 0) + np.sum(fit_pc == 0))
        lost = 1.0 - (fit.sum() + val.sum()) / n_train
        score = 10.0 * missing + float(np.abs(val_pc / train_per_class - fraction).mean()) + float(lost)
        if best is None or score < best[0]:
            best = (score, fit, val)
    check(
        best is not None,
        f"split {split.name!r}: no validation draw left any training pixel; use a smaller fraction or block",
    )
    assert best is not None
    _, fit, val = best
    warnings = list(split.warnings)
    for c in classes:
        sides = [
            name for name, mask in (("training", fit), ("validation", val)) if not np.any(mask & (flat_labels == c))
        ]
        if sides:
            warnings.append(f"validation carve-out: class {int(c)} has no {' and no '.join(sides)} pixel")
    where = "column stripes" if coords is not None else "whole groups" if groups is not None else f"blocks of {block}px"
    return replace(
        split,
        train=(fit | val).reshape(split.train.shape),
        val=val.reshape(split.train.shape),
        description=f"{split.description}; validation: {where}, "
        f"buffer {buffer}px ({int((train & ~fit & ~val).sum())} training pixels dropped)",
        warnings=warnings,
    )


MIN_TEST = 100  # fewer test pixels in all: refused (OA would move in steps of > 1 point)
MIN_TEST_PER_CLASS = 10  # fewer for a class: a warning (its recall moves in steps of > 10 points)


def class_counts(split: Split, labels: np.ndarray, n_classes: int | None = None) -> dict[str, np.ndarray]:
    """Per-class pixel counts {"train": fit pixels, "val": validation, "test": test}, each (K,)
    for classes 1..K (K = `n_classes`, default the largest label)."""
    k = int(labels.max()) if n_classes is None else n_classes
    flat = labels.ravel()

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(flat[mask.ravel()], minlength=k + 1)[1 : k + 1]

    val = split.val if split.val is not None else np.zeros_like(split.train)
    return {"train": count(split.fit), "val": count(val), "test": count(split.test)}


def _problems(split: Split, labels: np.ndarray, class_names: Sequence[str] | None) -> tuple[list[str], list[str], str]:
    """(what makes `split` unmeasurable, what makes it imprecise, per-class "name: train/val/test")."""
    present = np.unique(labels[labels > 0]).astype(int)
    counts = class_counts(split, labels, int(present.max()) if present.size else 0)
    names = list(class_names or ())
    names += [f"class {c}" for c in range(len(names) + 1, len(counts["test"]) + 1)]
    errors, notes = [], []
    for i in present - 1:
        if counts["train"][i] + counts["val"][i] == 0:
            errors.append(f"{names[i]!r} has no training pixel")
        if counts["test"][i] == 0:
            errors.append(f"{names[i]!r} has no test pixel")
        elif counts["test"][i] < MIN_TEST_PER_CLASS:
            notes.append(
                f"{names[i]!r} has {counts['test'][i]} test pixels (< {MIN_TEST_PER_CLASS}): its accuracy is coarse"
            )
    total = int(counts["test"].sum())
    if total < MIN_TEST:
        errors.append(f"the test set has {total} pixels (< {MIN_TEST})")
    table = "; ".join(f"{names[i]}: {counts['train'][i]}/{counts['val'][i]}/{counts['test'][i]}" for i in present - 1)
    return errors, notes, table


def check_measurable(
    split: Split, labels: np.ndarray, class_names: Sequence[str] | None = None, allow_unmeasurable: bool = False
) -> Split:
    """Refuse (DataError) a split whose test set cannot carry a number: a labelled class with no
    training or no test pixel (AA and the confusion matrix lose it), or fewer than MIN_TEST test
    pixels in all. The message gives per-class train / val / test counts and what to try. With
    `allow_unmeasurable` the split comes back with the message in `warnings`. A class with fewer
    than MIN_TEST_PER_CLASS test pixels is measurable but coarse: always a warning, never an error."""
    errors, notes, table = _problems(split, labels, class_names)
    warnings = [*split.warnings, *(f"split {split.name!r}: {n}" for n in notes)]
    if errors:
        advice = (  # a group fold cannot test a class found in fewer groups than folds, whatever the seed
            f"a class in fewer groups than the {N_FOLDS} folds cannot be tested in every fold: raise the catalog's "
            "gt `min_groups` to the number of folds, or merge rare classes (`rare: other`)"
            if split.name.startswith("groups_fold")
            else "Try smaller blocks (disjoint_block_split(block=...)), "
            "another split seed, or the scene's official masks"
        )
        message = (
            f"split {split.name!r} cannot measure: {', '.join(errors)}. Per-class train/val/test pixels: {table}. "
            f"{advice}; allow_unmeasurable=True goes on with this as a warning"
        )
        check(allow_unmeasurable, message)
        warnings.append(message)
    return replace(split, warnings=warnings) if warnings != split.warnings else split


def measurable_stripe_fold(
    coords: np.ndarray,
    labels: np.ndarray,
    image_width: int,
    class_names: Sequence[str] | None = None,
    stripes: range = range(6, 49),
) -> Split:
    """Pixel scenes: the stripe fold (even -> odd, then odd -> even) with the fewest stripes in
    `stripes` that measures every class (check_measurable), test pixels of unseen classes
    dropped. Chosen from the labels alone, never from results. houston2013's training pixels
    lie in class clusters, so its 6-stripe protocol leaves 4 of 15 classes unmeasured."""
    for n in stripes:
        for fold in stripe_folds(coords, image_width, n):
            candidate = drop_unseen_classes(fold, labels)
            errors, notes, _ = _problems(candidate, labels, class_names)
            if not errors and not notes:
                return replace(
                    candidate, description=f"{candidate.description} (fewest stripes that measure every class)"
                )
    return drop_unseen_classes(stripe_folds(coords, image_width, stripes[0])[0], labels)


SPLIT_PROTOCOLS = ("leak-free", "official")  # a preset's `split` (pipeline/presets.py)


def default_split(
    scene: Scene | PixelScene, patch: int, seed: int = 0, allow_unmeasurable: bool = False, protocol: str = "leak-free"
) -> Split:
    """The split reported numbers use: the scene's own leak-free protocol if it ships one
    (houston2018_west's masks are disjoint bands); for a scene of groups (metadata["groups"],
    e.g. the plots of a tile mosaic) fold `seed` % N_FOLDS of `group_folds`, so seeds 0..4 run
    the 5 folds of one fixed partition; else disjoint blocks; pixel scenes use the even->odd
    stripe fold. `protocol` "official" (the paper preset: what published tables report) takes
    the scene's official masks instead where it ships them (leaky: notebook 00 measures how
    much), else this leak-free split with a warning saying so. Checked by `check_measurable`
    (refused unless `allow_unmeasurable`)."""
    expect(
        protocol in SPLIT_PROTOCOLS,
        ConfigError,
        f"split protocol: expected one of {list(SPLIT_PROTOCOLS)}, found {protocol!r}",
    )
    labels = scene.labels if isinstance(scene, PixelScene) else scene.gt
    official = scene_official_split(scene) if protocol == "official" else None
    split = official if official is not None else _default_split(scene, patch, seed)
    if protocol == "official" and official is None:
        note = f"the official split was asked for, but scene {scene.name!r} ships none: the leak-free split is used"
        split = replace(split, warnings=[*split.warnings, note])
    return check_measurable(split, labels, scene.class_names, allow_unmeasurable)


def scene_official_split(scene: Scene | PixelScene) -> Split | None:
    """The official train / test split the scene ships (a Scene's masks, a pixel scene's parts
    named official_train / official_test, test pixels of unseen classes dropped), None if none."""
    if isinstance(scene, Scene):
        return official_split(scene) if scene.has_official_split else None
    if not {"official_train", "official_test"} <= set(scene.splits):
        return None
    official = Split(
        "official",
        scene.splits["official_train"],
        scene.splits["official_test"],
        description="the dataset's official train/test pixels",
    )
    return drop_unseen_classes(official, scene.labels)


def _default_split(scene: Scene | PixelScene, patch: int, seed: int) -> Split:
    if isinstance(scene, PixelScene):
        # houston2013_lidar: LiDAR-only models are scored on the official split (catalog metadata)
        official = scene_official_split(scene) if scene.metadata.get("default_split") == "official" else None
        if official is not None:
            return official
        return measurable_stripe_fold(scene.coords, scene.labels, scene.image_shape[1], scene.class_names)
    if scene.has_official_split and scene.metadata.get("official_split_is_disjoint", False):
        return official_split(scene)
    if scene.metadata.get("groups") is not None:
        return group_folds(scene.gt, np.asarray(scene.metadata["groups"]), patch=patch)[seed % N_FOLDS]
    block = max(16, min(scene.shape) // 4)
    return disjoint_block_split(scene.gt, patch=patch, block=block, seed=seed)
