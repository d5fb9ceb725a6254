"""A `kind: pixel` entry: a table of labelled pixels (houston2013 ships its HSI only at them) ->
a validated `PixelScene`: one feature row per labelled pixel, with its (row, col) in the image.

Parts (e.g. the official training and test pixels) are read with their coordinates, checked
pairwise disjoint and stacked; a modality is one table per part, or a raster sampled at every
row's coordinates. Glossary: N labelled pixels (rows); N_p the rows of one part.
"""

from __future__ import annotations

import numpy as np

from bdgf_nb.data.catalog import CatalogEntry
from bdgf_nb.data.checks import (
    check,
    validate_coords,
    validate_labels,
    validate_modality,
    validate_table,
)
from bdgf_nb.data.readers import Reader
from bdgf_nb.data.scene import PixelScene
from bdgf_nb.data.stacking import declared_class_names, default_class_names, entry_metadata


def _image_shape(entry: CatalogEntry, reader: Reader) -> tuple[int, int]:
    shape = entry.image_shape
    if isinstance(shape, tuple):
        return shape
    rasters = [m.raster for m in entry.pixel_modalities.values() if m.raster is not None]
    ref = shape or rasters[0]  # the schema requires one of the two
    where = f"dataset {entry.name!r}, image_shape ({ref})"
    array = reader.read(ref, where)
    check(array.ndim >= 2, f"{where}: expected an image of at least 2 axes, found shape {array.shape}")
    return (int(array.shape[0]), int(array.shape[1]))


def _read_parts(
    entry: CatalogEntry, reader: Reader, image_shape: tuple[int, int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per part: labels (N_p,) and coords (N_p, 2) int64, checked pairwise disjoint."""
    labels, coords = [], []
    for i, part in enumerate(entry.parts):
        l_where = f"dataset {entry.name!r}, parts[{i}] labels ({part.labels})"
        lab = reader.read(part.labels, l_where)
        if lab.ndim == 2 and 1 in lab.shape:  # MATLAB stores vectors as (N, 1) or (1, N)
            lab = lab.ravel()
        check(lab.ndim == 1, f"{l_where}: expected (N,), found shape {lab.shape}")
        c_where = f"dataset {entry.name!r}, parts[{i}] coords ({part.coords})"
        crd = reader.read(part.coords, c_where)
        check(
            crd.shape == (lab.shape[0], 2),
            f"{c_where}: expected ({lab.shape[0]}, 2), one (row, col) per label, found shape {crd.shape}",
        )
        labels.append(lab)
        coords.append(validate_coords(crd, image_shape, c_where))
    # A pixel in two parts would sit in train and test at once.
    flat = [c[:, 0] * image_shape[1] + c[:, 1] for c in coords]
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            both = np.intersect1d(flat[i], flat[j]).size
            check(
                both == 0,
                f"dataset {entry.name!r}: parts[{i}] and parts[{j}] share {both} pixels; expected disjoint parts",
            )
    return labels, coords


def load_pixel_scene(entry: CatalogEntry, reader: Reader) -> PixelScene:
    """The validated `PixelScene` of a `kind: pixel` entry."""
    where = f"dataset {entry.name!r}"
    image_shape = _image_shape(entry, reader)
    labels, coords = _read_parts(entry, reader, image_shape)
    sizes = [lab.shape[0] for lab in labels]
    names, declared = declared_class_names(entry, reader)
    all_labels, n_classes = validate_labels(
        np.concatenate(labels), f"{where}, labels", declared, allow_unlabelled=False
    )
    all_coords = np.concatenate(coords)

    modalities = {}
    for name, modality in entry.pixel_modalities.items():
        if modality.raster is not None:
            m_where = f"{where}, modality {name!r} (raster {modality.raster})"
            raster = validate_modality(reader.read(modality.raster, m_where), m_where)
            check(
                raster.shape[:2] == image_shape,
                f"{m_where}: spatial shape {raster.shape[:2]} does not match image_shape {image_shape}",
            )
            modalities[name] = raster[all_coords[:, 0], all_coords[:, 1]]
            continue
        tables = []
        for i, (ref, size) in enumerate(zip(modality.tables, sizes, strict=True)):
            t_where = f"{where}, modality {name!r}, parts[{i}] ({ref})"
            tables.append(validate_table(reader.read(ref, t_where), size, t_where))
        widths = [t.shape[1] for t in tables]
        check(len(set(widths)) == 1, f"{where}, modality {name!r}: parts have different channel counts {widths}")
        modalities[name] = np.concatenate(tables)

    bounds = np.cumsum([0, *sizes])
    splits = {}
    for i, part in enumerate(entry.parts):
        if part.name is not None:
            splits[part.name] = np.zeros(bounds[-1], dtype=bool)
            splits[part.name][bounds[i] : bounds[i + 1]] = True
    return PixelScene(
        name=entry.name,
        modalities=modalities,
        labels=all_labels,
        coords=all_coords,
        image_shape=image_shape,
        class_names=names or default_class_names(n_classes),
        splits=splits,
        metadata=entry_metadata(entry),
    )
