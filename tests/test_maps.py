"""Whole-scene maps: the batched band path gives the labels of the per-dataset path it replaced."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.errors import ConfigError
from bdgf_nb.evaluate.maps import predict_map
from bdgf_nb.evaluate.predict import predict
from bdgf_nb.model.bdgf import BDGF
from bdgf_nb.model.config import BDGFConfig

GROUPS = {"hsi": 6, "lidar": 1}
GUIDES = (3, 4, 4)


def reference_map(
    model: torch.nn.Module,
    image: np.ndarray,
    patch: int,
    guides: Sequence[np.ndarray],
    mask: np.ndarray,
    tile_rows: int,
) -> np.ndarray:
    """The pre-speed-up predict_map: a PatchDataset per band of rows, `train.predict` on it."""
    height = image.shape[1]
    halo = patch // 2
    labels = np.zeros(image.shape[1:], dtype=np.int64)
    for top in range(0, height, tile_rows):
        bottom = min(height, top + tile_rows)
        pixels = np.argwhere(mask[top:bottom])
        if not len(pixels):
            continue
        lo, hi = max(0, top - halo), min(height, bottom + halo)
        if hi - lo < patch:
            hi = min(height, lo + patch)
            lo = hi - patch
        band = PatchDataset(
            image[:, lo:hi],
            pixels + np.array([top - lo, 0]),
            np.ones(len(pixels), np.int64),
            patch,
            [g[:, lo:hi] for g in guides],
        )
        labels[pixels[:, 0] + top, pixels[:, 1]] = predict(model, band, batch_size=256)["probabilities"].argmax(1) + 1
    return labels


@pytest.fixture(scope="module")
def scene() -> tuple[BDGF, np.ndarray, list[np.ndarray]]:
    torch.manual_seed(0)
    model = BDGF(BDGFConfig(width=16, heads=2, band_group=2), GROUPS, GUIDES, n_classes=5).eval()
    rng = np.random.default_rng(0)
    image = rng.normal(size=(7, 19, 13)).astype(np.float32)
    guides = [rng.normal(size=(c, 19, 13)).astype(np.float32) for c in GUIDES]
    # An untrained model predicts one class everywhere: centre each head on the scene's mean
    # feature and sharpen it, so that the map has several classes and argmax ties are unlikely.
    every = PatchDataset(image, np.argwhere(np.ones(image.shape[1:], bool)), np.ones(19 * 13, np.int64), 5, guides)
    features = predict(model, every)["branch_features"]  # (K, N, d)
    with torch.no_grad():
        for k, branch in enumerate(model.branches.values()):
            head = branch.head[-1]
            head.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(k)).div_(
                torch.as_tensor(features[k].std(0)).clamp_min(1e-6)
            )
            head.bias.copy_(-head.weight @ torch.as_tensor(features[k].mean(0)))
    return model, image, guides


@pytest.mark.parametrize(("tile_rows", "batch_size"), [(64, 1024), (4, 7), (1, 50)])
def test_map_equals_the_per_dataset_reference(scene, tile_rows: int, batch_size: int) -> None:
    model, image, guides = scene
    mask = np.random.default_rng(1).random(image.shape[1:]) < 0.7
    expected = reference_map(model, image, 5, guides, mask, tile_rows)
    got = predict_map(model, image, 5, guides, mask=mask, tile_rows=tile_rows, batch_size=batch_size)
    assert len(np.unique(expected[mask])) > 1  # a map worth comparing, not one class everywhere
    np.testing.assert_array_equal(got, expected)


def test_map_rejects_a_zero_batch(scene) -> None:
    model, image, guides = scene
    with pytest.raises(ConfigError, match="batch_size must be an int >= 1, found 0"):
        predict_map(model, image, 5, guides, batch_size=0)
