"""Vector labels: polygons (shapefile / GeoPackage) + a class attribute, rasterised onto a grid.

Field campaigns deliver labels as polygons (tree crowns, parcels) whose class often sits in a
separate table: IDTReeS crowns carry only `indvdID`; the species (`taxonID`) is in the field CSV.
Rules, each stated because each changes the labels:
- join: `join: {csv: file, key: indvdID}` adds the CSV's columns to every polygon by key (rows
  repeating a key must agree on the class; the first is kept); a polygon without a CSV row (or
  with an empty class) is counted and left out.
- rasterisation by pixel centre: a pixel takes a polygon's class when its centre lies inside
  (rasterio.features.rasterize, all_touched=False).
- overlap: a pixel whose centre lies in polygons of *different* classes is ambiguous: it is left
  unlabelled (0) and counted; overlapping polygons of one class are fine.
- rare classes: a class with fewer than `min_pixels` labelled pixels (or present in fewer than
  `min_groups` tiles, for tiled scenes) is `dropped` (its pixels unlabelled) or merged into
  `other`; the report lists which.
Class codes are 1..n in alphabetical order of the class names, "other" last.

Shapes: (H, W) int64 label maps, 0 = unlabelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from rasterio.features import rasterize

from bdgf_nb.data.checks import check, check_file
from bdgf_nb.data.geotiff import Grid
from bdgf_nb.errors import DataError

OTHER = "other"


@dataclass(frozen=True)
class VectorLabels:
    """Catalog `gt: {vector: ..., class_field: ..., join: {csv, key}, min_pixels, min_groups, rare}`."""

    path: Path
    class_field: str
    join_csv: Path | None = None
    join_key: str | None = None
    min_pixels: int = 0
    min_groups: int = 0
    rare: Literal["drop", "other"] = "drop"

    def __post_init__(self) -> None:
        where = f"vector labels {self.path}"
        check(
            (self.join_csv is None) == (self.join_key is None),
            f"{where}, field 'join': expected both `csv` and `key`, found one",
        )
        check(
            self.min_pixels >= 0 and self.min_groups >= 0,
            f"{where}: min_pixels and min_groups must be >= 0, found {self.min_pixels}, {self.min_groups}",
        )
        check(self.rare in ("drop", "other"), f"{where}, field 'rare': expected 'drop' or 'other', found {self.rare!r}")

    def files(self) -> list[Path]:
        return [self.path] + ([self.join_csv] if self.join_csv else [])


@dataclass(frozen=True)
class Polygons:
    """Polygons with one class name each (after the join); CRS as the file states it."""

    geometries: np.ndarray  # (P,) shapely geometries
    classes: np.ndarray  # (P,) str
    crs: str | None
    report: dict[str, Any] = field(default_factory=dict)


def read_polygons(spec: VectorLabels, where: str) -> Polygons:
    """Read the polygons and their class (joined from the CSV when asked). Polygons without a
    class (no CSV row, empty value) are counted in report['polygons_without_class']."""
    import pandas as pd
    import pyogrio

    check_file(spec.path, where, "vector file (shapefile, GeoPackage)")
    try:
        meta, _, wkb, values = pyogrio.raw.read(spec.path)
    except Exception as err:
        raise DataError(
            f"{where}: cannot read {spec.path} as a vector file (shapefile, GeoPackage) ({type(err).__name__}: {err})"
        ) from None
    table = pd.DataFrame({str(name): column for name, column in zip(meta["fields"], values, strict=True)})
    if spec.join_csv is not None:
        assert spec.join_key is not None
        check_file(spec.join_csv, f"{where}, field 'join'", "CSV file")
        check(
            spec.join_key in table,
            f"{where}, field 'join.key': {spec.path} has no attribute {spec.join_key!r}; available: {list(table)}",
        )
        rows = pd.read_csv(spec.join_csv, dtype=str, keep_default_na=False)
        check(
            spec.join_key in rows,
            f"{where}, field 'join.key': {spec.join_csv} has no column {spec.join_key!r}; available: {list(rows)}",
        )
        if spec.class_field in rows:  # field tables repeat a tree per visit: fine if the class agrees
            classes_per_key = rows.groupby(spec.join_key)[spec.class_field].nunique()
            clash = classes_per_key[classes_per_key > 1].index.tolist()
            check(
                not clash,
                f"{where}: {spec.join_csv} gives keys {clash[:5]} ({len(clash)} in all) rows of different "
                f"{spec.class_field!r}; expected one class per {spec.join_key!r}",
            )
        rows = rows.drop_duplicates(spec.join_key)
        table = table.drop(columns=[c for c in rows if c in table and c != spec.join_key])
        table = table.astype({spec.join_key: str}).merge(rows, on=spec.join_key, how="left")
    source = spec.join_csv if spec.join_csv is not None and spec.class_field not in meta["fields"] else spec.path
    check(
        spec.class_field in table,
        f"{where}, field 'class_field': {source} has no attribute {spec.class_field!r}; available: {list(table)}",
    )
    classes = table[spec.class_field].fillna("").astype(str).str.strip().to_numpy()
    geometries = shapely.from_wkb(wkb)
    check(
        len(classes) == 0 or bool((classes != "").any()),
        f"{where}, field 'class_field': every one of the {len(classes)} polygons has an empty {spec.class_field!r}"
        + (f" or no row in {spec.join_csv} by {spec.join_key!r}" if spec.join_csv is not None else "")
        + "; expected a class name per polygon: check `class_field` (or the join), or fill the attribute",
    )
    keep = (classes != "") & ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    return Polygons(
        geometries[keep],
        classes[keep],
        meta.get("crs"),
        {"polygons": int(len(classes)), "polygons_without_class": int((~keep).sum())},
    )


def rasterize_classes(polygons: Polygons, grid: Grid, names: Sequence[str]) -> tuple[np.ndarray, int]:
    """-> ((H, W) int64 codes 1..len(names) by index in `names`, 0 elsewhere; pixels whose centre
    lies in polygons of different classes, left 0). Polygons of classes not in `names`: ignored."""
    codes = {name: i + 1 for i, name in enumerate(names)}
    votes = np.zeros(grid.shape, dtype=np.int32)  # how many classes claim each pixel
    label = np.zeros(grid.shape, dtype=np.int64)
    for name, code in codes.items():
        shapes = polygons.geometries[polygons.classes == name]
        if len(shapes) == 0:
            continue
        inside = rasterize(
            ((g, 1) for g in shapes),
            out_shape=grid.shape,
            transform=grid.transform,
            fill=0,
            all_touched=False,
            dtype="uint8",
        ).astype(bool)  # pixel centre rule
        votes += inside
        label[inside] = code
    label[votes > 1] = 0
    return label, int((votes > 1).sum())


def outside_grids(polygons: Polygons, grids: Sequence[Grid]) -> np.ndarray:
    """(P,) bool: the polygons whose extent meets no grid's bounds (labelling no pixel)."""
    outside = np.ones(len(polygons.geometries), dtype=bool)
    for grid in grids:
        outside &= ~shapely.intersects(polygons.geometries, shapely.box(*grid.bounds))
    return outside


