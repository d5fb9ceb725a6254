"""A benchmark recipe's files (benchmarks.py) -> the validated `Scene` the catalog loader returns.

The files are read under the names they are distributed with, by their `.mat` keys (v5 through
scipy, v7.3 through h5py and transposed back to MATLAB's axis order, readers.py), then checked
against what the spec sheet says can be checked: spatial shape (a (W, H) copy is transposed back
where the sheet leaves the orientation open, with a warning), bands per modality, label
conventions (MUUFL's -1 unlabelled; Augsburg's uint8 train and float32 test labels), the base of
index files (0- or 1-based: the one where every index hits a labelled gt pixel) and the per-class
pixel counts of the official split. A mismatch of a cited or measured fact is a DataError naming
the file, what was expected and what was found; a mismatch of an unverified one is a loud warning,
recorded in `Scene.metadata["benchmark"]["warnings"]`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from bdgf_nb.data.benchmarks import Benchmark, Layout, ReducedCopy, Ref, find_member, present_layout
from bdgf_nb.data.checks import as_integers, check, validate_disjoint, validate_labels, validate_modality
from bdgf_nb.data.envi_roi import read_roi_ascii, roi_label_image
from bdgf_nb.data.readers import ArrayRef, Reader
from bdgf_nb.data.scene import Scene
from bdgf_nb.errors import DataError
from bdgf_nb.memory import check_memory, scene_bytes


def missing_files_message(spec: Benchmark, folder: Path) -> str:
    """What is missing for each layout, and where to get the files (bdgf-data fetch / manual)."""
    lines = [f"benchmark {spec.name!r}: no complete layout of its files under {folder}"]
    for layout in spec.layouts:
        missing = [m.path for m in layout.members if find_member(folder, m) is None]
        lines.append(f"  layout {layout.name!r} ({layout.note}): missing {missing}")
        for d in layout.downloads:
            lines.append(f"    get: {d.what}: {d.url or d.note}")
    lines.append(f"  `bdgf-data fetch {spec.name}` downloads what has a URL; `bdgf-data list` shows every source")
    return "\n".join(lines)


class _Files:
    """Reads a layout's arrays, each file parsed once; MATLAB structs by a dotted field path."""

    def __init__(self, spec: Benchmark, layout: Layout, folder: Path) -> None:
        self.spec, self.layout, self.folder = spec, layout, folder
        self.reader = Reader()
        self.structs: dict[Path, dict[str, Any]] = {}
        self.dtypes: dict[str, str] = {}

    def path(self, ref: Ref) -> Path:
        found = find_member(self.folder, self.layout.member(ref.file))
        check(found is not None, f"benchmark {self.spec.name!r}: file {ref.file} not found under {self.folder}")
        assert found is not None
        return found

    def read(self, ref: Ref, what: str) -> tuple[np.ndarray, str]:
        path = self.path(ref)
        where = f"benchmark {self.spec.name!r} ({self.layout.name}), {what}: {path} key {ref.key!r}"
        if ref.field is None:
            array = self.reader.read(ArrayRef(path, ref.key), where)
        else:
            array = self._field(path, ref, where)
        self.dtypes[what] = str(array.dtype)
        return array, where

    def _field(self, path: Path, ref: Ref, where: str) -> np.ndarray:
        check(
            not h5py.is_hdf5(path),
            f"{where}: expected a MATLAB v5 file holding struct {ref.key!r}, found a v7.3 (HDF5) file; "
            "save it again with `save(..., '-v7')`",
        )
        if path not in self.structs:
            try:
                self.structs[path] = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
            except Exception as err:
                raise DataError(f"{where}: not a readable MATLAB v5 file ({type(err).__name__}: {err})") from None
        contents = self.structs[path]
        check(ref.key in contents, f"{where}: key {ref.key!r} not found; keys: {sorted(contents)}")
        node: Any = contents[str(ref.key)]
        assert ref.field is not None
        for token in ref.field.split("."):
            name, index = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", token).groups()  # type: ignore[union-attr]
            check(
                hasattr(node, name),
                f"{where}: struct field {name!r} of {ref.field!r} not found; "
                f"fields: {sorted(getattr(node, '_fieldnames', []) or [])}",
            )
            node = getattr(node, name)
            if index is not None:  # a cell array; squeeze_me turns a 1-cell array into its element
                cells = (
                    node if isinstance(node, np.ndarray) and node.dtype == object else np.array([node], dtype=object)
                )
                check(int(index) < cells.size, f"{where}: cell {token} out of range, found {cells.size} cell(s)")
                node = cells.ravel()[int(index)]
        check(
            isinstance(node, np.ndarray), f"{where}: field {ref.field!r} is not an array, found {type(node).__name__}"
        )
        return np.asarray(node)


