"""Dataset catalog, array readers and input checks: every scene enters the pipeline here.

`data_catalog.yaml` at the repo root names datasets (its schema is documented at its top);
`load_scene(name)` turns one entry into a validated `Scene` (a full (H, W) grid) or `PixelScene`
(one row per labelled pixel). Readers take arrays by key from `.npz`, MATLAB `.mat` (v5 via
scipy, v7.3 via h5py) and ENVI (`.hdr` + data file, via `spectral`).

Every check raises `DataError` naming the dataset, file, key and what was expected and found, so
a user bringing their own scene never sees a traceback from deep inside numpy.

Glossary: H, W image size; C channels; N labelled pixels (rows of a pixel scene); N_p the rows
of one part of a pixel scene.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io
import yaml

from bdgf_nb.data.scene import (
    PixelScene,
    Scene,
    as_integers,
    validate_dtype,
    validate_finite,
    validate_labels,
)
from bdgf_nb.errors import DataError, expect
from bdgf_nb.guards import check_memory, scene_bytes

CATALOG_PATH = Path(__file__).resolve().parents[2] / "data_catalog.yaml"
KINDS = ("synthetic", "scene", "pixel")
_COMMON = {"kind", "description", "citation", "licence", "metadata"}
_FIELDS = {
    "synthetic": _COMMON | {"params"},
    "scene": _COMMON | {"path", "modalities", "gt", "train_mask", "test_mask", "class_names", "n_classes"},
    "pixel": _COMMON | {"path", "modalities", "parts", "image_shape", "class_names", "n_classes"},
}
_REQUIRED = {"synthetic": (), "scene": ("modalities", "gt"), "pixel": ("parts", "modalities")}


def _check(condition: bool, message: str) -> None:
    expect(condition, DataError, message)


# --- catalog entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrayRef:
    """One array in one file; `key` is None for single-image formats (ENVI)."""

    path: Path
    key: str | None = None

    def __str__(self) -> str:
        return str(self.path) if self.key is None else f"{self.path} [key {self.key!r}]"


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

    kind "synthetic" uses `params`; "scene" uses `modalities`, `gt` and the masks; "pixel" uses
    `parts`, `pixel_modalities` and `image_shape`; `class_names` / `n_classes` serve both file
    kinds. `metadata` is copied into the scene's metadata.
    """

    name: str
    kind: str
    description: str = ""
    citation: str = ""
    licence: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    modalities: dict[str, ArrayRef] = field(default_factory=dict)
    gt: ArrayRef | None = None
    train_mask: ArrayRef | None = None
    test_mask: ArrayRef | None = None
    parts: tuple[PixelPart, ...] = ()
    pixel_modalities: dict[str, PixelModality] = field(default_factory=dict)
    image_shape: tuple[int, int] | ArrayRef | None = None
    class_names: tuple[str, ...] | ArrayRef | None = None
    n_classes: int | None = None

    def files(self) -> list[Path]:
        """Every file the entry reads, without repeats."""
        refs = [*self.modalities.values(), self.gt, self.train_mask, self.test_mask]
        for part in self.parts:
            refs += [part.labels, part.coords]
        for modality in self.pixel_modalities.values():
            refs += [*modality.tables, modality.raster]
        refs += [r for r in (self.image_shape, self.class_names) if isinstance(r, ArrayRef)]
        return list(dict.fromkeys(r.path for r in refs if r is not None))

    @property
    def available(self) -> bool:
        """Synthetic, or every file present."""
        return self.kind == "synthetic" or all(p.is_file() for p in self.files())


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

    modalities = {m: _parse_ref(v, f"{where}, modality {m!r}", root, default)
                  for m, v in _parse_mapping(raw, "modalities", where, required=True).items()}
    has_train, has_test = "train_mask" in raw, "test_mask" in raw
    _check(has_train == has_test, f"{where}: give both 'train_mask' and 'test_mask' or neither, "
           f"found only {'train_mask' if has_train else 'test_mask'!r}")
    train, test = (_parse_ref(raw[k], f"{where}, field {k!r}", root, default) if k in raw else None
                   for k in ("train_mask", "test_mask"))
    gt = _parse_ref(raw["gt"], f"{where}, field 'gt'", root, default)
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