def check_crs(polygons: Polygons, grid: Grid, where: str) -> None:
    from rasterio.crs import CRS

    if polygons.crs is None or grid.crs is None:
        return
    check(
        CRS.from_user_input(polygons.crs) == grid.crs,
        f"{where}: polygons are in {polygons.crs}, the reference grid in {grid.crs}; expected one CRS "
        "(reproject the vector file, e.g. ogr2ogr -t_srs)",
    )


def rare_rule(counts: dict[str, int], groups: dict[str, int], spec: VectorLabels) -> tuple[list[str], dict[str, str]]:
    """-> (final class names, {rare class: 'dropped' | 'merged into other'}). Rare: fewer than
    `min_pixels` pixels or fewer than `min_groups` tiles."""
    rare = sorted(c for c in counts if counts[c] < spec.min_pixels or groups.get(c, 1) < spec.min_groups)
    kept = sorted(c for c in counts if c not in rare and counts[c] > 0)
    if spec.rare == "other" and rare:
        check(OTHER not in kept, f"class name {OTHER!r} is taken by a real class; use `rare: drop`")
        return [*kept, OTHER], dict.fromkeys(rare, f"merged into {OTHER!r}")
    return kept, dict.fromkeys(rare, "dropped")


def vector_labels(
    spec: VectorLabels, grids: Sequence[Grid], where: str
) -> tuple[list[np.ndarray], tuple[str, ...], dict[str, Any]]:
    """Rasterise the polygons onto each grid (one per tile; one grid for a plain scene).

    -> (one (H_k, W_k) int64 label map per grid, class names, report). The report holds pixels
    per kept class, the overlap pixels left unlabelled, and what happened to each rare class."""
    polygons = read_polygons(spec, where)
    for grid in grids:
        check_crs(polygons, grid, where)
    outside = outside_grids(polygons, grids)
    if outside.all() and len(outside):
        left, bottom, right, top = shapely.total_bounds(polygons.geometries).tolist()
        raise DataError(
            f"{where}: all {len(outside)} polygons with a class lie outside the grid"
            + ("s" if len(grids) > 1 else "")
            + f": polygon bounds ({left:.3f}, {bottom:.3f}, {right:.3f}, {top:.3f}) ({polygons.crs}), grid bounds "
            + ", ".join(f"{tuple(round(b, 3) for b in g.bounds)}" for g in grids[:3])
            + ("..." if len(grids) > 3 else "")
            + f" ({grids[0].crs}); expected polygons over the rasters: check that the vector file and the "
            "rasters cover the same area, in the same CRS"
        )
    polygons = Polygons(
        polygons.geometries, polygons.classes, polygons.crs, {**polygons.report, "polygons_outside": int(outside.sum())}
    )
    names = sorted(set(polygons.classes.tolist()))
    raw, overlaps = zip(*(rasterize_classes(polygons, grid, names) for grid in grids), strict=True)
    counts = {n: int(sum((m == i + 1).sum() for m in raw)) for i, n in enumerate(names)}
    groups = {n: int(sum((m == i + 1).any() for m in raw)) for i, n in enumerate(names)}
    kept, rare = rare_rule(counts, groups, spec)
    lookup = np.zeros(len(names) + 1, dtype=np.int64)  # old code -> new code (0 = unlabelled)
    for i, name in enumerate(names):
        lookup[i + 1] = (
            kept.index(name) + 1 if name in kept else (len(kept) if rare.get(name, "").startswith("merged") else 0)
        )
    maps = [lookup[m] for m in raw]
    final = {n: int(sum((m == i + 1).sum() for m in maps)) for i, n in enumerate(kept)}
    check(
        sum(final.values()) > 0,
        f"{where}: no labelled pixel left after the rare-class rule "
        f"(min_pixels {spec.min_pixels}, min_groups {spec.min_groups}); pixels per class before: {counts}",
    )
    report = {
        **polygons.report,
        "rule": "pixel centre; overlaps of different classes unlabelled",
        "overlap_pixels": int(sum(overlaps)),
        "pixels_per_class_before": counts,
        "tiles_per_class": groups,
        "rare": rare,
        "rare_rule": {"min_pixels": spec.min_pixels, "min_groups": spec.min_groups, "action": spec.rare},
        "classes_without_pixels": sorted(n for n, c in counts.items() if c == 0 and n not in rare),
        "polygons_per_class": {n: int((polygons.classes == n).sum()) for n in names},
        "pixels_per_class": final,
    }
    return maps, tuple(kept), report
