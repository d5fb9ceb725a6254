"""Dataset catalog: the schema of `data_catalog.yaml` (or a user's own catalog) and its entries.

`data_catalog.yaml` at the repo root names datasets (its schema is documented at its top); a
user's own catalog works the same (`load_catalog(path)`, relative paths from that catalog's
folder). This module parses and checks entries; `data/load.py` turns one into a validated scene
(`load_scene`) and appends new ones (`write_catalog_entry`).

Every check raises `DataError` naming the catalog, entry and field, what was expected and what
was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bdgf_nb.data.benchmarks import BENCHMARKS, ReducedCopy, benchmark, find_member, present_layout
from bdgf_nb.data.checks import check
from bdgf_nb.data.nodata import NodataPolicy, parse_policy
from bdgf_nb.data.readers import ArrayRef
from bdgf_nb.data.vector import VectorLabels
from bdgf_nb.errors import DataError

CATALOG_PATH = Path(__file__).resolve().parents[2] / "data_catalog.yaml"
KINDS = ("synthetic", "scene", "pixel", "tiles", "benchmark")
_COMMON = {"kind", "description", "citation", "licence", "metadata"}
_FIELDS = {
    "synthetic": _COMMON | {"params"},
    "scene": _COMMON | {"path", "modalities", "gt", "train_mask", "test_mask", "class_names", "n_classes", "nodata"},
    "pixel": _COMMON | {"path", "modalities", "parts", "image_shape", "class_names", "n_classes"},
    "tiles": _COMMON | {"tiles", "modalities", "gt", "pad", "class_names", "n_classes", "nodata"},
    "benchmark": _COMMON | {"recipe", "path", "reduced"},
}
_REQUIRED = {
    "synthetic": (),
    "scene": ("modalities", "gt"),
    "pixel": ("parts", "modalities"),
    "tiles": ("tiles", "modalities", "gt", "pad"),
    "benchmark": ("recipe",),
}
_VECTOR_FIELDS = {"vector", "class_field", "join", "min_pixels", "min_groups", "rare"}


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
    kind; "benchmark" names a standard benchmark's `recipe` (benchmarks.py) and reads its files
    from `folder` (None: the data directory's sub-folder of that name, resolved when used), a
    spatially `reduced` copy of them when given (benchmarks.ReducedCopy).
    `metadata` is copied into the scene's metadata.
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
    recipe: str = ""  # kind "benchmark"
    folder: Path | None = None  # kind "benchmark": where its files are (None: data_dir() / recipe)
    reduced: ReducedCopy | None = None  # kind "benchmark": the files are a reduced copy of this shape and counts

    def benchmark_folder(self) -> Path:
        return self.folder if self.folder is not None else benchmark(self.recipe).folder()

    def files(self) -> list[Path]:
        """Every file the entry reads, without repeats (every tile's, for kind "tiles"; for a
        benchmark, the members of its layout present, else of its first layout)."""
        if self.kind == "benchmark":
            spec, folder = benchmark(self.recipe), self.benchmark_folder()
            layout = present_layout(spec, folder) or spec.layouts[0]
            return [find_member(folder, m) or folder / m.path for m in layout.members]
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
        if self.kind == "benchmark":
            return present_layout(benchmark(self.recipe), self.benchmark_folder()) is not None
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
            raise DataError(
                f"{where}: key {value!r} needs the entry's `path`, found no `path`; "
                "set `path:` or write {path: file, key: name}"
            )
        return ArrayRef(default, value)
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a key (string) or {{path: file, key: name}}, found {_found(value)}")
    check(
        not set(value) - {"path", "key"},
        f"{where}: unknown field(s) {sorted(set(value) - {'path', 'key'})}; expected path, key",
    )
    path, key = value.get("path"), value.get("key")
    check(key is None or isinstance(key, str), f"{where}: key must be a string, found {_found(key)}")
    if isinstance(path, str):
        return ArrayRef((root / path).resolve(), key)
    check(path is None, f"{where}: path must be a string, found {_found(path)}")
    if default is None:
        raise DataError(f"{where}: no `path` here nor in the entry")
    return ArrayRef(default, key)


def _parse_mapping(raw: dict[str, Any], name: str, where: str, required: bool = False) -> dict[str, Any]:
    value = raw.get(name, {})
    check(
        isinstance(value, dict) and all(isinstance(k, str) for k in value),
        f"{where}, field {name!r}: expected a mapping with string keys, found {_found(value)}",
    )
    check(not required or len(value) > 0, f"{where}, field {name!r}: expected at least one item, found none")
    return dict(value)


def _parse_pixel(raw: dict[str, Any], where: str, root: Path, default: Path | None) -> dict[str, Any]:
    """Fields of a `kind: pixel` entry: parts, modalities (tables or rasters), image_shape."""
    parts_raw = raw["parts"]
    check(
        isinstance(parts_raw, list) and len(parts_raw) > 0,
        f"{where}, field 'parts': expected a non-empty list of {{labels, coords, name}}, found {_found(parts_raw)}",
    )
    parts = []
    for i, part in enumerate(parts_raw):
        pw = f"{where}, parts[{i}]"
        if not isinstance(part, dict):
            raise DataError(f"{pw}: expected a mapping, found {_found(part)}")
        unknown = sorted(set(part) - {"labels", "coords", "name"})
        check(not unknown, f"{pw}: unknown field(s) {unknown}; expected labels, coords, name")
        missing = [k for k in ("labels", "coords") if k not in part]
        check(not missing, f"{pw}: missing field(s) {missing}")
        name = part.get("name")
        check(name is None or isinstance(name, str), f"{pw}, field 'name': expected a string, found {_found(name)}")
        parts.append(
            PixelPart(
                _parse_ref(part["labels"], f"{pw}, field 'labels'", root, default),
                _parse_ref(part["coords"], f"{pw}, field 'coords'", root, default),
                name,
            )
        )
    names = [p.name for p in parts if p.name is not None]
    check(len(names) == len(set(names)), f"{where}, field 'parts': part names must be unique, found {names}")

    modalities = {}
    for mname, value in _parse_mapping(raw, "modalities", where, required=True).items():
        mw = f"{where}, modality {mname!r}"
        if isinstance(value, dict) and "raster" in value:
            check(set(value) == {"raster"}, f"{mw}: a raster takes only `raster: ref`, found fields {sorted(value)}")
            modalities[mname] = PixelModality(raster=_parse_ref(value["raster"], mw, root, default))
            continue
        values = value if isinstance(value, list) else [value]
        check(len(values) == len(parts), f"{mw}: expected one table per part ({len(parts)}), found {len(values)}")
        modalities[mname] = PixelModality(tables=tuple(_parse_ref(v, mw, root, default) for v in values))

    shape = raw.get("image_shape")
    image_shape: tuple[int, int] | ArrayRef | None = None
    if isinstance(shape, list):
        check(
            len(shape) == 2 and all(type(s) is int and s > 0 for s in shape),
            f"{where}, field 'image_shape': expected [H, W] positive integers, found {shape!r}",
        )
        image_shape = (shape[0], shape[1])
    elif shape is not None:
        image_shape = _parse_ref(shape, f"{where}, field 'image_shape'", root, default)
    check(
        image_shape is not None or any(m.raster is not None for m in modalities.values()),
        f"{where}: field 'image_shape' is required when no modality is a raster",
    )
    return {"parts": tuple(parts), "pixel_modalities": modalities, "image_shape": image_shape}


def _parse_vector(raw: dict[str, Any], where: str, root: Path) -> VectorLabels:
    """`{vector: file, class_field: name, join: {csv: file, key: name}, min_pixels: n,
    min_groups: n, rare: drop | other}`; paths relative to the catalog."""
    unknown = sorted(set(raw) - _VECTOR_FIELDS)
    check(not unknown, f"{where}: unknown field(s) {unknown}; expected {sorted(_VECTOR_FIELDS)}")
    check(
        isinstance(raw.get("vector"), str),
        f"{where}, field 'vector': expected a file path, found {_found(raw.get('vector'))}",
    )
    check(
        isinstance(raw.get("class_field"), str),
        f"{where}, field 'class_field': expected an attribute name, found {_found(raw.get('class_field'))}",
    )
    join = raw.get("join")
    check(
        join is None
        or (isinstance(join, dict) and set(join) == {"csv", "key"} and all(isinstance(v, str) for v in join.values())),
        f"{where}, field 'join': expected {{csv: file, key: column}}, found {_found(join)}",
    )
    for count in ("min_pixels", "min_groups"):
        check(
            type(raw.get(count, 0)) is int and raw.get(count, 0) >= 0,
            f"{where}, field {count!r}: expected an integer >= 0, found {_found(raw.get(count))}",
        )
    check(
        raw.get("rare", "drop") in ("drop", "other"),
        f"{where}, field 'rare': expected 'drop' or 'other', found {_found(raw.get('rare'))}",
    )
    return VectorLabels(
        (root / raw["vector"]).resolve(),
        raw["class_field"],
        (root / join["csv"]).resolve() if join else None,
        join["key"] if join else None,
        raw.get("min_pixels", 0),
        raw.get("min_groups", 0),
        raw.get("rare", "drop"),
    )


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
    check(
        isinstance(raw, list) and len(raw) > 0 and all(isinstance(t, str) for t in raw),
        f"{where}: expected a list of tile names or {{glob: pattern}}, found {_found(raw)}",
    )
    assert isinstance(raw, list)
    check(len(set(raw)) == len(raw), f"{where}: tile names must be unique, found {raw}")
    return tuple(raw)


def _parse_reduced(raw: object, where: str) -> ReducedCopy | None:
    """A benchmark entry's `reduced: {shape: [H, W], train: [...], test: [...]}` (or `total:`):
    the shape and per-class counts of a spatially reduced copy of the files."""
    if raw is None:
        return None
    check(isinstance(raw, dict), f"{where}, field 'reduced': expected a mapping, found {_found(raw)}")
    assert isinstance(raw, dict)
    unknown = sorted(set(raw) - {"shape", "train", "test", "total"})
    check(not unknown, f"{where}, field 'reduced': unknown key(s) {unknown}; allowed: shape, train, test, total")

    def integers(key: str) -> tuple[int, ...] | None:
        value = raw.get(key)
        if value is None:
            return None
        check(
            isinstance(value, list) and all(type(v) is int and v >= 0 for v in value),
            f"{where}, field 'reduced.{key}': expected a list of integers >= 0, found {_found(value)}",
        )
        return tuple(value)

    shape = integers("shape")
    check(
        shape is not None and len(shape) == 2 and min(shape) > 0,
        f"{where}, field 'reduced.shape': expected [H, W] of positive integers, found {raw.get('shape')!r}",
    )
    assert shape is not None
    return ReducedCopy((shape[0], shape[1]), integers("train"), integers("test"), integers("total"))


def parse_entry(name: str, raw: object, root: Path) -> CatalogEntry:
    where = f"catalog entry {name!r}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping of fields, found {_found(raw)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DataError(f"{where}, field 'kind': expected one of {list(KINDS)}, found {kind!r}")
    unknown = sorted(set(raw) - _FIELDS[kind])
    check(not unknown, f"{where}: unknown field(s) {unknown} for kind {kind!r}; allowed: {sorted(_FIELDS[kind])}")
    missing = [k for k in _REQUIRED[kind] if k not in raw]
    check(not missing, f"{where}: missing required field(s) {missing} for kind {kind!r}")
    for text in ("description", "citation", "licence"):
        check(
            isinstance(raw.get(text, ""), str), f"{where}, field {text!r}: expected text, found {_found(raw.get(text))}"
        )
    common: dict[str, Any] = {t: raw.get(t, "").strip() for t in ("description", "citation", "licence")}
    common["metadata"] = _parse_mapping(raw, "metadata", where)
    if kind == "synthetic":
        return CatalogEntry(name, kind, params=_parse_mapping(raw, "params", where), **common)
    if kind == "benchmark":
        recipe, folder = raw["recipe"], raw.get("path")
        check(recipe in BENCHMARKS, f"{where}, field 'recipe': expected one of {sorted(BENCHMARKS)}, found {recipe!r}")
        check(
            folder is None or isinstance(folder, str),
            f"{where}, field 'path': expected a folder, found {_found(folder)}",
        )
        return CatalogEntry(
            name,
            kind,
            recipe=recipe,
            folder=(root / folder).resolve() if folder else None,
            reduced=_parse_reduced(raw.get("reduced"), where),
            **common,
        )

    path = raw.get("path")
    check(path is None or isinstance(path, str), f"{where}, field 'path': expected a string, found {_found(path)}")
    default = (root / path).resolve() if isinstance(path, str) else None
    n_classes = raw.get("n_classes")
    check(
        n_classes is None or (type(n_classes) is int and n_classes > 0),
        f"{where}, field 'n_classes': expected a positive integer, found {n_classes!r}",
    )
    names = raw.get("class_names")
    if isinstance(names, list):
        check(
            all(isinstance(v, str) for v in names),
            f"{where}, field 'class_names': expected a list of strings, found {names!r}",
        )
        common["class_names"] = tuple(names)
    elif names is not None:
        common["class_names"] = _parse_ref(names, f"{where}, field 'class_names'", root, default)
    common["n_classes"] = n_classes
    if kind == "pixel":
        return CatalogEntry(name, kind, **_parse_pixel(raw, where, root, default), **common)

    if kind == "tiles":  # a string is a file path with "{tile}" (tiles have no shared `path`)
        raw = {
            **raw,
            "modalities": {
                m: {"path": v} if isinstance(v, str) else v
                for m, v in _parse_mapping(raw, "modalities", where, required=True).items()
            },
        }
    modalities = {
        m: _parse_ref(v, f"{where}, modality {m!r}", root, default)
        for m, v in _parse_mapping(raw, "modalities", where, required=True).items()
    }
    nodata = {}
    for m, policy in _parse_mapping(raw, "nodata", where).items():
        check(
            m in modalities, f"{where}, field 'nodata': expected a modality name of {sorted(modalities)}, found {m!r}"
        )
        nodata[m] = parse_policy(policy, f"{where}, field 'nodata', modality {m!r}")
    common["nodata"] = nodata
    gt_raw = raw["gt"]
    gt = (
        _parse_vector(gt_raw, f"{where}, field 'gt'", root)
        if isinstance(gt_raw, dict) and "vector" in gt_raw
        else _parse_ref(gt_raw, f"{where}, field 'gt'", root, default)
    )
    if kind == "tiles":
        check(
            isinstance(gt, VectorLabels),
            f"{where}, field 'gt': expected polygons {{vector: file, class_field: ...}} "
            f"for kind 'tiles', found {_found(gt_raw)}",
        )
        pad = raw["pad"]
        check(
            type(pad) is int and pad >= 0,
            f"{where}, field 'pad': expected an integer >= 0 (patch side <= 2 * pad + 1), found {pad!r}",
        )
        tiles = _parse_tiles(raw["tiles"], f"{where}, field 'tiles'", root)
        return CatalogEntry(name, kind, modalities=modalities, gt=gt, tiles=tiles, pad=pad, **common)
    has_train, has_test = "train_mask" in raw, "test_mask" in raw
    check(
        has_train == has_test,
        f"{where}: give both 'train_mask' and 'test_mask' or neither, "
        f"found only {'train_mask' if has_train else 'test_mask'!r}",
    )
    train, test = (
        _parse_ref(raw[k], f"{where}, field {k!r}", root, default) if k in raw else None
        for k in ("train_mask", "test_mask")
    )
    return CatalogEntry(name, kind, modalities=modalities, gt=gt, train_mask=train, test_mask=test, **common)


def load_catalog(path: str | Path | None = None) -> dict[str, CatalogEntry]:
    """Read and schema-check a catalog (default: data_catalog.yaml at the repo root, the parent
    of the bdgf_nb package). Relative paths in entries resolve against the catalog's folder.
    The file's entries only; `with_benchmarks` adds the standard benchmarks' names."""
    path = Path(path) if path is not None else CATALOG_PATH
    check(path.is_file(), f"catalog not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"catalog {path}: not valid YAML ({err})") from None
    check(
        isinstance(raw, dict) and len(raw) > 0,
        f"catalog {path}: expected a mapping of dataset name -> entry, found {_found(raw)}",
    )
    return {str(name): parse_entry(str(name), entry, path.parent) for name, entry in raw.items()}


def with_benchmarks(entries: dict[str, CatalogEntry]) -> dict[str, CatalogEntry]:
    """The catalog's entries, then an entry of kind "benchmark" for each standard benchmark
    (benchmarks.BENCHMARKS) the catalog does not define itself: the names every catalog knows."""
    return {**entries, **{name: builtin_benchmark(name) for name in BENCHMARKS if name not in entries}}


def builtin_benchmark(name: str) -> CatalogEntry:
    """The entry every catalog has for a standard benchmark it does not define itself: its
    files under the data directory (benchmarks.data_dir)."""
    spec = benchmark(name)
    return CatalogEntry(
        name, "benchmark", description=spec.title, citation=spec.citation, licence=spec.licence, recipe=name
    )


def as_catalog(catalog: dict[str, CatalogEntry] | str | Path | None) -> dict[str, CatalogEntry]:
    return catalog if isinstance(catalog, dict) else load_catalog(catalog)


def catalog_entry(name: str, catalog: dict[str, CatalogEntry] | str | Path | None = None) -> CatalogEntry:
    """One dataset's entry (a standard benchmark's name included); DataError naming the known
    datasets when `name` is not one."""
    own = as_catalog(catalog)
    entries = with_benchmarks(own)
    check(name in entries, f"unknown dataset {name!r}; known: {sorted(own)}; standard benchmarks: {sorted(BENCHMARKS)}")
    return entries[name]


def available_datasets(catalog: dict[str, CatalogEntry] | str | Path | None = None) -> list[str]:
    """Names of the synthetic datasets and of those whose files are all present, catalog order,
    then the standard benchmarks whose files are present in the data directory."""
    return [name for name, entry in with_benchmarks(as_catalog(catalog)).items() if entry.available]
