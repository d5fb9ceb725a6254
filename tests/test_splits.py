import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdgf_nb.data.splits import (
    Split,
    default_split,
    disjoint_block_split,
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


def test_validation_holdout_is_inside_training_and_stratified():
    labels = blobs()
    split = with_validation(random_per_class_split(labels, 50, seed=0), labels, fraction=0.2, seed=0)
    assert split.val is not None
    assert not np.any(split.val & ~split.train)
    for cls in range(1, 5):
        assert np.sum(split.val & (labels == cls)) == 10
    assert np.array_equal(split.fit, split.train & ~split.val)


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
    scene = PixelScene("px", {"f": rng.normal(size=(8, 2)).astype(np.float32)}, labels, coords, (1, 24), ("a", "b", "c"),
                       splits={"official_train": train, "official_test": ~train}, metadata={"default_split": "official"})
    split = default_split(scene, patch=1)
    assert split.name == "official"
    assert np.array_equal(split.train, train)
    assert np.array_equal(split.test, ~train & (labels != 3))  # class 3 never seen in training
    stripes = default_split(PixelScene("px", scene.modalities, labels, coords, (1, 24), ("a", "b", "c"), splits=scene.splits), patch=1)
    assert stripes.name.startswith("stripes")
