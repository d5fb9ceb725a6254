"""Whole-scene inference in row tiles: a label for every pixel without holding every patch.

`train.predict` on a dataset of all H * W pixels keeps every pixel's probabilities and per-branch
features (n_branches * H * W * d floats: hundreds of MiB for a 600 x 340 scene). `predict_map`
walks the scene in bands of `tile_rows` rows instead and keeps only each pixel's label.

A band is cut with `patch // 2` extra rows above and below (real scene rows, where there are
any), so every patch inside it is the patch of a one-pass dataset: rows beyond the scene border
are reflect-padded exactly as PatchDataset pads the whole scene. The map is therefore the one-pass
map whatever `tile_rows` is (tests/test_robustness.py checks it).

Speed: each band is padded once into (H, W, C) storage and its patches gathered
through an unfold view in batches of `batch_size`; the model runs under inference_mode and only
the ensemble's argmax is kept (no per-branch probabilities or features). The patches and the
model are those of `train.predict`, so the labels are the same (tests/test_maps.py compares it
with the dataset path it replaced). Overlapping patches are not shared: the CNN branch's
GroupNorm and the Transformer's self-attention read the whole patch, so each pixel's patch is
its own computation.

Shapes: C channels, H x W scene, G_k channels of guide k, p patch side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from bdgf_nb.data.patches import gather_patches, hwc_storage, reflect_pad
from bdgf_nb.device import autocast
from bdgf_nb.errors import ConfigError, DataError, expect


def _finite_float(array: np.ndarray | torch.Tensor, where: str) -> torch.Tensor:
    tensor = torch.as_tensor(array, dtype=torch.float32)
    bad = int((~torch.isfinite(tensor)).sum())
    expect(bad == 0, DataError, f"{where}: expected finite values, found {bad} NaN or inf of {tensor.numel()}")
    return tensor


@torch.inference_mode()
def predict_map(
    model: torch.nn.Module,
    image: np.ndarray | torch.Tensor,
    patch: int,
    guides: Sequence[np.ndarray | torch.Tensor] = (),
    mask: np.ndarray | None = None,
    tile_rows: int = 64,
    batch_size: int = 1024,
    progress: bool = False,
) -> np.ndarray:
    """(H, W) int64 map of predicted labels 1..n_classes (0 where `mask` is False).

    model: a classifier of the train.py contract; image: (C, H, W) standardised; guides: K maps
    (G_k, H, W); mask: optional (H, W) bool of the pixels to predict (default all)."""
    expect(
        isinstance(tile_rows, int) and tile_rows >= 1,
        ConfigError,
        f"tile_rows must be an int >= 1, found {tile_rows!r}",
    )
    expect(
        isinstance(batch_size, int) and batch_size >= 1,
        ConfigError,
        f"batch_size must be an int >= 1, found {batch_size!r}",
    )
    expect(np.ndim(image) == 3, DataError, f"image must be (C, H, W), found shape {np.shape(image)}")
    _, height, width = np.shape(image)
    mask = np.ones((height, width), dtype=bool) if mask is None else np.asarray(mask)
    expect(
        mask.shape == (height, width) and mask.dtype == bool,
        DataError,
        f"mask must be bool ({height}, {width}), found {mask.dtype} {mask.shape}",
    )
    expect(
        isinstance(patch, int) and 1 <= patch <= min(height, width),
        DataError,
        f"patch size must be an int in [1, {min(height, width)}] for a {height}x{width} scene, found {patch!r}",
    )
    image_t = _finite_float(image, "image")
    guide_ts = [_finite_float(g, f"guide {k}") for k, g in enumerate(guides)]
    for k, g in enumerate(guide_ts):
        expect(
            g.ndim == 3 and tuple(g.shape[1:]) == (height, width),
            DataError,
            f"guide {k} must be (G, {height}, {width}), found {tuple(g.shape)}",
        )
    model.eval()
    device = next(model.parameters()).device
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
        padded = hwc_storage(reflect_pad(image_t[:, lo:hi], halo))
        padded_guides = [hwc_storage(reflect_pad(g[:, lo:hi], halo)) for g in guide_ts]
        rows = torch.as_tensor(pixels[:, 0] + top - lo)
        cols = torch.as_tensor(pixels[:, 1])
        predicted = []
        for start in range(0, len(pixels), batch_size):
            r, c = rows[start : start + batch_size], cols[start : start + batch_size]
            x = gather_patches(padded, r, c, patch).to(device)
            gs = [gather_patches(pg, r, c, patch).to(device) for pg in padded_guides]
            with autocast(device):
                predicted.append(model(x, gs).probabilities.float().argmax(1).cpu())
        labels[pixels[:, 0] + top, pixels[:, 1]] = torch.cat(predicted).numpy() + 1
    return labels
