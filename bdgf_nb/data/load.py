"""Scene assembly: one catalog entry -> a validated `Scene` or `PixelScene`. Every scene enters
the pipeline here.

`load_scene(name)` turns an entry of the catalog (catalog.py) into a `Scene` (a full (H, W)
grid) or `PixelScene` (one row per labelled pixel). Arrays come through readers.py (.npz, .npy,
.mat, ENVI, GeoTIFF); GeoTIFF modalities are resampled onto the first modality's grid
(geotiff.py), polygons rasterised into labels (vector.py), holes handled by the entry's nodata
policy (nodata.py), and a `kind: tiles` entry assembles many small plots into one padded mosaic
(tiles.py). `write_catalog_entry` appends a validated entry for a user's files.

Every check raises `DataError` naming the dataset, file, key and what was expected and found, so
a user bringing their own scene never sees a traceback from deep inside numpy.

Glossary: H, W image size; C channels; N labelled pixels (rows of a pixel scene); N_p the rows
of one part of a pixel scene.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bdgf_nb.data.catalog import (
    CatalogEntry,
    catalog_entry,
    load_catalog,
    parse_entry,
    tile_ref,
)
from bdgf_nb.data.geotiff import Grid, resample
from bdgf_nb.data.nodata import apply_policy
from bdgf_nb.data.readers import ArrayRef, _Reader
from bdgf_nb.data.scene import (
    PixelScene,
    Scene,
    as_integers,
    validate_dtype,
    validate_finite,
    validate_labels,
)
from bdgf_nb.data.tiles import Tile, mosaic
from bdgf_nb.data.vector import VectorLabels, vector_labels
from bdgf_nb.errors import DataError, expect
from bdgf_nb.memory import check_memory, scene_bytes
from bdgf_nb.storage import atomic_write_text


def _check(condition: bool, message: str) -> None:
    expect(condition, DataError, message)


# --- validation -------------------------------------------------------------------------------


def validate_modality(array: np.ndarray, where: str, spectral: bool = False, finite: bool = True) -> np.ndarray:
    """-> (H, W, C) float32, finite (unless `finite=False`: the nodata policy then decides). An
    auxiliary (H, W) image (a DSM) gets a channel axis; the spectral image must be (H, W, C)."""
    validate_dtype(array, where)
    if array.ndim == 2 and not spectral:
        array = array[:, :, None]
    hint = " (a pixel table belongs in a `kind: pixel` entry; one band is (H, W, 1))" if array.ndim == 2 else ""
    _check(array.ndim == 3, f"{where}: expected (H, W, C), found shape {array.shape}{hint}")
    array = array.astype(np.float32)
    if finite:
        validate_finite(array, where)
    return array


def validate_table(array: np.ndarray, n_rows: int, where: str) -> np.ndarray:
    """-> (N, C) float32, finite; a vector (N,) gets a channel axis."""
    validate_dtype(array, where)
    if array.ndim == 1:
        array = array[:, None]
    _check(array.ndim == 2 and array.shape[0] == n_rows,
           f"{where}: expected ({n_rows}, C), one row per label, found shape {array.shape}")
    array = array.astype(np.float32)
    validate_finite(array, where)
    return array


def validate_mask(mask: np.ndarray, shape: tuple[int, ...], where: str) -> np.ndarray:
    """-> (H, W) bool; 0/1 numbers are accepted (MATLAB masks are double or uint8)."""
    validate_dtype(mask, where)
    _check(mask.shape == shape, f"{where}: expected shape {shape} (the gt's), found {mask.shape}")
    other = int(((mask != 0) & (mask != 1)).sum())
    _check(other == 0, f"{where}: expected a bool or 0/1 mask, found {other} other values")
    return mask.astype(bool)


def validate_disjoint(train: np.ndarray, test: np.ndarray, where: str) -> None:
    """No pixel in both masks: a training pixel is never a test pixel."""
    both = int((train & test).sum())
    _check(both == 0, f"{where}: expected disjoint train and test, found {both} pixels in both")


def validate_coords(coords: np.ndarray, image_shape: tuple[int, int], where: str) -> np.ndarray:
    """-> (N, 2) int64 0-based (row, col), all inside `image_shape`."""
    coords = as_integers(coords, where)
    _check(coords.ndim == 2 and coords.shape[1] == 2, f"{where}: expected (N, 2) (row, col), found shape {coords.shape}")
    outside = int(((coords < 0) | (coords >= np.asarray(image_shape))).any(axis=1).sum())
    _check(outside == 0, f"{where}: expected 0-based (row, col) inside image_shape {image_shape}, found {outside} rows outside")
    return coords


# --- scenes -----------------------------------------------------------------------------------


def _entry_metadata(entry: CatalogEntry) -> dict[str, Any]:
    return {"dataset": entry.name, "description": entry.description, "citation": entry.citation,
            "licence": entry.licence, "files": [str(p) for p in entry.files()], **entry.metadata}


def _class_names(entry: CatalogEntry, reader: _Reader) -> tuple[tuple[str, ...] | None, int | None]:
    """-> (declared names or None, declared class count or None). Names come from the YAML or an
    array of strings (str, bytes, or a MATLAB cell)."""
    names = entry.class_names
    if isinstance(names, ArrayRef):
        where = f"dataset {entry.name!r}, class_names ({names})"
        array = reader.read(names, where)
        if array.dtype.kind == "O":  # MATLAB cell: each cell a 1-element string array
            array = np.array([str(np.asarray(c).ravel()[0]) if np.asarray(c).size else "" for c in array.ravel()])
        _check(array.dtype.kind in "US", f"{where}: expected strings, found dtype {array.dtype}")
        names = tuple(str(s.decode() if isinstance(s, bytes) else s).strip() for s in array.ravel())
    if names is None:
        return None, entry.n_classes
    _check(entry.n_classes in (None, len(names)),
           f"dataset {entry.name!r}: n_classes is {entry.n_classes} but class_names has {len(names)} names")
    return names, len(names)


def _default_names(n_classes: int) -> tuple[str, ...]:
    return tuple(f"class {c}" for c in range(1, n_classes + 1))


def _load_synthetic(entry: CatalogEntry, overrides: dict[str, Any]) -> Scene:
    from bdgf_nb.data.synthetic import (  # lazy: heavy, optional
        SyntheticSceneConfig,
        make_synthetic_scene,
    )

    params = {**entry.params, **overrides}
    known = sorted(f.name for f in fields(SyntheticSceneConfig))
    unknown = sorted(set(params) - set(known))
    _check(not unknown, f"dataset {entry.name!r}: unknown synthetic parameter(s) {unknown}; known: {known}")
    cfg = SyntheticSceneConfig(**params)
    channels = cfg.n_bands + 1 + (2 if cfg.with_sar else 0)
    check_memory(scene_bytes(cfg.size, cfg.size, channels), f"dataset {entry.name!r}: a {cfg.size} x {cfg.size} synthetic scene "
                 f"of {channels} channels", hint="choose a smaller `size`")
    scene = make_synthetic_scene(cfg)
    return replace(scene, name=entry.name, metadata={**scene.metadata, **_entry_metadata(entry)})


def _check_scene_memory(entry: CatalogEntry, reader: _Reader) -> None:
    """Refuse, before reading any data, a scene whose arrays will not fit (memory.scene_bytes)."""
    shapes = [shape for ref in entry.modalities.values() if (shape := reader.shape(ref)) is not None and len(shape) >= 2]
    if len(shapes) < len(entry.modalities):
        return  # unknown: the reads report malformed files
    height, width = shapes[0][:2]
    channels = sum(int(np.prod(shape[2:])) for shape in shapes)
    check_memory(scene_bytes(height, width, channels), f"dataset {entry.name!r}: a {height} x {width} scene of {channels} channels",
                 hint="crop the scene or reduce its bands (e.g. PCA) before loading")


@dataclass
class _Stack:
    """The modalities of one grid after resampling and nodata: (H, W, C) float32 each; `unlabel`
    (H, W) bool, pixels a `mask` policy takes out; `report` goes into Scene.metadata."""

    modalities: dict[str, np.ndarray]
    grid: Grid | None
    unlabel: np.ndarray
    report: dict[str, Any]


def _on_grid(reader: _Reader, ref: ArrayRef, where: str, grid: Grid | None, labels: bool) -> tuple[np.ndarray, str | None]:
    """Read `ref`; a GeoTIFF on another grid than the reference `grid` is resampled onto it
    (geotiff.py states the rule, returned as the second value)."""
    array = reader.read(ref, where)
    own = reader.grid(ref, where)
    if labels and array.dtype.kind == "f":
        array = np.where(np.isnan(array), 0, array)  # a label raster's nodata is "unlabelled"
    if own is None or grid is None or own.same_as(grid):
        return array, None
    return resample(array, own, grid, where, labels=labels)


def _stack(entry: CatalogEntry, refs: dict[str, ArrayRef], reader: _Reader, where: str) -> _Stack:
    """Read the modalities onto the first one's grid, then apply each one's nodata policy."""
    modalities: dict[str, np.ndarray] = {}
    first = next(iter(refs.values()))
    grid = reader.grid(first, f"{where}, modality {next(iter(refs))!r} ({first})")
    shape: tuple[int, ...] | None = None
    unlabel: np.ndarray | None = None
    report: dict[str, Any] = {"resampled": {}, "nodata": {}}
    for i, (name, ref) in enumerate(refs.items()):
        m_where = f"{where}, modality {name!r} ({ref})"
        array, rule = _on_grid(reader, ref, m_where, grid, labels=False)
        if rule is not None:
            report["resampled"][name] = rule
        array = validate_modality(array, m_where, spectral=i == 0, finite=False)
        shape = shape or array.shape[:2]
        _check(array.shape[:2] == shape, f"{m_where}: spatial shape {array.shape[:2]} does not match the first modality's "
               f"{shape}; expected one grid (or GeoTIFFs, which are resampled onto the first one's grid)")
        array, holes, report["nodata"][name] = apply_policy(array, entry.nodata.get(name), m_where, name)
        unlabel = holes if unlabel is None else unlabel | holes
        modalities[name] = array
    assert unlabel is not None
    return _Stack(modalities, grid, unlabel, report)


def _read_gt(entry: CatalogEntry, reader: _Reader, stack: _Stack, where: str) -> tuple[np.ndarray, tuple[str, ...] | None, dict[str, Any]]:
    """(H, W) labels on the stack's grid, names when polygons named them, report."""
    assert entry.gt is not None  # guaranteed by the schema of kinds "scene" and "tiles"
    if isinstance(entry.gt, VectorLabels):
        g_where = f"{where}, gt (polygons {entry.gt.path})"
        _check(stack.grid is not None, f"{g_where}: polygons need a georeferenced reference grid; expected the first "
               "modality as a GeoTIFF, found a file without a CRS / transform")
        assert stack.grid is not None
        maps, names, report = vector_labels(entry.gt, [stack.grid], g_where)
        return maps[0], names, {"labels": report}
    gt_where = f"{where}, gt ({entry.gt})"
    gt, rule = _on_grid(reader, entry.gt, gt_where, stack.grid, labels=True)
    if gt.ndim == 3 and gt.shape[2] == 1:
        gt = gt[:, :, 0]
    _check(gt.ndim == 2, f"{gt_where}: expected (H, W) labels, found shape {gt.shape}")
    return gt, None, {"resampled": {"gt": rule}} if rule else {}


