"""What every file-backed scene kind shares: the modalities of one grid, read through the readers
(readers.py), GeoTIFFs resampled onto the first modality's grid (geotiff.py) and each one's
nodata policy applied (nodata.py); the entry's metadata and declared class names.

Glossary: H, W image size; C channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bdgf_nb.data.catalog import BandSelection, CatalogEntry
from bdgf_nb.data.checks import check, validate_modality
from bdgf_nb.data.geotiff import Grid, check_overlap, resample
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
        "modality_files": {m: str(ref) for m, ref in entry.modalities.items()},
        **({"split_settings": entry.split} if entry.split else {}),
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
    (H, W) bool, pixels a `mask` policy takes out (`masked`: the same per modality, for the load
    report); `report` goes into Scene.metadata."""

    modalities: dict[str, np.ndarray]
    grid: Grid | None
    unlabel: np.ndarray
    report: dict[str, Any]
    masked: dict[str, np.ndarray] = field(default_factory=dict)

    def labelled_masked(self, gt: np.ndarray) -> dict[str, int]:
        """Modality -> labelled pixels of `gt` its `mask` policy unlabels."""
        return {m: int((holes & (gt > 0)).sum()) for m, holes in self.masked.items()}


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


def axis_hint(shape: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """A hint when an (a, b, c) array read as (H, W, C) is (C, H, W) of the `expected` (H, W)."""
    if len(shape) == 3 and tuple(shape[1:]) == tuple(expected):
        return (
            f"; the array looks bands-first, (C, H, W) = {tuple(shape)}: save it channels-last, "
            "(H, W, C), e.g. np.save(path, np.moveaxis(array, 0, -1)) (GeoTIFF and ENVI are read channels-last already)"
        )
    return ""


def select_bands(
    array: np.ndarray, selection: BandSelection | None, modality: str, where: str, events: list[dict[str, Any]]
) -> np.ndarray:
    """(H, W, C) -> (H, W, C') the bands the catalog keeps (`bands:` / `drop_bands:`); the dropped
    ones are recorded in `events` for the load report."""
    if selection is None:
        return array
    kept = selection.indices(array.shape[2], where)
    dropped = [b for b in range(array.shape[2]) if b not in kept]
    if dropped:
        events.append(
            {
                "subject": modality,
                "action": "dropped",
                "count": len(dropped),
                "unit": "bands",
                "rule": f"{selection.rule} (catalog)",
                "labelled_removed": 0,
                "detail": f"bands {dropped} of {array.shape[2]}",
            }
        )
    return np.ascontiguousarray(array[:, :, kept])


def check_dead_bands(array: np.ndarray, modality: str, where: str) -> None:
    """A band with no finite value in any pixel (all NaN or the file's nodata value) makes every
    pixel a hole, so no nodata policy can help: refuse it, naming the band and the fix."""
    finite = np.isfinite(array).reshape(-1, array.shape[2]).any(axis=0)
    dead = np.flatnonzero(~finite).tolist()
    check(
        not dead,
        f"{where}: band(s) {dead} (0-based, of {array.shape[2]}) are nodata in every pixel (NaN or the "
        f"file's nodata value); expected data in every band. Leave them out in the catalog entry: "
        f"`drop_bands: {{{modality}: {dead}}}`"
        + (" (or leave the modality out)" if len(dead) == array.shape[2] else ""),
    )


def coverage_cause(reader: Reader, ref: ArrayRef, where: str, grid: Grid | None) -> str | None:
    """Why a resampled raster has holes on the reference grid: the share of the grid its bounds
    cover, when less than all of it (partial coverage, not NaN in the file); None otherwise."""
    own = reader.grid(ref, where)
    if own is None or grid is None or own.same_as(grid):
        return None
    share = check_overlap(own, grid, where)
    if share >= 1 - 1e-9:
        return None
    return (
        f"partial coverage: {ref.path.name} covers {100 * share:.1f} % of the reference grid "
        f"(its bounds {tuple(round(b, 3) for b in own.bounds)}, the grid's {tuple(round(b, 3) for b in grid.bounds)})"
    )


def stack_modalities(entry: CatalogEntry, refs: dict[str, ArrayRef], reader: Reader, where: str) -> ModalityStack:
    """Read the modalities onto the first one's grid, then apply each one's nodata policy."""
    modalities: dict[str, np.ndarray] = {}
    first = next(iter(refs.values()))
    grid = reader.grid(first, f"{where}, modality {next(iter(refs))!r} ({first})")
    shape: tuple[int, ...] | None = None
    unlabel: np.ndarray | None = None
    masked: dict[str, np.ndarray] = {}
    report: dict[str, Any] = {"resampled": {}, "nodata": {}, "events": []}
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
            f"{shape}; expected one grid (or GeoTIFFs, which are resampled onto the first one's grid)"
            + axis_hint(array.shape, shape),
        )
        array = select_bands(array, entry.bands.get(name), name, m_where, report["events"])
        check_dead_bands(array, name, m_where)
        cause = coverage_cause(reader, ref, m_where, grid) if rule is not None else None
        array, holes, report["nodata"][name] = apply_policy(array, entry.nodata.get(name), m_where, name, cause)
        if holes.any():
            masked[name] = holes
        unlabel = holes if unlabel is None else unlabel | holes
        modalities[name] = array
    assert unlabel is not None
    return ModalityStack(modalities, grid, unlabel, report, masked)
