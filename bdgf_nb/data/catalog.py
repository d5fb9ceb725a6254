"""Dataset catalog and scene assembly: every scene enters the pipeline here.

`data_catalog.yaml` at the repo root names datasets (its schema is documented at its top); a
user's own catalog works the same (`load_catalog(path)`, `load_scene(name, path)`, relative paths
from that catalog's folder; `write_catalog_entry` appends a validated entry). `load_scene(name)`
turns one entry into a validated `Scene` (a full (H, W) grid) or `PixelScene` (one row per
labelled pixel). Arrays come through readers.py (.npz, .npy, .mat, ENVI, GeoTIFF); GeoTIFF
modalities are resampled onto the first modality's grid (geotiff.py), polygons rasterised into
labels (vector.py), holes handled by the entry's nodata policy (nodata.py), and a `kind: tiles`
entry assembles many small plots into one padded mosaic (tiles.py).

Every check raises `DataError` naming the dataset, file, key and what was expected and found, so
a user bringing their own scene never sees a traceback from deep inside numpy.

Glossary: H, W image size; C channels; N labelled pixels (rows of a pixel scene); N_p the rows
of one part of a pixel scene.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bdgf_nb.data.geotiff import Grid, resample
from bdgf_nb.data.nodata import NodataPolicy, apply_policy, parse_policy
from bdgf_nb.data.readers import ArrayRef, _Reader, read_array
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
from bdgf_nb.guards import check_memory, scene_bytes

CATALOG_PATH = Path(__file__).resolve().parents[2] / "data_catalog.yaml"
KINDS = ("synthetic", "scene", "pixel", "tiles")
_COMMON = {"kind", "description", "citation", "licence", "metadata"}
_FIELDS = {
    "synthetic": _COMMON | {"params"},
    "scene": _COMMON | {"path", "modalities", "gt", "train_mask", "test_mask", "class_names", "n_classes", "nodata"},
    "pixel": _COMMON | {"path", "modalities", "parts", "image_shape", "class_names", "n_classes"},
    "tiles": _COMMON | {"tiles", "modalities", "gt", "pad", "class_names", "n_classes", "nodata"},
}
_REQUIRED = {"synthetic": (), "scene": ("modalities", "gt"), "pixel": ("parts", "modalities"),
             "tiles": ("tiles", "modalities", "gt", "pad")}
_VECTOR_FIELDS = {"vector", "class_field", "join", "min_pixels", "min_groups", "rare"}
__all__ = ["ArrayRef", "read_array"]  # re-exported: readers moved to readers.py


def _check(condition: bool, message: str) -> None:
    expect(condition, DataError, message)


# --- catalog entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class PixelPart:
    """A block of pixel-scene rows: labels (N_p,), coords (N_p, 2) 0-based (row, col)."""

    labels: ArrayRef
    coords: ArrayRef
    name: str | None = None  # a named part becomes PixelScene.splits[name]


@dataclass(frozen=True)
class PixelModality:
    """A pixel-scene modality: one (N_p, C) table per part, or one (H, W[, C]) raster sampled
    at every row's coords."""

    tables: tuple[ArrayRef, ...] = ()
    raster: ArrayRef | None = None


@dataclass(frozen=True)
class CatalogEntry:
    """One schema-checked dataset of the catalog; paths are absolute.

    kind "synthetic" uses `params`; "scene" uses `modalities`, `gt` (an array or polygons),
    `nodata` and the masks; "tiles" the same per tile plus `tiles` and `pad`; "pixel" uses
    `parts`, `pixel_modalities` and `image_shape`; `class_names` / `n_classes` serve every file
    kind. `metadata` is copied into the scene's metadata.
    """

    name: str
    kind: str
    description: str = ""
    citation: str = ""
    licence: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    modalities: dict[str, ArrayRef] = field(default_factory=dict)
    gt: ArrayRef | VectorLabels | None = None
    nodata: dict[str, NodataPolicy] = field(default_factory=dict)
    tiles: tuple[str, ...] = ()  # kind "tiles": tile names; refs hold "{tile}" in their paths
    pad: int = 0  # kind "tiles": reflect padding around each tile (patch side <= 2 * pad + 1)
    train_mask: ArrayRef | None = None
    test_mask: ArrayRef | None = None
    parts: tuple[PixelPart, ...] = ()
    pixel_modalities: dict[str, PixelModality] = field(default_factory=dict)
    image_shape: tuple[int, int] | ArrayRef | None = None
    class_names: tuple[str, ...] | ArrayRef | None = None
    n_classes: int | None = None

    def files(self) -> list[Path]:
        """Every file the entry reads, without repeats (every tile's, for kind "tiles")."""
        refs: list[ArrayRef | None] = [*self.modalities.values(), self.train_mask, self.test_mask]
        for part in self.parts:
            refs += [part.labels, part.coords]
        for modality in self.pixel_modalities.values():
            refs += [*modality.tables, modality.raster]
        refs += [r for r in (self.image_shape, self.class_names, self.gt) if isinstance(r, ArrayRef)]
        paths = [r.path for r in refs if r is not None]
        if self.kind == "tiles":
            paths = [tile_ref(ArrayRef(p), t).path for t in self.tiles for p in paths]
        paths += self.gt.files() if isinstance(self.gt, VectorLabels) else []
        return list(dict.fromkeys(paths))

    @property
    def available(self) -> bool:
        """Synthetic, or every file present."""
        return self.kind == "synthetic" or all(p.is_file() for p in self.files())


