import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdgf_nb.data.splits import (
    Split,
    check_measurable,
    default_split,
    disjoint_block_split,
    group_folds,
    random_per_class_split,
    stripe_folds,
    with_validation,
)
from bdgf_nb.errors import ConfigError, DataError


def blobs(h=96, w=96, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, n_classes + 1, size=(h // 8, w // 8)).repeat(8, 0).repeat(8, 1)
    labels[rng.random((h, w)) < 0.2] = 0
    return labels


def min_train_test_distance(split: Split) -> int:
    """Smallest Chebyshev distance between any training and any test pixel (brute force)."""
    tr, te = np.argwhere(split.train), np.argwhere(split.test)
    return int(np.abs(tr[:, None, :] - te[None, :, :]).max(-1).min())


@settings(max_examples=15, deadline=None)
@given(patch=st.sampled_from([1, 3, 5, 7, 11]), seed=st.integers(0, 1000))
def test_disjoint_split_patches_never_overlap(patch, seed):
    labels = blobs(64, 64, seed=seed % 5)
    split = disjoint_block_split(labels, patch=patch, block=16, seed=seed)
    assert split.train.any() and split.test.any()
    # Two p x p patches overlap iff centres are closer than p (Chebyshev).
    assert min_train_test_distance(split) >= patch
    assert not np.any(split.train & split.test)
    assert np.all(labels[split.train | split.test] > 0)


def test_disjoint_split_covers_every_class_and_is_seeded():
    labels = blobs()
    a = disjoint_block_split(labels, patch=5, block=16, seed=3)
    b = disjoint_block_split(labels, patch=5, block=16, seed=3)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    for cls in range(1, 5):
        assert np.any(a.train & (labels == cls)) and np.any(a.test & (labels == cls))


def test_random_split_is_leaky_but_counts_right():
    labels = blobs()
    split = random_per_class_split(labels, 20, seed=0)
    for cls in range(1, 5):
        assert np.sum(split.train & (labels == cls)) == 20
    assert split.test.sum() == (labels > 0).sum() - 80
    assert min_train_test_distance(split) <= 1  # neighbours of training pixels are tested: leakage


def min_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Smallest Chebyshev distance between any pixel of mask a and any of mask b."""
    pa, pb = np.argwhere(a), np.argwhere(b)
    return int(np.abs(pa[:, None, :] - pb[None, :, :]).max(-1).min())


@settings(max_examples=15, deadline=None)
@given(patch=st.sampled_from([1, 3, 5, 7, 11]), seed=st.integers(0, 1000), fraction=st.sampled_from([0.1, 0.2, 0.3]))
def test_validation_blocks_never_see_a_training_pixel(patch, seed, fraction):
    """The test-split property for validation: no validation pixel's patch window contains a
    fitted training pixel; val and fit are disjoint and inside the original training region."""
    labels = blobs(96, 96, seed=seed % 5)
    base = disjoint_block_split(labels, patch=patch, block=16, seed=seed)
    split = with_validation(base, labels, fraction=fraction, seed=seed, patch=patch)
    assert split.val is not None and split.val.any() and split.fit.any()
    assert not np.any(split.val & split.fit)
    assert not np.any((split.val | split.fit) & ~base.train)
    assert np.array_equal(split.train, split.val | split.fit) and np.array_equal(split.test, base.test)
    assert min_distance(split.val, split.fit) > patch // 2  # window of side patch: radius patch // 2


def test_validation_is_blocks_not_scattered_pixels_and_keeps_classes():
    labels = blobs()
    base = disjoint_block_split(labels, patch=5, block=16, seed=0)
    split = with_validation(base, labels, fraction=0.2, seed=0, patch=5)
    assert split.val is not None and not split.warnings
    for cls in range(1, 5):
        assert np.any(split.val & (labels == cls)) and np.any(split.fit & (labels == cls))
    assert 0.1 < split.val.sum() / base.train.sum() < 0.35
    # spatial: a random 20 % hold-out has a training neighbour next to almost every val pixel
    assert min_distance(split.val, split.fit) >= 3
    again = with_validation(base, labels, fraction=0.2, seed=0, patch=5)
    assert np.array_equal(again.val, split.val)


def test_pixel_scene_validation_is_stripes_of_coordinates():
    rng = np.random.default_rng(0)
    n = 600
    coords = np.stack([rng.integers(0, 50, n), rng.integers(0, 300, n)], 1)
    labels = rng.integers(1, 4, n)
    base = Split("all", np.ones(n, bool), np.zeros(n, bool))
    split = with_validation(base, labels[None], fraction=0.2, seed=1, coords=coords)
    assert split.val is not None
    val_cols, fit_cols = set(coords[split.val, 1]), set(coords[split.fit, 1])
    assert val_cols and fit_cols and not val_cols & fit_cols  # a column is wholly val or wholly fit
    assert 0.1 < split.val.mean() < 0.35


def test_validation_arguments_are_checked():
    labels = blobs()
    base = disjoint_block_split(labels, patch=5, block=16, seed=0)
    with pytest.raises(ConfigError, match=r"validation fraction must be in \(0, 1\), found 1.5"):
        with_validation(base, labels, fraction=1.5)
    with pytest.raises(DataError, match=r"coords must be \(N, 2\)"):
        with_validation(base, labels, coords=np.zeros((3, 2)))
    with pytest.raises(DataError, match="validation pixels lie outside the training mask"):
        Split("bad", np.zeros(3, bool), np.zeros(3, bool), np.ones(3, bool))


def test_unmeasurable_split_is_refused_with_counts_or_warned_when_allowed():
    labels = np.zeros((40, 40), int)
    labels[:, :20], labels[:, 20:] = 1, 2
    labels[:5, :5] = 3  # class 3 only in the training corner
    train = np.zeros_like(labels, bool)
    train[:, :25] = True
    split = Split("halves", train & (labels > 0), ~train & (labels > 0))
    with pytest.raises(
        DataError,
        match=r"'a' has no test pixel, 'c' has no test pixel.*Per-class train/val/test pixels: "
        r"a: 775/0/0; b: 200/0/600; c: 25/0/0.*smaller blocks",
    ):
        check_measurable(split, labels, ("a", "b", "c"))
    allowed = check_measurable(split, labels, ("a", "b", "c"), allow_unmeasurable=True)
    assert len(allowed.warnings) == 1 and "cannot measure" in allowed.warnings[0]
    few = Split("few", labels == 1, (labels == 2) & (np.arange(40)[None, :] == 39) & (np.arange(40)[:, None] < 8))
    with pytest.raises(DataError, match=r"'b' has no training pixel.*test set has 8 pixels \(< 100\)"):
        check_measurable(few, labels, ("a", "b", "c"))
    corner = (np.arange(40)[:, None] < 8) & (np.arange(40)[None, :] >= 4)  # holds column 4 of class c
    coarse = Split("coarse", (labels > 0) & ~corner, (labels > 0) & corner)
    checked = check_measurable(coarse, labels, ("a", "b", "c"))  # 'c' has 5 test pixels: measurable, coarse
    assert checked.warnings == ["split 'coarse': 'c' has 5 test pixels (< 10): its accuracy is coarse"]


def test_default_split_refuses_a_small_scene_that_cannot_measure():
    from bdgf_nb.data.scene import Scene

    rng = np.random.default_rng(0)
    gt = np.ones((64, 64), int)
    gt[:, 40:] = 2
    gt[60:, :4] = 3  # a class in one corner: one side of any block split
    scene = Scene("tiny", {"x": rng.normal(size=(64, 64, 2)).astype(np.float32)}, gt, ("a", "b", "c"))
    with pytest.raises(DataError, match=r"cannot measure: 'c' has no (training|test) pixel"):
        default_split(scene, patch=5)
    assert default_split(scene, patch=5, allow_unmeasurable=True).warnings


def test_the_official_protocol_takes_the_shipped_masks_or_says_it_could_not():
    """protocol "official" (the paper preset): the scene's own masks, even where they leak; a
    scene that ships none keeps the leak-free split, with a warning naming it."""
    from bdgf_nb.data.scene import Scene

    labels = blobs()
    rng = np.random.default_rng(0)
    train = (labels > 0) & (rng.random(labels.shape) < 0.2)
    x = {"x": rng.normal(size=(*labels.shape, 2)).astype(np.float32)}
    names = ("a", "b", "c", "d")
    shipped = Scene("shipped", x, labels, names, train_mask=train, test_mask=(labels > 0) & ~train)
    split = default_split(shipped, patch=5, protocol="official")
    assert split.name == "official" and np.array_equal(split.train, train) and not split.warnings
    assert default_split(shipped, patch=5).name == "disjoint"  # the project's default
    none = default_split(Scene("none", x, labels, names), patch=5, protocol="official")
    assert none.name == "disjoint"
    assert (
        none.warnings[-1]
        == "the official split was asked for, but scene 'none' ships none: the leak-free split is used"
    )
    with pytest.raises(
        ConfigError, match=r"split protocol: expected one of \['leak-free', 'official'\], found 'random'"
    ):
        default_split(shipped, patch=5, protocol="random")


def test_stripe_folds_swap_roles():
    coords = np.stack([np.zeros(60, int), np.arange(60)], 1)
    even, odd = stripe_folds(coords, image_width=60, n_stripes=6)
    assert np.array_equal(even.train, odd.test) and even.train[:10].all() and even.test[10:20].all()


def test_split_errors_name_the_problem():
    with pytest.raises(ConfigError, match="patch must be odd"):
        disjoint_block_split(blobs(), patch=4)
    with pytest.raises(ConfigError, match="per_class must be"):
        random_per_class_split(blobs(), 0)
    with pytest.raises(DataError, match="in both train and test"):
        Split("bad", np.ones(3, bool), np.ones(3, bool))


def test_pixel_scene_uses_its_official_split_when_the_catalog_says_so():
    from bdgf_nb.data.scene import PixelScene

    rng = np.random.default_rng(0)
    labels = np.array([1, 2, 1, 2, 1, 2, 3, 3])
    coords = np.stack([np.zeros(8, int), np.arange(8) * 3], axis=1)
    train = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    scene = PixelScene(
        "px",
        {"f": rng.normal(size=(8, 2)).astype(np.float32)},
        labels,
        coords,
        (1, 24),
        ("a", "b", "c"),
        splits={"official_train": train, "official_test": ~train},
        metadata={"default_split": "official"},
    )
    split = default_split(scene, patch=1, allow_unmeasurable=True)  # 4 test pixels: a warning, not a number
    assert split.name == "official" and "cannot measure" in split.warnings[-1]
    assert np.array_equal(split.train, train)
    assert np.array_equal(split.test, ~train & (labels != 3))  # class 3 never seen in training
    stripes = default_split(
        PixelScene("px", scene.modalities, labels, coords, (1, 24), ("a", "b", "c"), splits=scene.splits),
        patch=1,
        allow_unmeasurable=True,
    )
    assert stripes.name.startswith("stripes")


def plots(n_plots=20, side=6, pad=1, n_classes=4, rare_in=None, seed=0):
    """A tile mosaic in miniature: (labels, groups), plots of side x side in cells with `pad`
    unlabelled group-0 rims; each plot holds two classes (halves). `rare_in`: put class
    n_classes + 1 in only that many plots."""
    rng = np.random.default_rng(seed)
    cell = side + 2 * pad
    cols = int(np.ceil(np.sqrt(n_plots)))
    rows = -(-n_plots // cols)
    labels = np.zeros((rows * cell, cols * cell), int)
    groups = np.zeros_like(labels)
    for k in range(n_plots):
        r, c = (k // cols) * cell + pad, (k % cols) * cell + pad
        a, b = rng.choice(n_classes, 2, replace=False) + 1
        if rare_in is not None and k < rare_in:
            b = n_classes + 1
        labels[r : r + side, c : c + side // 2], labels[r : r + side, c + side // 2 : c + side] = a, b
        labels[r, c] = 0  # an unlabelled pixel inside a plot
        groups[r : r + side, c : c + side] = k + 1
    return labels, groups


def test_group_folds_test_each_plot_once_and_never_split_one():
    labels, groups = plots()
    folds = group_folds(labels, groups, n_folds=5)
    assert len(folds) == 5
    tested = np.zeros(labels.shape, int)
    for fold in folds:
        assert not np.intersect1d(groups[fold.train], groups[fold.test]).size  # no plot on both sides
        assert not np.any((fold.train | fold.test) & (groups == 0))  # padding in neither side
        assert np.array_equal(fold.train | fold.test, labels > 0)  # no buffer loss between padded plots
        for cls in range(1, 5):  # every class learnt and tested in every fold (the draw allows it)
            assert np.any(fold.train & (labels == cls)) and np.any(fold.test & (labels == cls))
        check_measurable(fold, labels)
        tested += fold.test
    assert np.array_equal(tested, (labels > 0).astype(int))  # every labelled pixel tested exactly once
    again = group_folds(labels, groups, n_folds=5)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again, strict=True))


def test_group_folds_buffer_drops_test_pixels_of_touching_groups():
    """Groups that touch (a scene cut into plots, not a padded mosaic): the buffer keeps test
    patches off training pixels, as disjoint_block_split does."""
    labels = np.tile(np.repeat([1, 2], 4), (8, 5))  # (8, 40): 10 touching plots of 8 x 4
    groups = np.repeat(np.arange(1, 11), 4)[None].repeat(8, 0)
    for fold in group_folds(labels, groups, n_folds=2, patch=3):
        assert min_distance(fold.train, fold.test) >= 3


def test_a_class_in_fewer_plots_than_folds_is_refused_with_advice():
    labels, groups = plots(rare_in=3)
    folds = group_folds(labels, groups, n_folds=5)
    assert all(np.any(f.train & (labels == 5)) for f in folds)  # kept in training in every fold
    assert sum(np.any(f.test & (labels == 5)) for f in folds) == 3  # tested where its 3 plots allow
    refused = [f for f in folds if not np.any(f.test & (labels == 5))]
    with pytest.raises(DataError, match=r"'e' has no test pixel.*raise the catalog's gt `min_groups`"):
        check_measurable(refused[0], labels, ("a", "b", "c", "d", "e"))


def test_default_split_of_a_grouped_scene_is_the_fold_the_seed_picks():
    from bdgf_nb.data.scene import Scene

    labels, groups = plots()
    rng = np.random.default_rng(0)
    scene = Scene(
        "mosaic",
        {"x": rng.normal(size=(*labels.shape, 2)).astype(np.float32)},
        labels,
        ("a", "b", "c", "d"),
        metadata={"groups": groups},
    )
    folds = group_folds(labels, groups, patch=3)
    tested = np.zeros(labels.shape, int)
    for seed in range(5):
        split = default_split(scene, patch=3, seed=seed)
        assert split.name == f"groups_fold{seed}" and np.array_equal(split.test, folds[seed].test)
        tested += split.test
    assert np.array_equal(tested, (labels > 0).astype(int))  # seeds 0..4: the 5 folds of one partition
    assert np.array_equal(default_split(scene, patch=3, seed=7).test, folds[2].test)


def test_validation_of_a_grouped_scene_is_whole_training_plots():
    labels, groups = plots(n_plots=30)
    base = group_folds(labels, groups)[0]
    split = with_validation(base, labels, fraction=0.2, seed=0, patch=3, buffer=2, groups=groups)
    assert split.val is not None and split.val.any()
    val_plots, fit_plots = np.unique(groups[split.val]), np.unique(groups[split.fit])
    assert not np.intersect1d(val_plots, fit_plots).size  # a plot is wholly validation or wholly fit
    assert np.isin(val_plots, np.unique(groups[base.train])).all()
    for k in val_plots:  # every labelled training pixel of a validation plot is in validation
        assert np.array_equal(split.val & (groups == k), base.train & (groups == k))
    assert np.array_equal(split.train, base.train)  # padded plots: the buffer drops nothing
    assert 0.1 < split.val.sum() / base.train.sum() < 0.35 and "whole groups" in split.description
    with pytest.raises(ConfigError, match="not both"):
        with_validation(base, labels, groups=groups, coords=np.zeros((labels.size, 2)))
    with pytest.raises(DataError, match="groups must have the split's"):
        with_validation(base, labels, groups=groups[:-1])
    with pytest.raises(DataError, match="groups must have the labels' shape"):
        group_folds(labels, groups[:-1])
