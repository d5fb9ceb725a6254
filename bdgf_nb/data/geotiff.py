"""GeoTIFF in (rasterio): georeferenced rasters, their grids, and resampling onto one grid.

Remote-sensing rasters carry their place on the ground: a CRS and an affine `transform` from
(col, row) to map (x, y). Modalities of one scene often sit on different grids (IDTReeS: HSI and
CHM at 1 m, RGB at 0.1 m over the same 20 x 20 m). The scene's grid is its *reference* modality's
(the first, spectral one); every other raster is checked to overlap it and resampled onto it:
- a finer raster (smaller pixels): area mean, `Resampling.average` (each coarse pixel is the
  mean of the fine pixels inside it; the fine detail has no other honest 1-pixel summary);
- a raster as fine or coarser: nearest neighbour (no value is invented between pixels);
- labels and masks: nearest always (a class code is not averaged).
Pixels of the reference grid that the raster does not cover, and the file's nodata pixels,
become NaN (labels: 0, unlabelled); the catalog's nodata policy (nodata.py) then decides.

Shapes: H, W rows and columns; C bands. Arrays leave here channels-last, (H, W, C).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from bdgf_nb.data.checks import check
from bdgf_nb.errors import DataError

SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class Grid:
    """Where an (H, W) raster lies: CRS (None when the file has none), affine transform."""

    crs: CRS | None
    transform: Affine
    shape: tuple[int, int]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS."""
        h, w = self.shape
        xs, ys = zip(*(self.transform @ (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))), strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in CRS units squared: |det(transform)|."""
        return abs(self.transform.a * self.transform.e - self.transform.b * self.transform.d)

    def same_as(self, other: Grid) -> bool:
        return self.shape == other.shape and self.crs == other.crs and self.transform.almost_equals(other.transform)

    def metadata(self) -> dict[str, Any]:
        """Plain values for Scene.metadata / JSON: crs as a string, transform as 6 numbers."""
        return {
            "crs": self.crs.to_string() if self.crs else None,
            "transform": tuple(self.transform)[:6],
            "grid_shape": self.shape,
        }


def grid_from_metadata(metadata: dict[str, Any], shape: tuple[int, int]) -> Grid | None:
    """The Grid stored by `Grid.metadata` in a scene's metadata, or None if not georeferenced."""
    if metadata.get("transform") is None:
        return None
    crs = metadata.get("crs")
    return Grid(CRS.from_user_input(crs) if crs else None, Affine(*metadata["transform"]), shape)


@dataclass(frozen=True)
class Raster:
    """A GeoTIFF's bands, channels-last: array (H, W) for one band, else (H, W, C); float32 with
    NaN where the file says nodata (when it declares a nodata value), else the file's dtype."""

    array: np.ndarray
    grid: Grid
    dtype: str  # as stored in the file
    nodata_value: float | None
    n_nodata: int  # pixels with at least one band equal to the nodata value


def read_geotiff(path: Path, where: str) -> Raster:
    """Read every band of a GeoTIFF; the nodata value becomes NaN (counted)."""
    try:
        with rasterio.open(path) as src:
            data = src.read()  # (C, H, W)
            grid = Grid(src.crs, src.transform, (src.height, src.width))
            nodata, dtype = src.nodata, src.dtypes[0]
    except Exception as err:  # rasterio raises RasterioIOError, CPLE_*: all mean unreadable
        raise DataError(
            f"{where}: cannot read {path} as GeoTIFF ({type(err).__name__}: {err}); is the file truncated or corrupt?"
        ) from None
    check_crs_fits(grid, path, where)
    n_nodata = 0
    if nodata is not None:
        hole = np.isnan(data) if np.isnan(nodata) else data == nodata
        n_nodata = int(hole.any(axis=0).sum())
        if n_nodata:
            data = data.astype(np.float32)
            data[hole] = np.nan
    array = np.moveaxis(data, 0, -1)
    return Raster(array[:, :, 0] if array.shape[2] == 1 else array, grid, dtype, nodata, n_nodata)


def check_crs_fits(grid: Grid, path: Path, where: str) -> None:
    """A geographic CRS (degrees) whose coordinates are not longitudes / latitudes: projected
    coordinates (UTM metres) declared as EPSG:4326, which no reprojection can place."""
    if grid.crs is None or not grid.crs.is_geographic:
        return
    left, bottom, right, top = grid.bounds
    check(
        -180.0 - 1e-6 <= left and right <= 360.0 + 1e-6 and -90.0 - 1e-6 <= bottom and top <= 90.0 + 1e-6,
        f"{where}: {path} declares the geographic CRS {grid.crs} (degrees), but its bounds "
        f"({left:.1f}, {bottom:.1f}, {right:.1f}, {top:.1f}) are no longitudes / latitudes (expected within "
        "-180..360, -90..90); the coordinates look projected (e.g. UTM metres). Set the file's real CRS, "
        "e.g. `gdal_edit.py -a_srs EPSG:32617 file.tif` (the UTM zone of the scene)",
    )


