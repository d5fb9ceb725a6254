"""What every file-backed scene kind shares: the modalities of one grid, read through the readers
(readers.py), GeoTIFFs resampled onto the first modality's grid (geotiff.py) and each one's
nodata policy applied (nodata.py); the entry's metadata and declared class names.

Glossary: H, W image size; C channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bdgf_nb.data.catalog import CatalogEntry
from bdgf_nb.data.checks import check, validate_modality
from bdgf_nb.data.geotiff import Grid, resample
from bdgf_nb.data.nodata import apply_policy
from bdgf_nb.data.readers import ArrayRef, Reader


def entry_metadata(entry: CatalogEntry) -> dict[str, Any]:
    """The entry's own description, citation, licence, files and metadata, for Scene.metadata."""
    return {
        "dataset": entry.name,
        "description": entry.description,
        "citation": entry.citation,
        "licence": entry.licence,
        "files": [str(p) for p in entry.files()],
        **entry.metadata,
    }


def declared_class_names(entry: CatalogEntry, reader: Reader) -> tuple[tuple[str, ...] | None, int | None]:
    """-> (declared names or None, declared class count or None). Names come from the YAML or an
    array of strings (str, bytes, or a MATLAB cell)."""
    names = entry.class_names
    if isinstance(names, ArrayRef):
        where = f"dataset {entry.name!r}, class_names ({names})"
        array = reader.read(names, where)
        if array.dtype.kind == "O":  # MATLAB cell: each cell a 1-element string array
            array = np.array([str(np.asarray(c).ravel()[0]) if np.asarray(c).size else "" for c in array.ravel()])
        check(array.dtype.kind in "US", f"{where}: expected strings, found dtype {array.dtype}")
        names = tuple(str(s.decode() if isinstance(s, bytes) else s).strip() for s in array.ravel())
    if names is None:
        return None, entry.n_classes
    check(
        entry.n_classes in (None, len(names)),
        f"dataset {entry.name!r}: n_classes is {entry.n_classes} but class_names has {len(names)} names",
    )
    return names, len(names)


def default_class_names(n_classes: int) -> tuple[str, ...]:
    """ "class 1", "class 2", ... for a scene that names none."""
    return tuple(f"class {c}" for c in range(1, n_classes + 1))


@dataclass
class ModalityStack:
    """The modalities of one grid after resampling and nodata: (H, W, C) float32 each; `unlabel`
    (H, W) bool, pixels a `mask` policy takes out; `report` goes into Scene.metadata."""

    modalities: dict[str, np.ndarray]
    grid: Grid | None
    unlabel: np.ndarray
    report: dict[str, Any]


def read_on_grid(
    reader: Reader, ref: ArrayRef, where: str, grid: Grid | None, labels: bool
) -> tuple[np.ndarray, str | None]:
    """Read `ref`; a GeoTIFF on another grid than the reference `grid` is resampled onto it
    (geotiff.py states the rule, returned as the second value)."""
    array = reader.read(ref, where)
    own = reader.grid(ref, where)
    if labels and array.dtype.kind == "f":
        array = np.where(np.isnan(array), 0, array)  # a label raster's nodata is "unlabelled"
    if own is None or grid is None or own.same_as(grid):
        return array, None
    return resample(array, own, grid, where, labels=labels)


def stack_modalities(entry: CatalogEntry, refs: dict[str, ArrayRef], reader: Reader, where: str) -> ModalityStack:
    """Read the modalities onto the first one's grid, then apply each one's nodata policy."""
    modalities: dict[str, np.ndarray] = {}
    first = next(iter(refs.values()))
    grid = reader.grid(first, f"{where}, modality {next(iter(refs))!r} ({first})")
    shape: tuple[int, ...] | None = None
    unlabel: np.ndarray | None = None
    report: dict[str, Any] = {"resampled": {}, "nodata": {}}
    for i, (name, ref) in enumerate(refs.items()):
        m_where = f"{where}, modality {name!r} ({ref})"
        array, rule = read_on_grid(reader, ref, m_where, grid, labels=False)
        if rule is not None:
            report["resampled"][name] = rule
        array = validate_modality(array, m_where, spectral=i == 0, finite=False)
        shape = shape or array.shape[:2]
        check(
            array.shape[:2] == shape,
            f"{m_where}: spatial shape {array.shape[:2]} does not match the first modality's "
            f"{shape}; expected one grid (or GeoTIFFs, which are resampled onto the first one's grid)",
        )
        array, holes, report["nodata"][name] = apply_policy(array, entry.nodata.get(name), m_where, name)
        unlabel = holes if unlabel is None else unlabel | holes
        modalities[name] = array
    assert unlabel is not None
    return ModalityStack(modalities, grid, unlabel, report)
