"""Stand-in files of the standard benchmarks in their distributed layout (names, `.mat` keys,
dtypes, orientation, MATLAB v5 or v7.3), written by the tests: tiny synthetic arrays, never the
real data. `write_standin` returns the layout with its expected shape, bands and per-class
counts replaced (`dataclasses.replace`) by the stand-in's, so a tiny scene passes the checks the
real one must pass; tests of the checks themselves change those expectations back.

`write_reduced_standin` writes a stand-in with every band of the real files on a smaller grid,
its labels drawn to the published per-class counts scaled down, and returns the `ReducedCopy`
(shape and counts) a catalog entry declares for it: what notebook 00 runs on by name, through
`bdgf-run --catalog`, where a full-size file would be hundreds of MB (Houston 2013, Berlin).
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from bdgf_nb.data.benchmarks import Benchmark, Counts, Layout, ReducedCopy, Ref

_MATLAB_CLASS = {
    "float64": "double",
    "float32": "single",
    "uint8": "uint8",
    "uint16": "uint16",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "bool": "logical",
}


def write_mat(path: Path, arrays: dict[str, object], v73: bool = False) -> None:
    """A MATLAB file: v5 via scipy; v7.3 as MATLAB writes it (HDF5 with the 512-byte MATLAB
    header, every array stored in column-major order, i.e. axis-reversed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not v73:
        scipy.io.savemat(path, arrays)
        return
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            array = np.asarray(value)
            dataset = f.create_dataset(key, data=array.astype(np.uint8) if array.dtype == bool else array.T)
            if array.dtype == bool:
                dataset[...] = array.T.astype(np.uint8)
            dataset.attrs["MATLAB_class"] = np.bytes_(_MATLAB_CLASS[str(array.dtype)])
    created = datetime.datetime(2021, 5, 18).strftime("%a %b %d %H:%M:%S %Y")
    header = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {created} HDF5 schema 1.00 .".encode()
    with open(path, "r+b") as handle:
        handle.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM" + b"\x00" * (512 - 128))


def write_roi_ascii(path: Path, labels: np.ndarray, names: tuple[str, ...], title: str) -> None:
    """An ENVI ROI ASCII file as the DFC2013 ones (CRLF, 1-based X = column, Y = row, with
    Lat / Lon columns): ROI k holds the pixels labelled k, in row-major order."""
    h, w = labels.shape
    lines = [f";{title}", "", "", f"; Number of ROIs: {len(names)}", f"; File Dimension: {w} x {h}"]
    lines += ["; X=1\t, Y=1 \t-> Upper-Left Corner", f"; X={w}, Y={h} -> Lower-Right Corner", "", ""]
    for k, name in enumerate(names, start=1):
        rows, cols = np.nonzero(labels == k)
        lines += [f"; ROI name: {name}", "; ROI rgb value: {0, 205, 0}", f"; ROI npts: {rows.size}"]
        lines.append(";   ID     X    Y              Lat               Lon")
        for i, (r, c) in enumerate(zip(rows, cols, strict=True), start=1):
            lines.append(f"{i:6d}{c + 1:6d}{r + 1:5d}  {29.72 - r * 2e-5:15.12f}  {-95.36 + c * 2e-5:16.12f}")
        lines += ["", ""]
    path.write_bytes("\r\n".join(lines).encode())


def write_geotiff(path: Path, array: np.ndarray) -> None:
    """A GeoTIFF on a UTM 15N grid of 2.5 m pixels (as the DFC2013 rasters), (H, W[, C])."""
    import rasterio
    from affine import Affine

    bands = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    profile = {
        "driver": "GTiff",
        "height": bands.shape[1],
        "width": bands.shape[2],
        "count": bands.shape[0],
        "dtype": str(bands.dtype),
        "crs": "EPSG:26915",
        "transform": Affine(2.5, 0.0, 270795.0, 0.0, -2.5, 3290640.0),  # upper-left corner, 2.5 m
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands)


def standin_labels(shape: tuple[int, int], n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) label images: every class in both, about a quarter of the labels train,
    some pixels unlabelled."""
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, n_classes + 1, size=shape)
    gt.ravel()[: 2 * n_classes] = np.repeat(np.arange(1, n_classes + 1), 2)  # every class twice at least
    is_train = rng.random(shape) < 0.25
    is_train.ravel()[: 2 * n_classes : 2] = True
    is_train.ravel()[1 : 2 * n_classes : 2] = False
    return np.where(is_train, gt, 0), np.where(is_train, 0, gt)


def _counts(train: np.ndarray, test: np.ndarray, n: int, layout: Layout) -> Counts:
    def per_class(image: np.ndarray) -> tuple[int, ...]:
        return tuple(int(c) for c in np.bincount(image.ravel(), minlength=n + 1)[1:])

    old = layout.counts
    return Counts(
        train=per_class(train) if old.train is not None else None,
        test=per_class(test) if old.test is not None else None,
        total=per_class(train + test) if old.total is not None else None,
        verified=old.verified,
        source="stand-in",
    )


def write_standin(
    spec: Benchmark,
    layout_name: str,
    folder: Path,
    shape: tuple[int, int] = (12, 20),
    hsi_bands: int = 5,
    v73: bool = False,
    transposed: bool = False,
    index_base: int = 0,
    seed: int = 0,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
    all_bands: bool = False,
) -> Layout:
    """Write `spec`'s layout `layout_name` under `folder` with tiny arrays; -> the layout with the
    stand-in's shape, bands and counts. `transposed`: images stored (W, H) (Trento's open
    question); `index_base`: of the OUC index lists; `labels`: (train, test) label images of
    `shape` (default `standin_labels`); `all_bands`: every modality with the recipe's bands
    (else `hsi_bands` and at most 2 for the others). Spectra are class means plus noise."""
    layout = spec.layout(layout_name)
    rng = np.random.default_rng(seed)
    n = len(spec.class_names)
    train, test = labels if labels is not None else standin_labels(shape, n, seed)
    bands = {
        m: (b if all_bands else hsi_bands if i == 0 else min(b, 2)) for i, (m, b) in enumerate(layout.bands.items())
    }

    def image(array: np.ndarray) -> np.ndarray:
        return np.swapaxes(array, 0, 1) if transposed else array

    files: dict[str, dict[str, object]] = {}

    def put(ref: Ref, value: object) -> None:
        files.setdefault(ref.file, {})[ref.key or ref.file] = value

    modal: dict[str, np.ndarray] = {}
    for name, b in bands.items():
        means = rng.random((n + 1, b)).astype(np.float32) * 60
        data = means[train + test] + rng.random((*shape, b), dtype=np.float32) * 40
        if layout.name == "dfc2013" and name == "hsi":
            data = data.astype(np.uint16)  # the CASI GeoTIFF's dtype as RF annotates it (unverified)
        modal[name] = data[:, :, 0] if b == 1 else data
    labels = layout.labels
    if labels.kind == "images":
        assert labels.train is not None and labels.test is not None
        train_dtype, test_dtype = (np.uint8, np.float32) if spec.name == "augsburg" else (np.float64, np.float64)
        put(labels.train, image(train.astype(train_dtype)))
        put(labels.test, image(test.astype(test_dtype)))
    elif labels.kind == "index":
        assert labels.gt is not None and labels.train is not None and labels.test is not None
        put(labels.gt, (train + test).astype(np.uint8))
        put(labels.train, np.argwhere(train > 0) + index_base)
        put(labels.test, np.argwhere(test > 0) + index_base)
        put(Ref(labels.train.file, labels.train.key.replace("_train", "_all")), np.argwhere(train + test > 0))
    if labels.kind == "roi":
        assert labels.train is not None and labels.test is not None and labels.roi_names is not None
        folder.mkdir(parents=True, exist_ok=True)
        for name, ref in layout.modalities.items():
            write_geotiff(folder / ref.file, modal[name])
            hdr = f"ENVI\ndescription = {{stand-in}}\nsamples = {shape[1]}\nlines = {shape[0]}\nbands = {bands[name]}\n"
            (folder / ref.file.replace(".tif", ".hdr")).write_bytes(hdr.replace("\n", "\r\n").encode())
        write_roi_ascii(folder / labels.train.file, train, labels.roi_names, "Samples_TR")
        write_roi_ascii(folder / labels.test.file, test, labels.roi_names, "Samples_VA")
        (folder / "copyright.txt").write_bytes(b"stand-in: scientific use only\r\n")
    elif spec.name == "muufl":
        gt = (train + test).astype(np.float64)
        gt[gt == 0] = -1  # MUUFL: -1 unlabelled
        cell = np.empty((1, 2), dtype=object)
        for i in range(2):
            z = rng.random((*shape, bands["lidar"])) * 30
            cell[0, i] = {"x": np.arange(shape[1]), "y": np.arange(shape[0]), "z": z, "info": f"return {i}"}
        names = np.array([[name] for name in spec.class_names], dtype=object)
        struct = {
            "Data": modal["hsi"],
            "Lidar": cell,
            "sceneLabels": {"labels": gt, "Materials_Type": names},
            "info": {"wavelength": np.arange(hsi_bands) * 10.0 + 400},
        }
        write_mat(folder / layout.members[0].path, {"hsi": struct})
    else:
        if labels.kind == "all":
            assert labels.gt is not None
            put(labels.gt, image((train + test).astype(np.uint8)))
        for name, ref in layout.modalities.items():
            put(ref, image(modal[name]))
        for member in layout.members:
            if member.name in files:
                write_mat(folder / member.path, files[member.name], v73=v73)
            else:  # a pinned member no array is read from (Houston's gt.mat)
                write_mat(folder / member.path, {Path(member.name).stem: (train + test).astype(np.float64)}, v73=v73)
    return replace(layout, shape=shape, bands=bands, counts=_counts(train, test, n, layout))


def write_trento_full_size(folder: Path, seed: int = 0) -> None:
    """Trento in the MMR layout at its real size (166 x 600, 63 + 1 bands) with labels drawn to
    the spec sheet's official per-class train / test counts, so the recipe loads it unchanged
    (by name, in a notebook kernel that cannot see a test's overrides). Pixels are scattered at
    random; spectra are class means plus noise."""
    from bdgf_nb.data.benchmarks import TRENTO

    layout = TRENTO.layout("mmr")
    h, w = layout.shape
    assert layout.counts.train is not None and layout.counts.test is not None
    rng = np.random.default_rng(seed)
    order = rng.permutation(h * w)
    train, test = np.zeros(h * w, np.uint8), np.zeros(h * w, np.uint8)
    start = 0
    for image, counts in ((train, layout.counts.train), (test, layout.counts.test)):
        for cls, count in enumerate(counts, start=1):
            image[order[start : start + count]] = cls
            start += count
    gt = (train + test).reshape(h, w)
    means = rng.random((len(TRENTO.class_names) + 1, layout.bands["hsi"])).astype(np.float32)
    hsi = means[gt] + 0.3 * rng.random((h, w, layout.bands["hsi"]), dtype=np.float32)
    lidar = (gt * 2.0 + rng.random((h, w))).astype(np.float32)
    write_mat(folder / "HSI.mat", {"HSI": hsi})
    write_mat(folder / "LiDAR.mat", {"LiDAR": lidar})
    write_mat(folder / "TRLabel.mat", {"TRLabel": train.reshape(h, w).astype(np.float64)})
    write_mat(folder / "TSLabel.mat", {"TSLabel": test.reshape(h, w).astype(np.float64)})


def scaled_labels(
    spec: Benchmark, layout_name: str, shape: tuple[int, int], labelled_share: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) label images of `shape`: the layout's published per-class counts scaled so
    that about `labelled_share` of the pixels are labelled (the real class mix and training share;
    at least 3 training and 40 test pixels a class, so the leak-free split can measure every
    class), scattered at random. A layout without an official split gets only `test` (its `gt`)."""
    counts = spec.layout(layout_name).counts
    published = [c for c in (counts.train, counts.test, counts.total) if c is not None]
    scale = labelled_share * shape[0] * shape[1] / sum(sum(c) for c in published)
    rng = np.random.default_rng(seed)
    order = iter(rng.permutation(shape[0] * shape[1]))
    images = []
    for published_counts, floor in ((counts.train, 3), (counts.test if counts.test else counts.total, 40)):
        image = np.zeros(shape[0] * shape[1], np.int64)
        for cls, count in enumerate(published_counts or (), start=1):
            image[[next(order) for _ in range(max(floor, round(count * scale)))]] = cls
        images.append(image.reshape(shape))
    return images[0], images[1]


def write_reduced_standin(
    spec: Benchmark,
    layout_name: str,
    folder: Path,
    shape: tuple[int, int],
    v73: bool = False,
    index_base: int = 0,
    seed: int = 0,
) -> ReducedCopy:
    """A stand-in in layout `layout_name` with every band of the real files on a `shape` grid,
    labels as `scaled_labels`; -> the `ReducedCopy` its catalog entry declares (its shape and
    per-class counts, derived here from what was written)."""
    labels = scaled_labels(spec, layout_name, shape, seed=seed)
    layout = write_standin(
        spec, layout_name, folder, shape, v73=v73, index_base=index_base, seed=seed, labels=labels, all_bands=True
    )
    return ReducedCopy(shape, layout.counts.train, layout.counts.test, layout.counts.total)
