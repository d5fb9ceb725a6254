"""Whole-scene inference in row tiles: a label for every pixel without holding every patch.

`train.predict` on a dataset of all H * W pixels keeps every pixel's probabilities and per-branch
features (n_branches * H * W * d floats: hundreds of MiB for a 600 x 340 scene). `predict_map`
walks the scene in bands of `tile_rows` rows instead and keeps only each pixel's label.

A band is cut with `patch // 2` extra rows above and below (real scene rows, where there are
any), so every patch inside it is the patch of a one-pass dataset: rows beyond the scene border
are reflect-padded exactly as PatchDataset pads the whole scene. The map is therefore the one-pass
map whatever `tile_rows` is (tests/test_robustness.py checks it).

Shapes: C channels, H x W scene, G_k channels of guide k, p patch side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.evaluate.predict import predict


def predict_map(
    model: torch.nn.Module,
    image: np.ndarray | torch.Tensor,
    patch: int,
    guides: Sequence[np.ndarray | torch.Tensor] = (),
    mask: np.ndarray | None = None,
    tile_rows: int = 64,
    batch_size: int = 256,
    progress: bool = False,
) -> np.ndarray:
    """(H, W) int64 map of predicted labels 1..n_classes (0 where `mask` is False).

    model: a classifier of the train.py contract; image: (C, H, W) standardised; guides: K maps
    (G_k, H, W); mask: optional (H, W) bool of the pixels to predict (default all)."""
    expect(isinstance(tile_rows, int) and tile_rows >= 1, ConfigError, f"tile_rows must be an int >= 1, found {tile_rows!r}")
    expect(np.ndim(image) == 3, DataError, f"image must be (C, H, W), found shape {np.shape(image)}")
    _, height, width = np.shape(image)
    mask = np.ones((height, width), dtype=bool) if mask is None else np.asarray(mask)
    expect(mask.shape == (height, width) and mask.dtype == bool, DataError,
           f"mask must be bool ({height}, {width}), found {mask.dtype} {mask.shape}")
    expect(isinstance(patch, int) and 1 <= patch <= min(height, width), DataError,
           f"patch size must be an int in [1, {min(height, width)}] for a {height}x{width} scene, found {patch!r}")
    halo = patch // 2
    labels = np.zeros((height, width), dtype=np.int64)
    for top in tqdm(range(0, height, tile_rows), desc="predict map", disable=not progress, leave=False):
        bottom = min(height, top + tile_rows)
        pixels = np.argwhere(mask[top:bottom])
        if not len(pixels):
            continue
        lo, hi = max(0, top - halo), min(height, bottom + halo)  # band plus real context rows
        if hi - lo < patch:  # a thin band at a border: widen it to one patch (more context only)
            hi = min(height, lo + patch)
            lo = hi - patch
        band = PatchDataset(image[:, lo:hi], pixels + np.array([top - lo, 0]), np.ones(len(pixels), np.int64), patch,
                            [g[:, lo:hi] for g in guides])
        probabilities = predict(model, band, batch_size=batch_size)["probabilities"]
        labels[pixels[:, 0] + top, pixels[:, 1]] = probabilities.argmax(1) + 1
    return labels