def tile_ref(ref: ArrayRef, tile: str) -> ArrayRef:
    """The ref of one tile: "{tile}" in the path replaced by the tile's name."""
    return ArrayRef(Path(str(ref.path).replace("{tile}", tile)), ref.key)


def _found(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def _parse_ref(value: object, where: str, root: Path, default: Path | None) -> ArrayRef:
    """A key (str) in the entry's `path`, or {path, key} with a path relative to the catalog."""
    if isinstance(value, str):
        if default is None:
            raise DataError(f"{where}: key {value!r} needs the entry's `path`, found no `path`; "
                            "set `path:` or write {path: file, key: name}")
        return ArrayRef(default, value)
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a key (string) or {{path: file, key: name}}, found {_found(value)}")
    _check(not set(value) - {"path", "key"}, f"{where}: unknown field(s) {sorted(set(value) - {'path', 'key'})}; expected path, key")
    path, key = value.get("path"), value.get("key")
    _check(key is None or isinstance(key, str), f"{where}: key must be a string, found {_found(key)}")
    if isinstance(path, str):
        return ArrayRef((root / path).resolve(), key)
    _check(path is None, f"{where}: path must be a string, found {_found(path)}")
    if default is None:
        raise DataError(f"{where}: no `path` here nor in the entry")
    return ArrayRef(default, key)


def _parse_mapping(raw: dict[str, Any], name: str, where: str, required: bool = False) -> dict[str, Any]:
    value = raw.get(name, {})
    _check(isinstance(value, dict) and all(isinstance(k, str) for k in value),
           f"{where}, field {name!r}: expected a mapping with string keys, found {_found(value)}")
    _check(not required or len(value) > 0, f"{where}, field {name!r}: expected at least one item, found none")
    return dict(value)


def _parse_pixel(raw: dict[str, Any], where: str, root: Path, default: Path | None) -> dict[str, Any]:
    """Fields of a `kind: pixel` entry: parts, modalities (tables or rasters), image_shape."""
    parts_raw = raw["parts"]
    _check(isinstance(parts_raw, list) and len(parts_raw) > 0,
           f"{where}, field 'parts': expected a non-empty list of {{labels, coords, name}}, found {_found(parts_raw)}")
    parts = []
    for i, part in enumerate(parts_raw):
        pw = f"{where}, parts[{i}]"
        if not isinstance(part, dict):
            raise DataError(f"{pw}: expected a mapping, found {_found(part)}")
        unknown = sorted(set(part) - {"labels", "coords", "name"})
        _check(not unknown, f"{pw}: unknown field(s) {unknown}; expected labels, coords, name")
        missing = [k for k in ("labels", "coords") if k not in part]
        _check(not missing, f"{pw}: missing field(s) {missing}")
        name = part.get("name")
        _check(name is None or isinstance(name, str), f"{pw}, field 'name': expected a string, found {_found(name)}")
        parts.append(PixelPart(_parse_ref(part["labels"], f"{pw}, field 'labels'", root, default),
                               _parse_ref(part["coords"], f"{pw}, field 'coords'", root, default), name))
    names = [p.name for p in parts if p.name is not None]
    _check(len(names) == len(set(names)), f"{where}, field 'parts': part names must be unique, found {names}")

    modalities = {}
    for mname, value in _parse_mapping(raw, "modalities", where, required=True).items():
        mw = f"{where}, modality {mname!r}"
        if isinstance(value, dict) and "raster" in value:
            _check(set(value) == {"raster"}, f"{mw}: a raster takes only `raster: ref`, found fields {sorted(value)}")
            modalities[mname] = PixelModality(raster=_parse_ref(value["raster"], mw, root, default))
            continue
        values = value if isinstance(value, list) else [value]
        _check(len(values) == len(parts), f"{mw}: expected one table per part ({len(parts)}), found {len(values)}")
        modalities[mname] = PixelModality(tables=tuple(_parse_ref(v, mw, root, default) for v in values))

    shape = raw.get("image_shape")
    image_shape: tuple[int, int] | ArrayRef | None = None
    if isinstance(shape, list):
        _check(len(shape) == 2 and all(type(s) is int and s > 0 for s in shape),
               f"{where}, field 'image_shape': expected [H, W] positive integers, found {shape!r}")
        image_shape = (shape[0], shape[1])
    elif shape is not None:
        image_shape = _parse_ref(shape, f"{where}, field 'image_shape'", root, default)
    _check(image_shape is not None or any(m.raster is not None for m in modalities.values()),
           f"{where}: field 'image_shape' is required when no modality is a raster")
    return {"parts": tuple(parts), "pixel_modalities": modalities, "image_shape": image_shape}


def _parse_vector(raw: dict[str, Any], where: str, root: Path) -> VectorLabels:
    """`{vector: file, class_field: name, join: {csv: file, key: name}, min_pixels: n,
    min_groups: n, rare: drop | other}`; paths relative to the catalog."""
    unknown = sorted(set(raw) - _VECTOR_FIELDS)
    _check(not unknown, f"{where}: unknown field(s) {unknown}; expected {sorted(_VECTOR_FIELDS)}")
    _check(isinstance(raw.get("vector"), str), f"{where}, field 'vector': expected a file path, found {_found(raw.get('vector'))}")
    _check(isinstance(raw.get("class_field"), str), f"{where}, field 'class_field': expected an attribute name, found {_found(raw.get('class_field'))}")
    join = raw.get("join")
    _check(join is None or (isinstance(join, dict) and set(join) == {"csv", "key"} and all(isinstance(v, str) for v in join.values())),
           f"{where}, field 'join': expected {{csv: file, key: column}}, found {_found(join)}")
    for count in ("min_pixels", "min_groups"):
        _check(type(raw.get(count, 0)) is int and raw.get(count, 0) >= 0,
               f"{where}, field {count!r}: expected an integer >= 0, found {_found(raw.get(count))}")
    _check(raw.get("rare", "drop") in ("drop", "other"), f"{where}, field 'rare': expected 'drop' or 'other', found {_found(raw.get('rare'))}")
    return VectorLabels((root / raw["vector"]).resolve(), raw["class_field"],
                        (root / join["csv"]).resolve() if join else None, join["key"] if join else None,
                        raw.get("min_pixels", 0), raw.get("min_groups", 0), raw.get("rare", "drop"))


def _natural(name: str) -> list[Any]:
    """Sort key: MLBS_2 before MLBS_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _parse_tiles(raw: object, where: str, root: Path) -> tuple[str, ...]:
    """A list of tile names, or {glob: pattern}: the names are the matching files' stems."""
    if isinstance(raw, dict) and set(raw) == {"glob"} and isinstance(raw["glob"], str):
        pattern = root / raw["glob"]
        names = sorted((p.stem for p in pattern.parent.resolve().glob(pattern.name)), key=_natural)
        # an absent data folder leaves the entry unavailable, not malformed (as for missing files)
        return tuple(names) or (f"<no file matches {raw['glob']}>",)
    _check(isinstance(raw, list) and len(raw) > 0 and all(isinstance(t, str) for t in raw),
           f"{where}: expected a list of tile names or {{glob: pattern}}, found {_found(raw)}")
    assert isinstance(raw, list)
    _check(len(set(raw)) == len(raw), f"{where}: tile names must be unique, found {raw}")
    return tuple(raw)


def _parse_entry(name: str, raw: object, root: Path) -> CatalogEntry:
    where = f"catalog entry {name!r}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping of fields, found {_found(raw)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DataError(f"{where}, field 'kind': expected one of {list(KINDS)}, found {kind!r}")
    unknown = sorted(set(raw) - _FIELDS[kind])
    _check(not unknown, f"{where}: unknown field(s) {unknown} for kind {kind!r}; allowed: {sorted(_FIELDS[kind])}")
    missing = [k for k in _REQUIRED[kind] if k not in raw]
    _check(not missing, f"{where}: missing required field(s) {missing} for kind {kind!r}")
    for text in ("description", "citation", "licence"):
        _check(isinstance(raw.get(text, ""), str), f"{where}, field {text!r}: expected text, found {_found(raw.get(text))}")
    common: dict[str, Any] = {t: raw.get(t, "").strip() for t in ("description", "citation", "licence")}
    common["metadata"] = _parse_mapping(raw, "metadata", where)
    if kind == "synthetic":
        return CatalogEntry(name, kind, params=_parse_mapping(raw, "params", where), **common)

    path = raw.get("path")
    _check(path is None or isinstance(path, str), f"{where}, field 'path': expected a string, found {_found(path)}")
    default = (root / path).resolve() if isinstance(path, str) else None
    n_classes = raw.get("n_classes")
    _check(n_classes is None or (type(n_classes) is int and n_classes > 0),
           f"{where}, field 'n_classes': expected a positive integer, found {n_classes!r}")
    names = raw.get("class_names")
    if isinstance(names, list):
        _check(all(isinstance(v, str) for v in names), f"{where}, field 'class_names': expected a list of strings, found {names!r}")
        common["class_names"] = tuple(names)
    elif names is not None:
        common["class_names"] = _parse_ref(names, f"{where}, field 'class_names'", root, default)
    common["n_classes"] = n_classes
    if kind == "pixel":
        return CatalogEntry(name, kind, **_parse_pixel(raw, where, root, default), **common)

    if kind == "tiles":  # a string is a file path with "{tile}" (tiles have no shared `path`)
        raw = {**raw, "modalities": {m: {"path": v} if isinstance(v, str) else v
                                     for m, v in _parse_mapping(raw, "modalities", where, required=True).items()}}
    modalities = {m: _parse_ref(v, f"{where}, modality {m!r}", root, default)
                  for m, v in _parse_mapping(raw, "modalities", where, required=True).items()}
    nodata = {}
    for m, policy in _parse_mapping(raw, "nodata", where).items():
        _check(m in modalities, f"{where}, field 'nodata': expected a modality name of {sorted(modalities)}, found {m!r}")
        nodata[m] = parse_policy(policy, f"{where}, field 'nodata', modality {m!r}")
    common["nodata"] = nodata
    gt_raw = raw["gt"]
    gt = (_parse_vector(gt_raw, f"{where}, field 'gt'", root) if isinstance(gt_raw, dict) and "vector" in gt_raw
          else _parse_ref(gt_raw, f"{where}, field 'gt'", root, default))
    if kind == "tiles":
        _check(isinstance(gt, VectorLabels), f"{where}, field 'gt': expected polygons {{vector: file, class_field: ...}} "
               f"for kind 'tiles', found {_found(gt_raw)}")
        pad = raw["pad"]
        _check(type(pad) is int and pad >= 0, f"{where}, field 'pad': expected an integer >= 0 (patch side <= 2 * pad + 1), found {pad!r}")
        tiles = _parse_tiles(raw["tiles"], f"{where}, field 'tiles'", root)
        return CatalogEntry(name, kind, modalities=modalities, gt=gt, tiles=tiles, pad=pad, **common)
    has_train, has_test = "train_mask" in raw, "test_mask" in raw
    _check(has_train == has_test, f"{where}: give both 'train_mask' and 'test_mask' or neither, "
           f"found only {'train_mask' if has_train else 'test_mask'!r}")
    train, test = (_parse_ref(raw[k], f"{where}, field {k!r}", root, default) if k in raw else None
                   for k in ("train_mask", "test_mask"))
    return CatalogEntry(name, kind, modalities=modalities, gt=gt, train_mask=train, test_mask=test, **common)


def load_catalog(path: str | Path | None = None) -> dict[str, CatalogEntry]:
    """Read and schema-check a catalog (default: data_catalog.yaml at the repo root, the parent
    of the bdgf_nb package). Relative paths in entries resolve against the catalog's folder."""
    path = Path(path) if path is not None else CATALOG_PATH
    _check(path.is_file(), f"catalog not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"catalog {path}: not valid YAML ({err})") from None
    _check(isinstance(raw, dict) and len(raw) > 0,
           f"catalog {path}: expected a mapping of dataset name -> entry, found {_found(raw)}")
    return {str(name): _parse_entry(str(name), entry, path.parent) for name, entry in raw.items()}


def _as_catalog(catalog: dict[str, CatalogEntry] | str | Path | None) -> dict[str, CatalogEntry]:
    return catalog if isinstance(catalog, dict) else load_catalog(catalog)


def available_datasets(catalog: dict[str, CatalogEntry] | str | Path | None = None) -> list[str]:
    """Names of the synthetic datasets and of those whose files are all present, catalog order."""
    return [name for name, entry in _as_catalog(catalog).items() if entry.available]


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
    """Refuse, before reading any data, a scene whose arrays will not fit (guards.scene_bytes)."""
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
    entries = _as_catalog(catalog)
    _check(name in entries, f"unknown dataset {name!r}; known: {sorted(entries)}")
    entry = entries[name]
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
    parsed = _parse_entry(name, entry, path.parent.resolve())
    missing = [str(p) for p in parsed.files() if not p.is_file()]
    _check(not missing, f"catalog {path}, entry {name!r}: file(s) not found: {missing} "
           f"(relative paths start at {path.parent.resolve()})")
    if check_load:
        load_scene(name, {name: parsed})
    text = path.read_text() if path.is_file() else ""
    block = yaml.safe_dump({name: entry}, sort_keys=False, allow_unicode=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + block)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return parsed