def _load_grid(entry: CatalogEntry, reader: _Reader) -> Scene:
    where = f"dataset {entry.name!r}"
    _check_scene_memory(entry, reader)
    stack = _stack(entry, entry.modalities, reader, where)
    gt, vector_names, gt_report = _read_gt(entry, reader, stack, where)
    shape = next(iter(stack.modalities.values())).shape[:2]
    _check(gt.shape == shape, f"{where}, gt ({entry.gt}): spatial shape {gt.shape} does not match the modalities' {shape}")
    names, declared = _class_names(entry, reader)
    if vector_names is not None:
        _check(names is None or tuple(names) == vector_names,
               f"{where}: class_names {names} differ from the polygons' classes {vector_names}; drop `class_names`")
        names, declared = vector_names, len(vector_names)
    lost = int((stack.unlabel & (gt > 0)).sum())
    gt = np.where(stack.unlabel, 0, gt)  # nodata `mask`: neither trained on nor tested
    gt, n_classes = validate_labels(gt, f"{where}, gt ({entry.gt})", declared)

    masks: dict[str, np.ndarray | None] = {"train_mask": None, "test_mask": None}
    for mask_name in masks:
        ref = getattr(entry, mask_name)
        if ref is not None:
            mask_where = f"{where}, {mask_name} ({ref})"
            mask, _ = _on_grid(reader, ref, mask_where, stack.grid, labels=True)
            masks[mask_name] = validate_mask(mask, gt.shape, mask_where) & ~stack.unlabel
    train, test = masks["train_mask"], masks["test_mask"]
    if train is not None and test is not None:
        validate_disjoint(train, test, where)
    metadata = {**_entry_metadata(entry), **(stack.grid.metadata() if stack.grid else {}),
                "resampled": {**stack.report["resampled"], **gt_report.get("resampled", {})},
                "nodata": {**stack.report["nodata"], "labelled_pixels_masked": lost}}
    if "labels" in gt_report:
        metadata["labels"] = gt_report["labels"]  # polygons: counts, overlaps, rare classes
    if stack.unlabel.any():
        metadata["valid"] = ~stack.unlabel  # (H, W) bool: pixels with data in every modality
    return Scene(name=entry.name, modalities=stack.modalities, gt=gt, class_names=names or _default_names(n_classes),
                 train_mask=train, test_mask=test, metadata=metadata)


