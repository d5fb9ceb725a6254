"""A `kind: tiles` entry: many small co-registered plots (each its own set of GeoTIFFs, labels as
polygons) -> one validated `Scene`, a padded mosaic.

IDTReeS gives 46 plots of 20 x 20 px, each its own set of GeoTIFFs, far apart on the ground. The
pipeline reads one (H, W) grid and cuts (C, p, p) patches around pixels, reflect-padding at the
scene border. A mosaic keeps that contract without leaking across plots:
- each tile is reflect-padded *on its own* by `pad` pixels before it is placed, so a patch of
  side p <= 2 * pad + 1 centred on any of its pixels reads only that tile's pixels (real or
  mirrored), never a neighbour's;
- padding carries no label (gt 0) and is marked invalid (metadata["valid"] False), so neither
  training, testing nor pretraining should count it;
- metadata["groups"] (H, W) int gives each real pixel its tile number 1..n (0 in padding), the
  key of plot-disjoint splits (group k-fold over tiles; never split one plot's pixels).
Tiles sit row-major in cells of the largest padded tile; a smaller tile's spare cell area repeats
its own edge (still its own pixels, still invalid).

Shapes: (h_k, w_k, C) one tile; (H, W, C) the mosaic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bdgf_nb.data.catalog import CatalogEntry, tile_ref
from bdgf_nb.data.checks import check, validate_labels
from bdgf_nb.data.geotiff import Grid
from bdgf_nb.data.readers import Reader
from bdgf_nb.data.scene import Scene
from bdgf_nb.data.stacking import entry_metadata, stack_modalities
from bdgf_nb.data.vector import VectorLabels, vector_labels


@dataclass(frozen=True)
class Tile:
    """One plot: its modalities (h, w, C) float32, labels (h, w), grid, pixels to unlabel."""

    name: str
    modalities: dict[str, np.ndarray]
    gt: np.ndarray
    grid: Grid | None
    unlabel: np.ndarray


@dataclass(frozen=True)
class Mosaic:
    modalities: dict[str, np.ndarray]  # (H, W, C) float32
    gt: np.ndarray  # (H, W) int64, 0 in padding
    groups: np.ndarray  # (H, W) int64 tile number 1..n, 0 in padding
    valid: np.ndarray  # (H, W) bool: a real pixel of a tile with data in every modality
    layout: list[dict[str, Any]]  # per tile: name, origin (row, col) of its first real pixel, shape, grid


def _fit(array: np.ndarray, pad: int, cell: tuple[int, int]) -> np.ndarray:
    """Reflect-pad a tile by `pad`, then repeat its edge up to the cell size."""
    widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (array.ndim - 2)
    padded = np.pad(array, widths, mode="reflect") if pad else array
    extra = [(0, cell[0] - padded.shape[0]), (0, cell[1] - padded.shape[1])] + [(0, 0)] * (array.ndim - 2)
    return np.pad(padded, extra, mode="edge")


def mosaic(tiles: Sequence[Tile], pad: int, where: str) -> Mosaic:
    """Place every tile, padded on its own, in a near-square grid of equal cells."""
    check(len(tiles) > 0, f"{where}: expected at least one tile, found none")
    names = list(tiles[0].modalities)
    for tile in tiles:
        check(
            list(tile.modalities) == names,
            f"{where}, tile {tile.name!r}: modalities {list(tile.modalities)}, expected {names}",
        )
        for m in names:
            check(
                tile.modalities[m].shape[2] == tiles[0].modalities[m].shape[2],
                f"{where}, tile {tile.name!r}, modality {m!r}: {tile.modalities[m].shape[2]} channels, "
                f"expected {tiles[0].modalities[m].shape[2]} like tile {tiles[0].name!r}",
            )
    cell = (max(t.gt.shape[0] for t in tiles) + 2 * pad, max(t.gt.shape[1] for t in tiles) + 2 * pad)
    n_cols = math.ceil(math.sqrt(len(tiles)))
    n_rows = math.ceil(len(tiles) / n_cols)
    shape = (n_rows * cell[0], n_cols * cell[1])
    modalities = {m: np.zeros((*shape, tiles[0].modalities[m].shape[2]), dtype=np.float32) for m in names}
    gt = np.zeros(shape, dtype=np.int64)
    groups = np.zeros(shape, dtype=np.int64)
    valid = np.zeros(shape, dtype=bool)
    layout = []
    for k, tile in enumerate(tiles):
        r0, c0 = (k // n_cols) * cell[0], (k % n_cols) * cell[1]
        window = (slice(r0, r0 + cell[0]), slice(c0, c0 + cell[1]))
        for m in names:
            modalities[m][window] = _fit(tile.modalities[m], pad, cell)
        h, w = tile.gt.shape
        inner = (slice(r0 + pad, r0 + pad + h), slice(c0 + pad, c0 + pad + w))
        gt[inner] = np.where(tile.unlabel, 0, tile.gt)
        groups[inner] = k + 1
        valid[inner] = ~tile.unlabel
        layout.append(
            {
                "name": tile.name,
                "origin": (r0 + pad, c0 + pad),
                "shape": (h, w),
                **(tile.grid.metadata() if tile.grid else {}),
            }
        )
    return Mosaic(modalities, gt, groups, valid, layout)


def load_tile_scene(entry: CatalogEntry) -> Scene:
    """Every tile's modalities on its own reference grid, the polygons rasterised per tile (the
    rare-class rule over all tiles), then one padded mosaic (tiles.py)."""
    assert isinstance(entry.gt, VectorLabels)  # guaranteed by the schema of kind "tiles"
    where = f"dataset {entry.name!r}"
    stacks = []
    for tile in entry.tiles:
        refs = {m: tile_ref(ref, tile) for m, ref in entry.modalities.items()}
        stack = stack_modalities(entry, refs, Reader(), f"{where}, tile {tile!r}")  # a reader per tile: no cache growth
        check(
            stack.grid is not None,
            f"{where}, tile {tile!r}: expected a georeferenced first modality (GeoTIFF), "
            "found none; polygons need a grid",
        )
        stacks.append(stack)
    grids = [s.grid for s in stacks if s.grid is not None]
    maps, names, report = vector_labels(entry.gt, grids, f"{where}, gt (polygons {entry.gt.path})")
    check(
        entry.class_names is None or entry.class_names == names,
        f"{where}: class_names {entry.class_names} differ from the polygons' classes {names}; drop `class_names`",
    )
    tiles = [Tile(t, s.modalities, m, s.grid, s.unlabel) for t, s, m in zip(entry.tiles, stacks, maps, strict=True)]
    mosaic_ = mosaic(tiles, entry.pad, where)
    gt, _ = validate_labels(mosaic_.gt, f"{where}, gt", len(names))
    lost = int(sum((s.unlabel & (m > 0)).sum() for s, m in zip(stacks, maps, strict=True)))
    masked_by: dict[str, int] = {}
    for s, m in zip(stacks, maps, strict=True):
        for modality, n in s.labelled_masked(m).items():
            masked_by[modality] = masked_by.get(modality, 0) + n
    first = stacks[0].grid
    metadata = {
        **entry_metadata(entry),
        "crs": first.crs.to_string() if first and first.crs else None,
        "transform": None,
        "tiles": mosaic_.layout,
        "pad": entry.pad,
        "groups": mosaic_.groups,
        "group_names": list(entry.tiles),
        "valid": mosaic_.valid,
        "labels": report,
        "resampled": {m: r for s in stacks for m, r in s.report["resampled"].items()},
        "nodata": {
            "per_tile": {t: s.report["nodata"] for t, s in zip(entry.tiles, stacks, strict=True)},
            "labelled_pixels_masked": lost,
            "labelled_masked_by": masked_by,
        },
        "load_events": stacks[0].report["events"],  # the catalog's band selection, alike in every tile
    }
    return Scene(name=entry.name, modalities=mosaic_.modalities, gt=gt, class_names=names, metadata=metadata)