def geotiff_shape(path: Path) -> tuple[int, ...]:
    """(H, W) or (H, W, C) from the header only (for the memory guard)."""
    with rasterio.open(path) as src:
        return (src.height, src.width) if src.count == 1 else (src.height, src.width, src.count)


def check_overlap(src: Grid, dst: Grid, where: str) -> float:
    """Fraction of the reference grid `dst` that `src` covers (by bounds); refuses a raster in
    another CRS without one side's CRS, and one that does not overlap at all."""
    check(
        (src.crs is None) == (dst.crs is None),
        f"{where}: expected both rasters georeferenced or neither, "
        f"found CRS {src.crs} against the reference's {dst.crs}",
    )
    left, bottom, right, top = (
        transform_bounds(src.crs, dst.crs, *src.bounds) if src.crs and src.crs != dst.crs else src.bounds
    )
    check(
        bool(np.isfinite([left, bottom, right, top]).all()),
        f"{where}: its bounds {src.bounds} in {src.crs} cannot be placed in the reference grid's {dst.crs} "
        "(the transformation gives no finite coordinates); expected each file's CRS to fit its coordinates",
    )
    d_left, d_bottom, d_right, d_top = dst.bounds
    width, height = min(right, d_right) - max(left, d_left), min(top, d_top) - max(bottom, d_bottom)
    check(
        width > 0 and height > 0,
        f"{where}: expected a raster overlapping the reference grid {dst.bounds} ({dst.crs}), "
        f"found bounds {(left, bottom, right, top)}: no overlap, so nothing can be resampled",
    )
    return width * height / ((d_right - d_left) * (d_top - d_bottom))


def pixel_area_in(grid: Grid, crs: CRS | None) -> float:
    """The mean area of one of `grid`'s pixels measured in `crs` (its own CRS when equal or
    either is None): its bounds transformed into `crs`, divided by its pixel count."""
    if grid.crs is None or crs is None or grid.crs == crs:
        return grid.pixel_area
    left, bottom, right, top = transform_bounds(grid.crs, crs, *grid.bounds)
    return (right - left) * (top - bottom) / (grid.shape[0] * grid.shape[1])


def resample_rule(src: Grid, dst: Grid, labels: bool) -> Resampling:
    """The stated rule (module docstring): average for a finer raster, nearest otherwise. Pixel
    sizes are compared in the reference grid's CRS, so a finer raster in another CRS is
    area-averaged too."""
    finer = pixel_area_in(src, dst.crs) < dst.pixel_area * (1 - 1e-6)
    return Resampling.average if finer and not labels else Resampling.nearest


def resample(array: np.ndarray, src: Grid, dst: Grid, where: str, labels: bool = False) -> tuple[np.ndarray, str]:
    """(H_s, W_s[, C]) on `src` -> ((H, W[, C]) on `dst`, rule name). Values: float32 with NaN
    outside the source / at its NaN; labels: int64 with 0 outside."""
    check_overlap(src, dst, where)
    rule = resample_rule(src, dst, labels)
    squeeze = array.ndim == 2
    bands = np.moveaxis(array[:, :, None] if squeeze else array, -1, 0)
    if labels:
        source, fill = bands.astype(np.int32), 0.0
        out = np.zeros((bands.shape[0], *dst.shape), dtype=np.int32)
    else:
        source, fill = bands.astype(np.float32), np.nan
        out = np.full((bands.shape[0], *dst.shape), np.nan, dtype=np.float32)
    # Different CRS pairs reproject; equal CRS pairs only regrid. GDAL skips src nodata in averages.
    local = CRS.from_epsg(3857)  # stand-in when neither grid has a CRS: a pure regrid
    # ... moved away from the origin together: GDAL takes a grid whose corner is (0, 0) with 1-unit
    # pixels, a pixel-coordinate file's usual transform, for one without a geotransform (all NaN out)
    shift = Affine.translation(1e6, 1e6) if src.crs is None and dst.crs is None else Affine.identity()
    reproject(
        source,
        out,
        src_transform=shift @ src.transform,
        src_crs=src.crs or local,
        src_nodata=fill,
        dst_transform=shift @ dst.transform,
        dst_crs=dst.crs or local,
        dst_nodata=fill,
        resampling=rule,
    )
    result = np.moveaxis(out, 0, -1)
    result = result[:, :, 0] if squeeze else result
    return (result.astype(np.int64) if labels else result), rule.name


def is_geotiff(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES
