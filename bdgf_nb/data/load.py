"""Every scene enters the pipeline here: `load_scene(name)` turns a catalog entry (catalog.py)
into a validated `Scene` (a full (H, W) grid) or `PixelScene` (one row per labelled pixel), by
its kind: `synthetic` (synthetic.py), `scene` (raster_scene.py), `tiles` (tiles.py), `pixel`
(pixel_table.py) or `benchmark` (a standard benchmark's recipe, benchmark_load.py).
`write_catalog_entry` appends a validated entry for a user's files.

Every check raises `DataError` naming the dataset, file, key and what was expected and found.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from bdgf_nb.data.benchmark_load import load_benchmark
from bdgf_nb.data.benchmarks import benchmark
from bdgf_nb.data.catalog import CatalogEntry, catalog_entry, load_catalog, parse_entry
from bdgf_nb.data.checks import check
from bdgf_nb.data.pixel_table import load_pixel_scene
from bdgf_nb.data.raster_scene import load_raster_scene
from bdgf_nb.data.readers import Reader
from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.data.tiles import load_tile_scene
from bdgf_nb.storage import atomic_write_text


def load_scene(
    name: str, catalog: dict[str, CatalogEntry] | str | Path | None = None, **overrides: Any
) -> Scene | PixelScene:
    """Load and validate one catalog dataset.

    catalog: entries from `load_catalog`, a catalog path, or None for the repo's catalog.
    overrides: synthetic generator parameters (e.g. seed=3, size=64); file datasets take none.
    """
    entry = catalog_entry(name, catalog)
    if entry.kind == "synthetic":
        from bdgf_nb.data.synthetic import load_synthetic_scene  # lazy: the generator is heavy

        return load_synthetic_scene(entry, overrides)
    check(not overrides, f"dataset {name!r} is read from files and takes no overrides, found {sorted(overrides)}")
    if entry.kind == "benchmark":
        scene = load_benchmark(benchmark(entry.recipe), entry.benchmark_folder(), reduced=entry.reduced)
        return replace(scene, name=name) if name != entry.recipe else scene
    if entry.kind == "tiles":
        return load_tile_scene(entry)
    reader = Reader()
    return load_raster_scene(entry, reader) if entry.kind == "scene" else load_pixel_scene(entry, reader)


def write_catalog_entry(catalog: str | Path, name: str, entry: dict[str, Any], check_load: bool = True) -> CatalogEntry:
    """Append one entry for a user's own files to the catalog at `catalog` (created if absent).

    The entry is schema-checked with paths relative to that catalog's folder, every file must
    exist, and (check_load) the scene must load; only then is the file rewritten, atomically
    (a temporary file replaces it), so a bad entry leaves the catalog as it was.
    -> the parsed entry."""
    path = Path(catalog)
    check(
        isinstance(name, str) and name.strip() == name and name != "",
        f"catalog {path}: expected a dataset name without surrounding spaces, found {name!r}",
    )
    existing = load_catalog(path) if path.is_file() else {}
    check(
        name not in existing,
        f"catalog {path}: dataset {name!r} exists already; expected a new name (known: {sorted(existing)})",
    )
    parsed = parse_entry(name, entry, path.parent.resolve())
    missing = [str(p) for p in parsed.files() if not p.is_file()]
    check(
        not missing,
        f"catalog {path}, entry {name!r}: file(s) not found: {missing} "
        f"(relative paths start at {path.parent.resolve()})",
    )
    if check_load:
        load_scene(name, {name: parsed})
    text = path.read_text() if path.is_file() else ""
    block = yaml.safe_dump({name: entry}, sort_keys=False, allow_unicode=True)
    atomic_write_text(text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + block, path)
    return parsed
