"""Maps out, georeferenced: a class map as GeoTIFF on the input's grid, a PNG with a legend, and a
per-class area table, so a result opens in QGIS where the input did.

- GeoTIFF: one band of class codes (uint8, or uint16 past 255 classes), 0 = no prediction (the
  nodata value), the input's CRS and transform, a colour table (the PNG's colours), the class
  names in the metadata (tag CLASS_NAMES as JSON, and CLASS_<code> = name per code).
- PNG: the map in those colours with a legend of class names (matplotlib).
- CSV: code, class, pixels, area_m2 (pixels x |det(transform)|, when the CRS is projected in
  metres; empty otherwise), share of the predicted pixels.
A tiled scene (data/tiles.py) is written as one GeoTIFF per tile on that tile's own grid; the PNG
shows the mosaic. Files are written under temporary names and renamed when all are complete, so a
failure leaves no half-written map.

Shapes: (H, W) int class maps, 0..n_classes.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bdgf_nb.data.geotiff import Grid, grid_from_metadata
from bdgf_nb.data.scene import Scene
from bdgf_nb.errors import DataError, expect
from bdgf_nb.storage import atomic_files


def class_colours(n_classes: int) -> np.ndarray:
    """(n_classes, 3) uint8 RGB: matplotlib's tab20 (then hsv past 20 classes)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if n_classes <= 20 else "hsv"].resampled(max(n_classes, 1))
    return (np.array([cmap(i)[:3] for i in range(n_classes)]) * 255).round().astype(np.uint8)


def _check_map(class_map: np.ndarray, n_classes: int, where: str) -> np.ndarray:
    expect(
        isinstance(class_map, np.ndarray) and class_map.ndim == 2 and class_map.dtype.kind in "iu",
        DataError,
        f"{where}: expected an (H, W) integer class map, found {type(class_map).__name__} "
        f"{getattr(class_map, 'dtype', '')} of shape {np.shape(class_map)}",
    )
    low, high = int(class_map.min()), int(class_map.max())
    expect(
        low >= 0 and high <= n_classes,
        DataError,
        f"{where}: expected codes 0..{n_classes} (0 = no prediction), found {low}..{high}",
    )
    return class_map.astype(np.int64)


def _metre_area(grid: Grid | None) -> float | None:
    """Pixel area in m^2 when the CRS is projected in metres, else None."""
    if grid is None or grid.crs is None or not grid.crs.is_projected:
        return None
    units = (grid.crs.linear_units or "").lower()
    return grid.pixel_area if units in ("metre", "meter", "m") else None


def _write_tif(path: Path, class_map: np.ndarray, grid: Grid | None, names: Sequence[str], colours: np.ndarray) -> None:
    import rasterio
    import rasterio.errors

    dtype = "uint8" if len(names) <= 255 else "uint16"
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": class_map.shape[0],
        "width": class_map.shape[1],
        "count": 1,
        "dtype": dtype,
        "nodata": 0,
        "compress": "deflate",
    }
    if grid is not None:  # without one, no geotransform at all (pixel coordinates)
        profile["transform"] = grid.transform
    if grid is not None and grid.crs is not None:
        profile["crs"] = grid.crs
    with warnings.catch_warnings():  # a map without a grid is meant to have none
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        dst = rasterio.open(path, "w", **profile)
    with dst:
        dst.write(class_map.astype(dtype), 1)
        dst.write_colormap(1, {0: (0, 0, 0, 0), **{k + 1: (*map(int, c), 255) for k, c in enumerate(colours)}})
        dst.update_tags(CLASS_NAMES=json.dumps(list(names)), **{f"CLASS_{k + 1}": n for k, n in enumerate(names)})
        dst.set_band_description(1, "class code (0 = no prediction); names in tag CLASS_NAMES")