# --- readers ----------------------------------------------------------------------------------


def _unreadable(where: str, path: Path, what: str, err: Exception) -> DataError:
    return DataError(f"{where}: cannot read {path} as {what} ({type(err).__name__}: {err}); "
                     "is the file truncated or corrupt?")


def _pick_key(where: str, path: Path, key: str | None, keys: list[str]) -> str:
    if key is None:
        raise DataError(f"{where}: {path} holds several arrays; name one with `key`; available keys: {keys}")
    _check(key in keys, f"{where}: {path} has no key {key!r}; available keys: {keys}")
    return key


def _read_npz(path: Path, key: str | None, where: str) -> np.ndarray:
    with open(path, "rb") as handle:
        head = handle.read(6)
    if not head.startswith((b"PK", b"\x93NUMPY")):  # np.load would call any other bytes "pickled data"
        raise _unreadable(where, path, ".npz archive", ValueError(f"not a zip archive, starts with {head!r}"))
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:
        raise _unreadable(where, path, ".npz archive", err) from None
    _check(isinstance(archive, np.lib.npyio.NpzFile), f"{where}: {path} is a single .npy array, expected an .npz archive")
    with archive:
        key = _pick_key(where, path, key, sorted(archive.files))
        try:
            return np.asarray(archive[key])
        except Exception as err:
            if "allow_pickle" in str(err):  # numpy refuses object arrays without pickle
                raise DataError(f"{where}: {path} key {key!r} holds an object array; expected a numeric array") from None
            raise _unreadable(where, path, ".npz archive", err) from None


def _read_mat73(path: Path, key: str | None, where: str) -> np.ndarray:
    """MATLAB v7.3 is HDF5 in column-major order: a MATLAB (H, W, C) array is stored (C, W, H),
    so every array is transposed back. Logical and char arrays keep their MATLAB meaning."""
    try:
        with h5py.File(path, "r") as f:
            key = _pick_key(where, path, key, sorted(k for k in f if not k.startswith("#")))
            node = f[key]
            _check(isinstance(node, h5py.Dataset),
                   f"{where}: {path} key {key!r} is a MATLAB struct or cell (HDF5 group); expected a numeric array")
            array = np.asarray(node[()]).T
            matlab_class = node.attrs.get("MATLAB_class", b"")
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(where, path, "MATLAB v7.3 (HDF5) file", err) from None
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    if matlab_class == "logical":
        return array.astype(bool)
    if matlab_class == "char":  # a char matrix: one string per row, UTF-16 code units
        return np.array(["".join(map(chr, row)).rstrip("\x00 ") for row in np.atleast_2d(array)])
    return array


def _read_envi(path: Path, key: str | None, where: str) -> np.ndarray:
    _check(key is None, f"{where}: ENVI file {path} holds one image and takes no key, found key {key!r}")
    import spectral.io.envi as envi  # imported here: only ENVI users pay for it

    try:
        return np.asarray(envi.open(str(path)).load())  # (rows, cols, bands) for any interleave
    except Exception as err:
        raise _unreadable(where, path, "ENVI image (header + data file)", err) from None