def _load_tiles(entry: CatalogEntry) -> Scene:
    """Every tile's modalities on its own reference grid, the polygons rasterised per tile (the
    rare-class rule over all tiles), then one padded mosaic (tiles.py)."""
    assert isinstance(entry.gt, VectorLabels)  # guaranteed by the schema of kind "tiles"
    where = f"dataset {entry.name!r}"
    stacks = []
    for tile in entry.tiles:
        refs = {m: tile_ref(ref, tile) for m, ref in entry.modalities.items()}
        stack = _stack(entry, refs, _Reader(), f"{where}, tile {tile!r}")  # a reader per tile: no cache growth
        _check(stack.grid is not None, f"{where}, tile {tile!r}: expected a georeferenced first modality (GeoTIFF), "
               "found none; polygons need a grid")
        stacks.append(stack)
    grids = [s.grid for s in stacks if s.grid is not None]
    maps, names, report = vector_labels(entry.gt, grids, f"{where}, gt (polygons {entry.gt.path})")
    _check(entry.class_names is None or entry.class_names == names,
           f"{where}: class_names {entry.class_names} differ from the polygons' classes {names}; drop `class_names`")
    tiles = [Tile(t, s.modalities, m, s.grid, s.unlabel) for t, s, m in zip(entry.tiles, stacks, maps, strict=True)]
    mosaic_ = mosaic(tiles, entry.pad, where)
    gt, _ = validate_labels(mosaic_.gt, f"{where}, gt", len(names))
    lost = int(sum((s.unlabel & (m > 0)).sum() for s, m in zip(stacks, maps, strict=True)))
    first = stacks[0].grid
    metadata = {**_entry_metadata(entry), "crs": first.crs.to_string() if first and first.crs else None,
                "transform": None, "tiles": mosaic_.layout, "pad": entry.pad, "groups": mosaic_.groups,
                "group_names": list(entry.tiles), "valid": mosaic_.valid, "labels": report,
                "resampled": {m: r for s in stacks for m, r in s.report["resampled"].items()},
                "nodata": {"per_tile": {t: s.report["nodata"] for t, s in zip(entry.tiles, stacks, strict=True)},
                           "labelled_pixels_masked": lost}}
    return Scene(name=entry.name, modalities=mosaic_.modalities, gt=gt, class_names=names, metadata=metadata)