def _write_png(path: Path, class_map: np.ndarray, names: Sequence[str], colours: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rgba = np.zeros((*class_map.shape, 4), dtype=np.uint8)  # 0 stays transparent
    rgba[class_map > 0, :3] = colours[class_map[class_map > 0] - 1]
    rgba[class_map > 0, 3] = 255
    fig, ax = plt.subplots(figsize=(8, 8 * class_map.shape[0] / max(class_map.shape[1], 1) + 0.5))
    ax.imshow(rgba, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    present = sorted(set(np.unique(class_map).tolist()) - {0})
    ax.legend(
        handles=[Patch(color=colours[c - 1] / 255, label=names[c - 1]) for c in present],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize="small",
        frameon=False,
    )
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight")  # `path` may be a temporary name
    plt.close(fig)


def area_table(counts: np.ndarray, names: Sequence[str], pixel_m2: float | None) -> list[dict[str, Any]]:
    """Rows per class 1..n: code, class, pixels, area_m2 (None without a metric CRS), share."""
    total = max(int(counts[1:].sum()), 1)
    return [
        {
            "code": c,
            "class": names[c - 1],
            "pixels": int(counts[c]),
            "area_m2": None if pixel_m2 is None else round(float(counts[c]) * pixel_m2, 4),
            "share": round(float(counts[c]) / total, 6),
        }
        for c in range(1, len(names) + 1)
    ]


def write_class_map(
    out_dir: str | Path,
    class_map: np.ndarray,
    class_names: Sequence[str],
    grid: Grid | None = None,
    stem: str = "class_map",
    tiles: Sequence[dict[str, Any]] = (),
    title: str = "",
) -> dict[str, Path]:
    """Write `<stem>.tif` (or `<stem>_<tile>.tif` per tile), `<stem>.png`, `<stem>_area.csv`.

    class_map: (H, W) int codes 0..n; grid: where the map lies (None: pixel coordinates, no CRS);
    tiles: a tiled scene's layout (metadata["tiles"]: name, origin, shape, crs, transform), each
    written on its own grid. -> {"tif" | "tif:<tile>", "png", "csv": path}."""
    names = list(class_names)
    class_map = _check_map(class_map, len(names), f"map {stem!r}")
    if grid is not None:
        expect(
            grid.shape == class_map.shape,
            DataError,
            f"map {stem!r}: expected the grid's shape {grid.shape}, found a map of shape {class_map.shape}",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colours = class_colours(len(names))
    counts = np.zeros(len(names) + 1, dtype=np.int64)
    pixel_m2: float | None = None
    written: dict[str, Path] = {}
    with atomic_files() as place:  # all files or none

        def temp(key: str, final: Path) -> Path:
            written[key] = final
            return place(final)

        if tiles:
            areas = []
            for tile in tiles:
                (r0, c0), (h, w) = tile["origin"], tile["shape"]
                part = class_map[r0 : r0 + h, c0 : c0 + w]
                tile_grid = grid_from_metadata(tile, (h, w))
                _write_tif(
                    temp(f"tif:{tile['name']}", out / f"{stem}_{tile['name']}.tif"), part, tile_grid, names, colours
                )
                counts += np.bincount(part.ravel(), minlength=len(names) + 1)
                areas.append(_metre_area(tile_grid))
            pixel_m2 = areas[0] if len(set(areas)) == 1 else None  # one pixel size, or no area
        else:
            _write_tif(temp("tif", out / f"{stem}.tif"), class_map, grid, names, colours)
            counts = np.bincount(class_map.ravel(), minlength=len(names) + 1)
            pixel_m2 = _metre_area(grid)
        _write_png(temp("png", out / f"{stem}.png"), class_map, names, colours, title or stem)
        with open(temp("csv", out / f"{stem}_area.csv"), "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["code", "class", "pixels", "area_m2", "share"])
            writer.writeheader()
            writer.writerows(area_table(counts, names, pixel_m2))
    return written


def write_scene_map(
    out_dir: str | Path, class_map: np.ndarray, scene: Scene, stem: str = "class_map"
) -> dict[str, Path]:
    """`write_class_map` on the scene's own grid (metadata crs / transform, or its tiles). Pixels
    without data in some modality (metadata["valid"] False: a nodata `mask`, a tile's padding)
    are written unclassified (0, the nodata value), whatever the model predicted there."""
    expect(
        class_map.shape == scene.shape,
        DataError,
        f"map {stem!r} of scene {scene.name!r}: expected shape {scene.shape}, found {class_map.shape}",
    )
    grid = grid_from_metadata(scene.metadata, scene.shape)
    valid = scene.metadata.get("valid")
    return write_class_map(
        out_dir,
        class_map if valid is None else np.where(valid, class_map, 0),
        scene.class_names,
        grid,
        stem,
        tiles=scene.metadata.get("tiles", ()),
        title=f"{scene.name}: {stem}",
    )