def _orient(array: np.ndarray, layout: Layout, where: str, notes: list[str]) -> np.ndarray:
    """The array with its first two axes (H, W) = layout.shape; a (W, H) copy is transposed back
    where the layout allows it (the sheet leaves Trento's orientation open), with a warning."""
    h, w = layout.shape
    if array.shape[:2] == (h, w):
        return array
    if layout.transposed_ok and array.shape[:2] == (w, h):
        notes.append(f"{where}: stored as (W, H) = {array.shape[:2]}, transposed to (H, W) = {(h, w)}")
        return np.swapaxes(array, 0, 1)
    raise DataError(f"{where}: expected spatial shape (H, W) = {(h, w)}, found array of shape {array.shape}")


def _label_image(files: _Files, ref: Ref, what: str, notes: list[str]) -> np.ndarray:
    array, where = files.read(ref, what)
    array = _orient(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array, files.layout, where, notes)
    check(array.ndim == 2, f"{where}: expected (H, W) labels, found shape {array.shape}")
    labels = as_integers(array, where)  # int64 before any sum: Augsburg's train is uint8, its test float32
    if files.layout.labels.unlabelled != 0:
        labels = np.where(labels == files.layout.labels.unlabelled, 0, labels)
    low = int((labels < 0).sum())
    check(low == 0, f"{where}: expected labels >= 0 after mapping unlabelled to 0, found {low} negative")
    return labels


def index_base(gt: np.ndarray, index: np.ndarray, where: str, notes: list[str] | None = None) -> int:
    """0 or 1: the base under which every (row, col) index hits a labelled gt pixel (OUC index
    files are read as 0-based by some loaders and 1-based by others). DataError if neither does;
    when both do, 0 (as MSF, DCM and RF read them) with a note in `notes`."""
    check(index.ndim == 2 and index.shape[1] == 2, f"{where}: expected (N, 2) (row, col) pairs, found {index.shape}")
    hits = {}
    for base in (0, 1):
        rc = index - base
        inside = ((rc >= 0) & (rc < np.asarray(gt.shape))).all(axis=1)
        hits[base] = int(inside.sum()) if not inside.all() else int((gt[rc[:, 0], rc[:, 1]] > 0).sum())
    full = [b for b in (0, 1) if hits[b] == index.shape[0] and index.shape[0] > 0]
    check(
        len(full) >= 1,
        f"{where}: expected every index to hit a labelled gt pixel under a 0- or 1-based reading, found "
        f"{hits[0]} of {index.shape[0]} hits 0-based and {hits[1]} 1-based",
    )
    if len(full) == 2 and notes is not None:
        notes.append(f"{where}: every index hits a labelled pixel read 0- and 1-based alike; read 0-based")
    return full[0]


def _labels(files: _Files, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int | None]:
    """-> gt (H, W) int64, train and test masks (None without an official split), index base."""
    spec = files.layout.labels
    if spec.kind == "images":
        assert spec.train is not None and spec.test is not None
        train = _label_image(files, spec.train, "train labels", notes)
        test = _label_image(files, spec.test, "test labels", notes)
        where = f"benchmark {files.spec.name!r}, {spec.train.file} and {spec.test.file}"
        validate_disjoint(train > 0, test > 0, where)
        return train + test, train > 0, test > 0, None
    if spec.kind == "roi":
        assert spec.train is not None and spec.test is not None
        images = []
        for ref in (spec.train, spec.test):
            path = files.path(ref)
            where = f"benchmark {files.spec.name!r} ({files.layout.name}), {path}"
            dimension, rois = read_roi_ascii(path, where)
            check(
                dimension in (None, files.layout.shape),
                f"{where}: expected File Dimension (H, W) = {files.layout.shape}, found {dimension}",
            )
            images.append(roi_label_image(rois, files.layout.shape, spec.roi_names, where))
        validate_disjoint(images[0] > 0, images[1] > 0, f"benchmark {files.spec.name!r}, {spec.train.file}")
        return images[0] + images[1], images[0] > 0, images[1] > 0, None
    assert spec.gt is not None
    gt = _label_image(files, spec.gt, "gt", notes)
    if spec.kind == "all":
        return gt, None, None, None
    assert spec.train is not None and spec.test is not None
    masks, bases = [], []
    for ref, what in ((spec.train, "train index"), (spec.test, "test index")):
        array, where = files.read(ref, what)
        index = as_integers(array, where)
        base = index_base(gt, index, where, notes)
        mask = np.zeros(gt.shape, dtype=bool)
        mask[index[:, 0] - base, index[:, 1] - base] = True
        masks.append(mask)
        bases.append(base)
    check(
        bases[0] == bases[1],
        f"benchmark {files.spec.name!r}, {spec.train.file}: train indices read {bases[0]}-based but test "
        f"indices {bases[1]}-based; expected one base",
    )
    validate_disjoint(masks[0], masks[1], f"benchmark {files.spec.name!r}, {spec.train.file}")
    return gt, masks[0], masks[1], bases[0]


