"""Checks of the arrays a scene is made of, shared by every reader and scene kind.

Each raises DataError naming `where` (dataset, field, file and key), what was expected and what
was found, so a user bringing their own scene never sees a traceback from deep inside numpy.
Labels are 0 (unlabelled) / 1..n_classes; images are (H, W, C) channels-last.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bdgf_nb.errors import DataError, expect

NUMERIC_KINDS = "biuf"  # bool, signed / unsigned int, float; not complex, object, str, record


def check(condition: bool, message: str) -> None:
    """DataError(message) unless `condition` holds: the one check every data module uses."""
    expect(condition, DataError, message)


def check_file(path: Path, where: str, what: str = "file") -> None:
    """`path` is a file: a folder or a missing path is named as such."""
    check(
        not path.is_dir(),
        f"{where}: {path} is a directory; expected a {what} (name the file inside it in the catalog entry)",
    )
    check(path.is_file(), f"{where}: file not found: {path}")


def validate_dtype(array: np.ndarray, where: str) -> None:
    """A numpy array of real numbers (bool, int, float): complex, object, string, record fail."""
    check(isinstance(array, np.ndarray), f"{where}: expected a numpy array, found {type(array).__name__}")
    check(
        array.dtype.kind in NUMERIC_KINDS,
        f"{where}: expected a real numeric array (bool, int, float), found dtype {array.dtype}",
    )


def validate_finite(array: np.ndarray, where: str) -> None:
    """No NaN or inf; the message counts both."""
    if array.dtype.kind in "biu":
        return
    bad = int((~np.isfinite(array)).sum())
    if bad:
        n_nan = int(np.isnan(array).sum())
        raise DataError(
            f"{where}: expected finite values, found {n_nan} NaN and {bad - n_nan} inf of {array.size} values"
        )


def as_integers(array: np.ndarray, where: str) -> np.ndarray:
    """-> int64; floats must be finite whole numbers (MATLAB stores labels as double)."""
    validate_dtype(array, where)
    if array.dtype.kind == "f":
        validate_finite(array, where)
        fractional = int((array != np.round(array)).sum())
        check(
            fractional == 0,
            f"{where}: expected integer values, found {fractional} non-integer values (dtype {array.dtype})",
        )
    return array.astype(np.int64)


def validate_labels(
    labels: np.ndarray, where: str, n_classes: int | None = None, allow_unlabelled: bool = True
) -> tuple[np.ndarray, int]:
    """-> (labels as int64, n): 0 = unlabelled (if allowed), classes 1..n, every class present.

    n_classes: the declared count; None derives it from the largest label.
    """
    labels = as_integers(labels, where)
    low = 0 if allow_unlabelled else 1
    n_low = int((labels < low).sum())
    check(
        n_low == 0,
        f"{where}: expected labels >= {low} ({'0 = unlabelled' if low == 0 else 'every row labelled'}), "
        f"found {n_low} below, minimum {labels.min()}",
    )
    top = int(labels.max()) if labels.size else 0
    check(top >= 1, f"{where}: expected labelled pixels (labels 1..n), found none")
    n = top if n_classes is None else n_classes
    n_high = int((labels > n).sum())
    check(
        n_high == 0,
        f"{where}: expected labels <= {n} ({n} classes declared), found {n_high} above, maximum {top}"
        + remap_hint(labels),
    )
    empty = (np.flatnonzero(np.bincount(labels.ravel(), minlength=n + 1)[1:] == 0) + 1).tolist()
    shown = str(empty) if len(empty) <= 10 else f"{empty[:5]} ... {empty[-2:]} ({len(empty)} in all)"
    check(not empty, f"{where}: declared class(es) {shown} of 1..{n} have no pixel" + remap_hint(labels))
    return labels, n


NODATA_CODES = (255, 65535, 9999, 32767)  # codes files use for "no label"


def remap_hint(labels: np.ndarray) -> str:
    """For labels that are not 1..n consecutive: the codes present and the catalog `remap` that
    makes them so (a code like 255 suggested as unlabelled); empty when they are consecutive."""
    present = np.unique(labels[labels > 0]).tolist()
    if not present or present == list(range(1, len(present) + 1)):
        return ""
    nodata = [c for c in present if c in NODATA_CODES and len(present) > 1]
    classes = [c for c in present if c not in nodata]
    mapping = {
        k: v for k, v in {**{c: i + 1 for i, c in enumerate(classes)}, **dict.fromkeys(nodata, 0)}.items() if k != v
    }
    shown = (
        mapping if len(mapping) <= 12 else f"{{{', '.join(f'{k}: {v}' for k, v in list(mapping.items())[:6])}, ...}}"
    )
    return (
        f"; the labels hold {len(present)} codes {present if len(present) <= 12 else present[:12] + ['...']}, "
        f"not 1..{len(present)}: map them in the catalog entry, `remap: {shown}`"
        + (f" ({nodata} as unlabelled; or `ignore: {nodata}`)" if nodata else "")
    )


def validate_values(array: np.ndarray, where: str) -> None:
    validate_dtype(array, where)
    validate_finite(array, where)


def validate_modality(array: np.ndarray, where: str, spectral: bool = False, finite: bool = True) -> np.ndarray:
    """-> (H, W, C) float32, finite (unless `finite=False`: the nodata policy then decides). An
    auxiliary (H, W) image (a DSM) gets a channel axis; the spectral image must be (H, W, C)."""
    validate_dtype(array, where)
    if array.ndim == 2 and not spectral:
        array = array[:, :, None]
    hint = " (a pixel table belongs in a `kind: pixel` entry; one band is (H, W, 1))" if array.ndim == 2 else ""
    check(array.ndim == 3, f"{where}: expected (H, W, C), found shape {array.shape}{hint}")
    array = array.astype(np.float32)
    if finite:
        validate_finite(array, where)
    return array


def validate_table(array: np.ndarray, n_rows: int, where: str) -> np.ndarray:
    """-> (N, C) float32, finite; a vector (N,) gets a channel axis."""
    validate_dtype(array, where)
    if array.ndim == 1:
        array = array[:, None]
    check(
        array.ndim == 2 and array.shape[0] == n_rows,
        f"{where}: expected ({n_rows}, C), one row per label, found shape {array.shape}",
    )
    array = array.astype(np.float32)
    validate_finite(array, where)
    return array


def validate_mask(mask: np.ndarray, shape: tuple[int, ...], where: str) -> np.ndarray:
    """-> (H, W) bool; 0/1 numbers are accepted (MATLAB masks are double or uint8)."""
    validate_dtype(mask, where)
    check(mask.shape == shape, f"{where}: expected shape {shape} (the gt's), found {mask.shape}")
    other = int(((mask != 0) & (mask != 1)).sum())
    check(other == 0, f"{where}: expected a bool or 0/1 mask, found {other} other values")
    return mask.astype(bool)


def validate_disjoint(train: np.ndarray, test: np.ndarray, where: str) -> None:
    """No pixel in both masks: a training pixel is never a test pixel."""
    both = int((train & test).sum())
    check(both == 0, f"{where}: expected disjoint train and test, found {both} pixels in both")


def validate_coords(coords: np.ndarray, image_shape: tuple[int, int], where: str) -> np.ndarray:
    """-> (N, 2) int64 0-based (row, col), all inside `image_shape`."""
    coords = as_integers(coords, where)
    check(coords.ndim == 2 and coords.shape[1] == 2, f"{where}: expected (N, 2) (row, col), found shape {coords.shape}")
    outside = int(((coords < 0) | (coords >= np.asarray(image_shape))).any(axis=1).sum())
    check(
        outside == 0,
        f"{where}: expected 0-based (row, col) inside image_shape {image_shape}, found {outside} rows outside",
    )
    return coords


def check_informative_bands(modalities: dict[str, np.ndarray], files: dict[str, str], where: str) -> None:
    """No band constant over the whole scene: it carries nothing and cannot be standardised (its
    std is 0), so refuse it before any split or training, naming the modality, the file and the
    0-based band index, with the catalog line that leaves it out. modalities: name -> (..., C)."""
    problems = []
    for name, array in modalities.items():
        flat = array.reshape(-1, array.shape[-1])
        constant = np.flatnonzero(flat.min(axis=0) == flat.max(axis=0)).tolist() if flat.size else []
        if constant:
            values = [float(flat[0, b]) for b in constant[:5]]
            problems.append(
                f"modality {name!r} ({files.get(name, 'in memory')}): band(s) {constant} (0-based, of "
                f"{array.shape[-1]}) hold one value each over the whole scene ({values}"
                f"{'...' if len(constant) > 5 else ''}); leave them out: `drop_bands: {{{name}: {constant}}}`"
                + (" (or the modality itself)" if len(constant) == array.shape[-1] else "")
            )
    check(
        not problems,
        f"{where}: expected every band to vary, found constant bands (nothing to learn, zero variance): "
        + "; ".join(problems),
    )
