"""ENVI ROI ASCII files (ENVI's "Output ROIs to ASCII"), as the official Houston 2013 training
ROIs ship: a `;` header (number of ROIs, file dimension W x H, per ROI its name and npts), then
one block of `ID X Y ...` rows per ROI, blocks separated by blank lines. X is the column and Y
the row, both 1-based ("X=1, Y=1 -> Upper-Left Corner"): a loader that forgets to subtract 1
puts every label one pixel down and right, and nothing raises (the spec sheet measured that
(Y-1, X-1) reproduces the published label rasters at 100 %, (Y, X) at 59.7 %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bdgf_nb.data.checks import check
from bdgf_nb.errors import DataError


@dataclass(frozen=True)
class Roi:
    name: str
    npts: int
    xy: np.ndarray  # (N, 2) int64, 1-based (X = column, Y = row) as in the file


def read_roi_ascii(path: str | Path, where: str) -> tuple[tuple[int, int] | None, list[Roi]]:
    """-> (file dimension as (H, W) or None, the ROIs in file order); DataError naming the line."""
    try:
        lines = Path(path).read_text(errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{where}: not a readable ENVI ROI ASCII file ({type(err).__name__}: {err})") from None
    names: list[str] = []
    npts: list[int] = []
    blocks: list[list[tuple[int, int]]] = []
    dimension = None
    in_block = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.startswith(";"):
            in_block = False
            if m := re.match(r";\s*File Dimension:\s*(\d+)\s*x\s*(\d+)", line):
                dimension = (int(m.group(2)), int(m.group(1)))  # the file says W x H
            elif m := re.match(r";\s*ROI name:\s*(.*)", line):
                names.append(m.group(1).strip())
            elif m := re.match(r";\s*ROI npts:\s*(\d+)", line):
                npts.append(int(m.group(1)))
            continue
        if not line:
            in_block = False
            continue
        fields = line.split()
        check(
            len(fields) >= 3 and all(f.lstrip("-").isdigit() for f in fields[:3]),
            f"{where}, line {number}: expected 'ID X Y ...' with integer ID, X, Y, found {raw!r}",
        )
        if not in_block:
            blocks.append([])
            in_block = True
        blocks[-1].append((int(fields[1]), int(fields[2])))
    check(
        len(names) == len(npts) == len(blocks) and bool(names),
        f"{where}: expected one name, npts and block of rows per ROI, found {len(names)} names, "
        f"{len(npts)} npts and {len(blocks)} blocks",
    )
    rois = []
    for name, n, block in zip(names, npts, blocks, strict=True):
        check(len(block) == n, f"{where}, ROI {name!r}: header says npts {n}, found {len(block)} rows")
        rois.append(Roi(name, n, np.asarray(block, dtype=np.int64).reshape(-1, 2)))
    return dimension, rois


def roi_label_image(rois: list[Roi], shape: tuple[int, int], names: tuple[str, ...] | None, where: str) -> np.ndarray:
    """(H, W) int64 labels, ROI k -> class k (1-based, file order), from 1-based (X, Y). `names`:
    the expected ROI names in class order (a renamed or reordered file fails, naming both)."""
    found = tuple(r.name for r in rois)
    check(names is None or found == names, f"{where}: expected ROIs {list(names or ())}, found {list(found)}")
    labels = np.zeros(shape, dtype=np.int64)
    for k, roi in enumerate(rois, start=1):
        rows, cols = roi.xy[:, 1] - 1, roi.xy[:, 0] - 1
        outside = int(((rows < 0) | (rows >= shape[0]) | (cols < 0) | (cols >= shape[1])).sum())
        check(
            outside == 0,
            f"{where}, ROI {roi.name!r}: expected 1-based X in 1..{shape[1]} and Y in 1..{shape[0]}, "
            f"found {outside} points outside",
        )
        taken = int((labels[rows, cols] != 0).sum())
        check(taken == 0, f"{where}, ROI {roi.name!r}: {taken} pixels already belong to another ROI")
        labels[rows, cols] = k
    return labels