class _Reader:
    """Reads arrays by reference; each MATLAB v5 file is parsed once per reader."""

    def __init__(self) -> None:
        self._mat5: dict[Path, dict[str, Any]] = {}

    def read(self, ref: ArrayRef, where: str) -> np.ndarray:
        path, key = ref.path, ref.key
        _check(path.is_file(), f"{where}: file not found: {path}")
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return _read_npz(path, key, where)
        if suffix == ".hdr":
            return _read_envi(path, key, where)
        _check(suffix == ".mat", f"{where}: unsupported file type {suffix!r} of {path}; "
               "expected .npz, .mat (v5 or v7.3) or .hdr (ENVI header)")
        if h5py.is_hdf5(path):
            return _read_mat73(path, key, where)
        if path not in self._mat5:
            try:
                self._mat5[path] = scipy.io.loadmat(path)
            except Exception as err:
                raise _unreadable(where, path, "MATLAB v5 file", err) from None
        contents = self._mat5[path]
        key = _pick_key(where, path, key, sorted(k for k in contents if not k.startswith("__")))
        return np.asarray(contents[key])

    def shape(self, ref: ArrayRef) -> tuple[int, ...] | None:
        """The array's shape from the file's header, without reading its data (for the memory
        guard); None when it cannot be told (the read itself then reports the problem)."""
        path, key = ref.path, ref.key
        try:
            suffix = path.suffix.lower()
            if suffix == ".npz":
                with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
                    version = np.lib.format.read_magic(member)
                    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    return tuple(header(member)[0])
            if suffix == ".hdr":
                import spectral.io.envi as envi

                return tuple(envi.open(str(path)).shape)
            if suffix == ".mat" and h5py.is_hdf5(path):
                with h5py.File(path, "r") as f:
                    return tuple(f[key].shape[::-1])
            if suffix == ".mat":
                return next(tuple(shape) for name, shape, _ in scipy.io.whosmat(path) if name == key)
        except Exception:  # noqa: BLE001 (any failure: no estimate; the read reports it)
            return None
        return None


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """One array from .npz / .mat (v5, or v7.3 transposed back to MATLAB's axis order) / ENVI
    .hdr (no key; returned (rows, cols, bands)). Raises DataError naming the file and key."""
    return _Reader().read(ArrayRef(Path(path), key), str(path))


# --- validation -------------------------------------------------------------------------------


def validate_modality(array: np.ndarray, where: str, spectral: bool = False) -> np.ndarray:
    """-> (H, W, C) float32, finite. An auxiliary (H, W) image (a DSM) gets a channel axis; the
    spectral image must already be (H, W, C)."""
    validate_dtype(array, where)
    if array.ndim == 2 and not spectral:
        array = array[:, :, None]
    hint = " (a pixel table belongs in a `kind: pixel` entry; one band is (H, W, 1))" if array.ndim == 2 else ""
    _check(array.ndim == 3, f"{where}: expected (H, W, C), found shape {array.shape}{hint}")
    array = array.astype(np.float32)
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


def _load_grid(entry: CatalogEntry, reader: _Reader) -> Scene:
    assert entry.gt is not None  # guaranteed by the schema of kind "scene"
    where = f"dataset {entry.name!r}"
    _check_scene_memory(entry, reader)
    gt_where = f"{where}, gt ({entry.gt})"
    gt = reader.read(entry.gt, gt_where)
    if gt.ndim == 3 and gt.shape[2] == 1:
        gt = gt[:, :, 0]
    _check(gt.ndim == 2, f"{gt_where}: expected (H, W) labels, found shape {gt.shape}")
    names, declared = _class_names(entry, reader)
    gt, n_classes = validate_labels(gt, gt_where, declared)

    modalities = {}
    for i, (name, ref) in enumerate(entry.modalities.items()):
        m_where = f"{where}, modality {name!r} ({ref})"
        array = validate_modality(reader.read(ref, m_where), m_where, spectral=i == 0)
        _check(array.shape[:2] == gt.shape, f"{m_where}: spatial shape {array.shape[:2]} does not match the gt's {gt.shape}")
        modalities[name] = array

    masks: dict[str, np.ndarray | None] = {"train_mask": None, "test_mask": None}
    for mask_name in masks:
        ref = getattr(entry, mask_name)
        if ref is not None:
            mask_where = f"{where}, {mask_name} ({ref})"
            masks[mask_name] = validate_mask(reader.read(ref, mask_where), gt.shape, mask_where)
    train, test = masks["train_mask"], masks["test_mask"]
    if train is not None and test is not None:
        validate_disjoint(train, test, where)
    return Scene(name=entry.name, modalities=modalities, gt=gt, class_names=names or _default_names(n_classes),
                 train_mask=train, test_mask=test, metadata=_entry_metadata(entry))


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
    reader = _Reader()
    return _load_grid(entry, reader) if entry.kind == "scene" else _load_pixels(entry, reader)