def _compare(found: np.ndarray, expected: tuple[int, ...], names: tuple[str, ...], what: str) -> list[str]:
    """Per-class differences as text; MUUFL's classes 7 and 8 are named when they look swapped."""
    n = len(expected)
    counts = [int(c) for c in np.pad(found, (0, max(0, n + 1 - found.size)))[1 : n + 1]]
    bad = [c for c in range(n) if counts[c] != expected[c]]
    if not bad:
        return []
    text = f"{what} pixels per class differ: " + "; ".join(
        f"class {c + 1} {names[c]!r}: expected {expected[c]}, found {counts[c]}" for c in bad
    )
    if len(bad) == 2 and counts[bad[0]] == expected[bad[1]] and counts[bad[1]] == expected[bad[0]]:
        text += f" (labels {bad[0] + 1} and {bad[1] + 1} look swapped: an older label order)"
    return [text]


def _check_counts(
    spec: Benchmark,
    layout: Layout,
    gt: np.ndarray,
    train: np.ndarray | None,
    test: np.ndarray | None,
    where: str,
    notes: list[str],
) -> None:
    counts, names = layout.counts, spec.class_names
    n = len(names)
    problems = []
    if counts.total is not None:
        problems += _compare(np.bincount(gt.ravel(), minlength=n + 1), counts.total, names, "labelled")
    for mask, expected, what in ((train, counts.train, "training"), (test, counts.test, "test")):
        if expected is not None and mask is not None:
            problems += _compare(np.bincount(gt[mask], minlength=n + 1), expected, names, what)
    if not problems:
        return
    message = f"{where}: " + " | ".join(problems) + f" (expected: {counts.source})"
    if counts.verified:
        raise DataError(message)
    notes.append(message + " [these counts are unverified in the spec sheet: check your copy]")


def load_benchmark(
    spec: Benchmark, folder: str | Path | None = None, layout: Layout | None = None, reduced: ReducedCopy | None = None
) -> Scene:
    """The validated Scene of benchmark `spec` from `folder` (default: `spec.folder()`, under
    the data directory). `layout`: read this one (tests pass one with tiny expected shapes and
    counts via `dataclasses.replace`); default: the first layout whose files are all present.
    `reduced`: the files are a spatially reduced copy (a catalog entry's `reduced` field): its
    shape and per-class counts replace the published ones in the checks, loudly."""
    root = Path(folder) if folder is not None else spec.folder()
    if layout is None:
        layout = present_layout(spec, root)
        check(layout is not None, missing_files_message(spec, root))
    assert layout is not None
    notes: list[str] = []
    where = f"benchmark {spec.name!r} ({layout.name} layout, {root})"
    if reduced is not None:
        notes.append(
            f"{where}: a reduced copy, checked against its own shape {reduced.shape} and per-class counts "
            f"(catalog field `reduced`), not the published {layout.shape} and counts"
        )
        layout = reduced.apply(layout, len(spec.class_names), where)
    files = _Files(spec, layout, root)

    height, width = layout.shape
    channels = sum(layout.bands.values())
    check_memory(  # before reading: Berlin (1723 x 476 x 248) needs about 3 GiB on its way to patches
        scene_bytes(height, width, channels),
        f"benchmark {spec.name!r}: a {height} x {width} scene of {channels} channels",
        hint="use a machine with more memory, or crop the scene into a catalog entry of your own",
    )
    modalities, ranges = {}, {}
    for i, (name, ref) in enumerate(layout.modalities.items()):
        array, m_where = files.read(ref, name)
        array = validate_modality(_orient(array, layout, m_where, notes), m_where, spectral=i == 0)
        bands = layout.bands.get(name)
        check(
            bands is None or array.shape[2] == bands,
            f"{m_where}: expected {bands} band(s) for {name!r}, found {array.shape[2]} (shape {array.shape})",
        )
        modalities[name] = array
        ranges[name] = [float(array.min()), float(array.max())]

    gt, train, test, base = _labels(files, notes)
    gt, _ = validate_labels(gt, f"{where}, labels", n_classes=len(spec.class_names))
    _check_counts(spec, layout, gt, train, test, where, notes)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    files_read = [str(p) for m in layout.members if (p := find_member(root, m)) is not None]
    metadata = {
        "dataset": spec.name,
        "description": spec.title,
        "citation": spec.citation,
        "licence": spec.licence,
        "files": files_read,
        "benchmark": {
            "layout": layout.name,
            "folder": str(root),
            "dtypes": files.dtypes,  # unverified in the sheet for some files: reported, not checked
            "ranges": ranges,  # [min, max] per modality as read: reported, not checked (the sheet has none)
            "reduced": None if reduced is None else asdict(reduced),
            "index_base": base,
            "warnings": notes,
            "unchecked": list(spec.unchecked),
        },
        "paper": asdict(spec.paper),
        "official_split_is_disjoint": False,  # the official splits overlap in patch windows
    }
    return Scene(
        name=spec.name,
        modalities=modalities,
        gt=gt,
        class_names=spec.class_names,
        train_mask=train,
        test_mask=test,
        metadata=metadata,
    )
