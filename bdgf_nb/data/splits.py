"""Train / test splits of one scene, leaky and leak-free.

Random pixel splits of one scene put a test pixel's neighbours (and most of its patch) into the
training set, which inflates accuracy. We therefore offer, side by side:
- `official_split`: masks shipped with the scene;
- `random_per_class_split`: the conventional fixed count per class (leaky; for comparison only);
- `disjoint_block_split`: whole blocks go to train or test and a buffer removes every test pixel
  whose patch would overlap the patch of any training pixel (the default for reported numbers).
Masks are boolean over the scene grid (H, W), or over the rows (N,) of a pixel scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter

from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.errors import ConfigError, DataError, expect


@dataclass(frozen=True)
class Split:
    """Boolean masks over the same grid as the labels; `val` is carved from training pixels."""

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None
    description: str = ""

    def __post_init__(self) -> None:
        expect(self.train.shape == self.test.shape, DataError, f"split {self.name!r}: train/test masks differ in shape {self.train.shape} vs {self.test.shape}")
        expect(not np.any(self.train & self.test), DataError, f"split {self.name!r}: {int(np.sum(self.train & self.test))} pixels are in both train and test")

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
    expect(scene.has_official_split, DataError, f"scene {scene.name!r} has no official train/test masks")
    assert scene.train_mask is not None and scene.test_mask is not None
    labelled = scene.gt > 0
    return Split("official", scene.train_mask & labelled, scene.test_mask & labelled, description="masks shipped with the scene")


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
    to `test_fraction` (a class-aware draw; classes missing from either side are reported)."""
    expect(labels.ndim == 2, DataError, f"disjoint_block_split needs (H, W) labels, found shape {labels.shape}")
    expect(patch >= 1 and patch % 2 == 1, ConfigError, f"patch must be odd and >= 1, found {patch}")
    expect(block >= 4, ConfigError, f"block must be >= 4 pixels, found {block}")
    expect(0.0 < test_fraction < 1.0, ConfigError, f"test_fraction must be in (0, 1), found {test_fraction}")
    h, w = labels.shape
    expect(h >= 2 * block or w >= 2 * block, ConfigError, f"block {block} too large for a {h}x{w} scene: need at least two blocks")
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
        share = np.array([np.sum(test & (labels == c)) / max(1, np.sum((train | test) & (labels == c))) for c in classes])
        missing = np.sum([not np.any(train & (labels == c)) or not np.any(test & (labels == c)) for c in classes])
        score = missing * 10.0 + float(np.abs(share - test_fraction).mean())
        if best is None or score < best[0]:
            best = (score, train, test)
    expect(best is not None, DataError, "could not draw a block assignment with both train and test blocks")
    assert best is not None
    return Split("disjoint", best[1], best[2], description=f"blocks of {block}px, buffer {patch - 1}px (leak-free for {patch}x{patch} patches)")


def stripe_folds(coords: np.ndarray, image_width: int, n_stripes: int = 6) -> list[Split]:
    """Pixel scenes: cut the image columns into vertical stripes; even stripes train and odd
    stripes test, then the reverse (houston2013 README protocol)."""
    expect(coords.ndim == 2 and coords.shape[1] == 2, DataError, f"coords must be (N, 2), found {coords.shape}")
    stripe = np.minimum(coords[:, 1] * n_stripes // image_width, n_stripes - 1)
    even = stripe % 2 == 0
    return [
        Split("stripes_even_to_odd", even, ~even, description=f"{n_stripes} column stripes, even train"),
        Split("stripes_odd_to_even", ~even, even, description=f"{n_stripes} column stripes, odd train"),
    ]


def drop_unseen_classes(split: Split, labels: np.ndarray) -> Split:
    """Remove test pixels of classes with no training pixel (they cannot be predicted)."""
    seen = np.unique(labels[split.train])
    test = split.test & np.isin(labels, seen)
    return Split(split.name, split.train, test, split.val, split.description)


def with_validation(split: Split, labels: np.ndarray, fraction: float = 0.1, seed: int = 0) -> Split:
    """Stratified hold-out of `fraction` of the training pixels for early stopping (never the test set)."""
    expect(0.0 < fraction < 1.0, ConfigError, f"validation fraction must be in (0, 1), found {fraction}")
    rng = np.random.default_rng(seed)
    flat_train = split.train.ravel()
    flat_labels = labels.ravel()
    val = np.zeros(flat_train.shape, dtype=bool)
    for cls in np.unique(flat_labels[flat_train]):
        idx = np.flatnonzero(flat_train & (flat_labels == cls))
        n = int(round(fraction * idx.size))
        if idx.size >= 2 and n >= 1:
            val[rng.choice(idx, size=n, replace=False)] = True
    return Split(split.name, split.train, split.test, val.reshape(split.train.shape), split.description)


def default_split(scene: Scene | PixelScene, patch: int, seed: int = 0) -> Split:
    """The split reported numbers use: the scene's own leak-free protocol if it ships one
    (houston2018_west's masks are disjoint bands), else disjoint blocks; pixel scenes use the
    even->odd stripe fold."""
    if isinstance(scene, PixelScene):
        # houston2013_lidar: LiDAR-only models are scored on the official split (catalog metadata)
        if scene.metadata.get("default_split") == "official" and {"official_train", "official_test"} <= set(scene.splits):
            official = Split("official", scene.splits["official_train"], scene.splits["official_test"],
                             description="the dataset's official train/test pixels")
            return drop_unseen_classes(official, scene.labels)
        return drop_unseen_classes(stripe_folds(scene.coords, scene.image_shape[1])[0], scene.labels)
    if scene.has_official_split and scene.metadata.get("official_split_is_disjoint", False):
        return official_split(scene)
    block = max(16, min(scene.shape) // 4)
    return disjoint_block_split(scene.gt, patch=patch, block=block, seed=seed)
