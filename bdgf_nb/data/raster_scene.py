"""A `kind: scene` entry: co-registered rasters over one grid, labels as an array or polygons,
optional official train / test masks -> a validated `Scene`.

The modalities come through stacking.py (onto the first one's grid, nodata applied); labels are
resampled onto the same grid (nearest) or rasterised from polygons (vector.py); pixels a nodata
`mask` policy takes out are unlabelled, and counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bdgf_nb.data.catalog import CatalogEntry
from bdgf_nb.data.checks import as_integers, check, validate_disjoint, validate_labels, validate_mask
from bdgf_nb.data.readers import Reader
from bdgf_nb.data.scene import Scene
from bdgf_nb.data.stacking import (
    ModalityStack,
    axis_hint,
    declared_class_names,
    default_class_names,
    entry_metadata,
    read_on_grid,
    stack_modalities,
)
from bdgf_nb.data.vector import VectorLabels, vector_labels
from bdgf_nb.memory import check_memory, scene_bytes


def check_scene_memory(entry: CatalogEntry, reader: Reader) -> None:
    """Refuse, before reading any data, a scene whose arrays will not fit (memory.scene_bytes)."""
    shapes = [
        shape for ref in entry.modalities.values() if (shape := reader.shape(ref)) is not None and len(shape) >= 2
    ]
    if len(shapes) < len(entry.modalities):
        return  # unknown: the reads report malformed files
    height, width = shapes[0][:2]
    channels = sum(int(np.prod(shape[2:])) for shape in shapes)
    check_memory(
        scene_bytes(height, width, channels),
        f"dataset {entry.name!r}: a {height} x {width} scene of {channels} channels",
        hint="crop the scene or reduce its bands (e.g. PCA) before loading",
    )


def read_labels(
    entry: CatalogEntry, reader: Reader, stack: ModalityStack, where: str
) -> tuple[np.ndarray, tuple[str, ...] | None, dict[str, Any]]:
    """(H, W) labels on the stack's grid, names when polygons named them, report."""
    assert entry.gt is not None  # guaranteed by the schema of kinds "scene" and "tiles"
    if isinstance(entry.gt, VectorLabels):
        g_where = f"{where}, gt (polygons {entry.gt.path})"
        check(
            stack.grid is not None,
            f"{g_where}: polygons need a georeferenced reference grid; expected the first "
            "modality as a GeoTIFF, found a file without a CRS / transform",
        )
        assert stack.grid is not None
        maps, names, report = vector_labels(entry.gt, [stack.grid], g_where)
        return maps[0], names, {"labels": report}
    gt_where = f"{where}, gt ({entry.gt})"
    gt, rule = read_on_grid(reader, entry.gt, gt_where, stack.grid, labels=True)
    if gt.ndim == 3 and gt.shape[2] == 1:
        gt = gt[:, :, 0]
    check(gt.ndim == 2, f"{gt_where}: expected (H, W) labels, found shape {gt.shape}")
    gt, events = remap_labels(gt, entry.remap, gt_where)
    return gt, None, {"resampled": {"gt": rule} if rule else {}, "events": events}


def remap_labels(gt: np.ndarray, remap: dict[int, int], where: str) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The catalog's `remap` / `ignore` applied to (H, W) labels as the file stores them (codes
    not named keep their value); -> (labels, load-report events: pixels relabelled and unlabelled)."""
    if not remap:
        return gt, []
    gt = as_integers(gt, where)
    out = gt.copy()
    events = []
    for old, new in remap.items():
        hit = gt == old
        n = int(hit.sum())
        out[hit] = new
        if n:
            events.append(
                {
                    "subject": "labels",
                    "action": "unlabelled" if new == 0 else "relabelled",
                    "count": n,
                    "unit": "pixels",
                    "rule": f"remap: {{{old}: {new}}} (catalog)",
                    "labelled_removed": n if new == 0 and old != 0 else 0,
                    "detail": "",
                }
            )
    return out, events


def load_raster_scene(entry: CatalogEntry, reader: Reader) -> Scene:
    """The validated `Scene` of a `kind: scene` entry."""
    where = f"dataset {entry.name!r}"
    check_scene_memory(entry, reader)
    stack = stack_modalities(entry, entry.modalities, reader, where)
    gt, vector_names, gt_report = read_labels(entry, reader, stack, where)
    first = next(iter(stack.modalities.values()))
    shape = first.shape[:2]
    check(
        gt.shape == shape,
        f"{where}, gt ({entry.gt}): spatial shape {gt.shape} does not match the modalities' {shape}"
        + axis_hint(first.shape, gt.shape),
    )
    names, declared = declared_class_names(entry, reader)
    if vector_names is not None:
        check(
            names is None or tuple(names) == vector_names,
            f"{where}: class_names {names} differ from the polygons' classes {vector_names}; drop `class_names`",
        )
        names, declared = vector_names, len(vector_names)
    lost = int((stack.unlabel & (gt > 0)).sum())
    gt_before_mask = gt
    gt = np.where(stack.unlabel, 0, gt)
    vanished = sorted(set(np.unique(gt_before_mask[gt_before_mask > 0]).tolist()) - set(np.unique(gt).tolist()))
    check(
        not vanished,
        f"{where}: class(es) {vanished} lose every labelled pixel "
        f"({int(np.isin(gt_before_mask, vanished).sum())} in all) to "
        + " / ".join(f"`nodata: {{{m}: mask}}`" for m in stack.masked)
        + " (pixels without data"
        + "".join(f"; {r['cause']}" for r in stack.report["nodata"].values() if r.get("cause"))
        + "); expected every class to keep pixels with data in every modality: use `{fill: nearest}` instead, "
        "or crop the scene to where every modality has data",
    )  # nodata `mask`: neither trained on nor tested
    gt, n_classes = validate_labels(gt, f"{where}, gt ({entry.gt})", declared)

    masks: dict[str, np.ndarray | None] = {"train_mask": None, "test_mask": None}
    for mask_name in masks:
        ref = getattr(entry, mask_name)
        if ref is not None:
            mask_where = f"{where}, {mask_name} ({ref})"
            mask, _ = read_on_grid(reader, ref, mask_where, stack.grid, labels=True)
            masks[mask_name] = validate_mask(mask, gt.shape, mask_where) & ~stack.unlabel
    train, test = masks["train_mask"], masks["test_mask"]
    if train is not None and test is not None:
        validate_disjoint(train, test, where)
    metadata = {
        **entry_metadata(entry),
        **(stack.grid.metadata() if stack.grid else {}),
        "resampled": {**stack.report["resampled"], **gt_report.get("resampled", {})},
        "nodata": {
            **stack.report["nodata"],
            "labelled_pixels_masked": lost,
            "labelled_masked_by": stack.labelled_masked(gt_before_mask),
        },
        "load_events": gt_report.get("events", []) + stack.report["events"],
    }
    if "labels" in gt_report:
        metadata["labels"] = gt_report["labels"]  # polygons: counts, overlaps, rare classes
    if stack.unlabel.any():
        metadata["valid"] = ~stack.unlabel  # (H, W) bool: pixels with data in every modality
    return Scene(
        name=entry.name,
        modalities=stack.modalities,
        gt=gt,
        class_names=names or default_class_names(n_classes),
        train_mask=train,
        test_mask=test,
        metadata=metadata,
    )
