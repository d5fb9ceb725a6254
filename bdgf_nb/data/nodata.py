"""Nodata per modality: a policy says what a hole (NaN, a GeoTIFF's nodata value, a pixel that a
resampled raster does not cover) becomes.

LiDAR rasters have holes (water, occlusion); a scene with one NaN used to be refused with no way
out. A catalog entry now names, per modality,
    nodata: {dsm: mask}                 # the pixel is unlabelled: never trained on nor tested
    nodata: {dsm: {fill: nearest}}      # each hole takes its nearest valid pixel's values
    nodata: {dsm: {fill: mean}}         # each hole takes the band means of the valid pixels
A hole is a *pixel* with a non-finite value in any band (its other bands are filled too: one
band's hole makes the whole spectrum suspect). `mask` fills the values with the band means so
the array stays finite for pretraining, and returns the pixels to unlabel. Without a policy a
hole stays an error that names the policy to add.

Shapes: (H, W, C) float32 images, (H, W) bool masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.ndimage import distance_transform_edt

from bdgf_nb.data.checks import check
from bdgf_nb.errors import DataError

MODES = ("mask", "fill")
FILLS = ("nearest", "mean")


@dataclass(frozen=True)
class NodataPolicy:
    """mode "mask" (unlabel the hole pixels) or "fill" with `fill` = nearest | mean."""

    mode: Literal["mask", "fill"]
    fill: Literal["nearest", "mean"] | None = None

    def __post_init__(self) -> None:
        check(self.mode in MODES, f"NodataPolicy.mode: expected one of {list(MODES)}, found {self.mode!r}")
        check(
            (self.mode == "fill") == (self.fill is not None) and self.fill in (None, *FILLS),
            f"NodataPolicy.fill: expected one of {list(FILLS)} with "
            f"mode 'fill' (none with 'mask'), found {self.fill!r}",
        )

    def __str__(self) -> str:
        return "mask" if self.mode == "mask" else f"fill: {self.fill}"


def parse_policy(value: object, where: str) -> NodataPolicy:
    """`mask`, `{fill: nearest}` or `{fill: mean}` from the catalog."""
    if value == "mask":
        return NodataPolicy("mask")
    if isinstance(value, dict) and set(value) == {"fill"} and value["fill"] in FILLS:
        return NodataPolicy("fill", value["fill"])
    raise DataError(f"{where}: expected `mask`, `{{fill: nearest}}` or `{{fill: mean}}`, found {value!r}")


def hole_pixels(array: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W) bool: pixels with a non-finite value in any band."""
    return ~np.isfinite(array).all(axis=2)


def apply_policy(
    array: np.ndarray, policy: NodataPolicy | None, where: str, modality: str, cause: str | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(H, W, C) float32 with holes -> (finite (H, W, C) float32, (H, W) bool pixels to unlabel,
    report {policy, holes, filled, masked[, cause]}). No policy and a hole: DataError naming the
    fix. `cause`: why the holes are there when the file has none (a raster covering part of the
    grid, stacking.coverage_cause); it replaces the NaN count in the message."""
    holes = hole_pixels(array)
    n_holes = int(holes.sum())
    unlabel = np.zeros(holes.shape, dtype=bool)
    report: dict[str, Any] = {"policy": str(policy) if policy else None, "holes": n_holes, "filled": 0, "masked": 0}
    if cause is not None and n_holes:
        report["cause"] = cause
    if n_holes == 0:
        return array, unlabel, report
    if policy is None and cause is not None:
        raise DataError(
            f"{where}: {cause}, so {n_holes} of the grid's {holes.size} pixels have no {modality} data "
            f"({100 * n_holes / holes.size:.1f} %); expected a raster covering the whole reference grid. "
            f"Add to the catalog entry `nodata: {{{modality}: mask}}` (unlabel them) or "
            f"`nodata: {{{modality}: {{fill: nearest}}}}`, or crop the other rasters to its extent"
        )
    if policy is None:
        n_nan = int(np.isnan(array).sum())
        raise DataError(
            f"{where}: expected finite values, found {n_nan} NaN and {int((~np.isfinite(array)).sum()) - n_nan} inf "
            f"of {array.size} values ({n_holes} pixels); if they are nodata, add to the catalog entry "
            f"`nodata: {{{modality}: mask}}` (unlabel them) or `nodata: {{{modality}: {{fill: nearest}}}}` "
            "(or {fill: mean})"
        )
    check(
        n_holes < holes.size,
        f"{where}: every one of the {holes.size} pixels is nodata in at least one band, so no nodata policy "
        f"can help ({policy} would leave nothing); expected data in some pixels: check the file's nodata value, "
        f"or leave the modality (or its dead bands, `bands:` / `drop_bands:`) out of the catalog entry",
    )
    out = array.copy()
    if policy.fill == "nearest":
        # index of the nearest valid pixel for every pixel (Euclidean distance on the grid)
        _, (rows, cols) = distance_transform_edt(holes, return_indices=True)
        out[holes] = array[rows[holes], cols[holes]]
    else:  # mean, also the stand-in values under `mask` (those pixels carry no label)
        out[holes] = array[~holes].mean(axis=0)
    if policy.mode == "mask":
        unlabel, report["masked"] = holes, n_holes
    else:
        report["filled"] = n_holes
    return out.astype(np.float32, copy=False), unlabel, report