def _image_shape(entry: CatalogEntry, reader: _Reader) -> tuple[int, int]:
    shape = entry.image_shape
    if isinstance(shape, tuple):
        return shape
    rasters = [m.raster for m in entry.pixel_modalities.values() if m.raster is not None]
    ref = shape or rasters[0]  # the schema requires one of the two
    where = f"dataset {entry.name!r}, image_shape ({ref})"
    array = reader.read(ref, where)
    _check(array.ndim >= 2, f"{where}: expected an image of at least 2 axes, found shape {array.shape}")
    return (int(array.shape[0]), int(array.shape[1]))


def _read_parts(entry: CatalogEntry, reader: _Reader, image_shape: tuple[int, int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per part: labels (N_p,) and coords (N_p, 2) int64, checked pairwise disjoint."""
    labels, coords = [], []
    for i, part in enumerate(entry.parts):
        l_where = f"dataset {entry.name!r}, parts[{i}] labels ({part.labels})"
        lab = reader.read(part.labels, l_where)
        if lab.ndim == 2 and 1 in lab.shape:  # MATLAB stores vectors as (N, 1) or (1, N)
            lab = lab.ravel()
        _check(lab.ndim == 1, f"{l_where}: expected (N,), found shape {lab.shape}")
        c_where = f"dataset {entry.name!r}, parts[{i}] coords ({part.coords})"
        crd = reader.read(part.coords, c_where)
        _check(crd.shape == (lab.shape[0], 2), f"{c_where}: expected ({lab.shape[0]}, 2), one (row, col) per label, found shape {crd.shape}")
        labels.append(lab)
        coords.append(validate_coords(crd, image_shape, c_where))
    # A pixel in two parts would sit in train and test at once.
    flat = [c[:, 0] * image_shape[1] + c[:, 1] for c in coords]
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            both = np.intersect1d(flat[i], flat[j]).size
            _check(both == 0, f"dataset {entry.name!r}: parts[{i}] and parts[{j}] share {both} pixels; expected disjoint parts")
    return labels, coords


def _load_pixels(entry: CatalogEntry, reader: _Reader) -> PixelScene:
    where = f"dataset {entry.name!r}"
    image_shape = _image_shape(entry, reader)
    labels, coords = _read_parts(entry, reader, image_shape)
    sizes = [lab.shape[0] for lab in labels]
    names, declared = _class_names(entry, reader)
    all_labels, n_classes = validate_labels(np.concatenate(labels), f"{where}, labels", declared, allow_unlabelled=False)
    all_coords = np.concatenate(coords)

    modalities = {}
    for name, modality in entry.pixel_modalities.items():
        if modality.raster is not None:
            m_where = f"{where}, modality {name!r} (raster {modality.raster})"
            raster = validate_modality(reader.read(modality.raster, m_where), m_where)
            _check(raster.shape[:2] == image_shape,
                   f"{m_where}: spatial shape {raster.shape[:2]} does not match image_shape {image_shape}")
            modalities[name] = raster[all_coords[:, 0], all_coords[:, 1]]
            continue
        tables = []
        for i, (ref, size) in enumerate(zip(modality.tables, sizes, strict=True)):
            t_where = f"{where}, modality {name!r}, parts[{i}] ({ref})"
            tables.append(validate_table(reader.read(ref, t_where), size, t_where))
        widths = [t.shape[1] for t in tables]
        _check(len(set(widths)) == 1, f"{where}, modality {name!r}: parts have different channel counts {widths}")
        modalities[name] = np.concatenate(tables)

    bounds = np.cumsum([0, *sizes])
    splits = {}
    for i, part in enumerate(entry.parts):
        if part.name is not None:
            splits[part.name] = np.zeros(bounds[-1], dtype=bool)
            splits[part.name][bounds[i] : bounds[i + 1]] = True
    return PixelScene(name=entry.name, modalities=modalities, labels=all_labels, coords=all_coords,
                      image_shape=image_shape, class_names=names or _default_names(n_classes),
                      splits=splits, metadata=_entry_metadata(entry))


def load_scene(name: str, catalog: dict[str, CatalogEntry] | str | Path | None = None,
               **overrides: Any) -> Scene | PixelScene:
    """Load and validate one catalog dataset.

    catalog: entries from `load_catalog`, a catalog path, or None for the repo's catalog.
    overrides: synthetic generator parameters (e.g. seed=3, size=64); file datasets take none.
    """
    entry = catalog_entry(name, catalog)
    if entry.kind == "synthetic":
        return _load_synthetic(entry, overrides)
    _check(not overrides, f"dataset {name!r} is read from files and takes no overrides, found {sorted(overrides)}")
    if entry.kind == "tiles":
        return _load_tiles(entry)
    reader = _Reader()
    return _load_grid(entry, reader) if entry.kind == "scene" else _load_pixels(entry, reader)


def write_catalog_entry(catalog: str | Path, name: str, entry: dict[str, Any], check_load: bool = True) -> CatalogEntry:
    """Append one entry for a user's own files to the catalog at `catalog` (created if absent).

    The entry is schema-checked with paths relative to that catalog's folder, every file must
    exist, and (check_load) the scene must load; only then is the file rewritten, atomically
    (a temporary file replaces it), so a bad entry leaves the catalog as it was.
    -> the parsed entry."""
    path = Path(catalog)
    _check(isinstance(name, str) and name.strip() == name and name != "",
           f"catalog {path}: expected a dataset name without surrounding spaces, found {name!r}")
    existing = load_catalog(path) if path.is_file() else {}
    _check(name not in existing, f"catalog {path}: dataset {name!r} exists already; expected a new name "
           f"(known: {sorted(existing)})")
    parsed = parse_entry(name, entry, path.parent.resolve())
    missing = [str(p) for p in parsed.files() if not p.is_file()]
    _check(not missing, f"catalog {path}, entry {name!r}: file(s) not found: {missing} "
           f"(relative paths start at {path.parent.resolve()})")
    if check_load:
        load_scene(name, {name: parsed})
    text = path.read_text() if path.is_file() else ""
    block = yaml.safe_dump({name: entry}, sort_keys=False, allow_unicode=True)
    atomic_write_text(text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + block, path)
    return parsed
