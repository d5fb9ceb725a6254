"""Array readers: one array by reference from .npz, .npy, MATLAB .mat, ENVI and GeoTIFF.

`Reader.read(ref, where)` returns a numpy array; `Reader.grid(ref, where)` the georeference of
a GeoTIFF (None for the other formats, which carry none). Every failure is a DataError naming
`where` (dataset, field), the file and the key, so a user never sees a traceback from h5py.
Axis order: images (H, W) or (H, W, C) channels-last whatever the file's own order.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from bdgf_nb.data.checks import check, check_file
from bdgf_nb.data.geotiff import Grid, Raster, geotiff_shape, is_geotiff, read_geotiff
from bdgf_nb.errors import DataError

FORMATS = ".npz, .npy, .mat (v5 or v7.3), .hdr (ENVI header) or .tif/.tiff (GeoTIFF)"


@dataclass(frozen=True)
class ArrayRef:
    """One array in one file; `key` is None for single-array formats (ENVI, .npy, GeoTIFF)."""

    path: Path
    key: str | None = None

    def __str__(self) -> str:
        return str(self.path) if self.key is None else f"{self.path} [key {self.key!r}]"


def _unreadable(where: str, path: Path, what: str, err: Exception) -> DataError:
    return DataError(
        f"{where}: cannot read {path} as {what} ({type(err).__name__}: {err}); is the file truncated or corrupt?"
    )


def _pick_key(where: str, path: Path, key: str | None, keys: list[str]) -> str:
    if key is None:
        raise DataError(f"{where}: {path} holds several arrays; name one with `key`; available keys: {keys}")
    check(key in keys, f"{where}: {path} has no key {key!r}; available keys: {keys}")
    return key


def _read_npz(path: Path, key: str | None, where: str) -> np.ndarray:
    with open(path, "rb") as handle:
        head = handle.read(6)
    if not head.startswith((b"PK", b"\x93NUMPY")):  # np.load would call any other bytes "pickled data"
        raise _unreadable(where, path, ".npz archive", ValueError(f"not a zip archive, starts with {head!r}"))
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:
        raise _unreadable(where, path, ".npz archive", err) from None
    check(
        isinstance(archive, np.lib.npyio.NpzFile), f"{where}: {path} is a single .npy array, expected an .npz archive"
    )
    with archive:
        key = _pick_key(where, path, key, sorted(archive.files))
        try:
            return np.asarray(archive[key])
        except Exception as err:
            if "allow_pickle" in str(err):  # numpy refuses object arrays without pickle
                raise DataError(
                    f"{where}: {path} key {key!r} holds an object array; expected a numeric array"
                ) from None
            raise _unreadable(where, path, ".npz archive", err) from None


def _read_mat73(path: Path, key: str | None, where: str) -> np.ndarray:
    """MATLAB v7.3 is HDF5 in column-major order: a MATLAB (H, W, C) array is stored (C, W, H),
    so every array is transposed back. Logical and char arrays keep their MATLAB meaning."""
    try:
        with h5py.File(path, "r") as f:
            key = _pick_key(where, path, key, sorted(k for k in f if not k.startswith("#")))
            node = f[key]
            check(
                isinstance(node, h5py.Dataset),
                f"{where}: {path} key {key!r} is a MATLAB struct or cell (HDF5 group); expected a numeric array",
            )
            array = np.asarray(node[()]).T
            matlab_class = node.attrs.get("MATLAB_class", b"")
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(where, path, "MATLAB v7.3 (HDF5) file", err) from None
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    if matlab_class == "logical":
        return array.astype(bool)
    if matlab_class == "char":  # a char matrix: one string per row, UTF-16 code units
        return np.array(["".join(map(chr, row)).rstrip("\x00 ") for row in np.atleast_2d(array)])
    return array


def _read_npy(path: Path, key: str | None, where: str) -> np.ndarray:
    check(key is None, f"{where}: .npy file {path} holds one array and takes no key, found key {key!r}")
    try:
        return np.asarray(np.load(path, allow_pickle=False))
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(f"{where}: {path} holds an object array; expected a numeric array") from None
        raise _unreadable(where, path, ".npy array", err) from None
    except Exception as err:
        raise _unreadable(where, path, ".npy array", err) from None


def _read_envi(path: Path, key: str | None, where: str) -> np.ndarray:
    check(key is None, f"{where}: ENVI file {path} holds one image and takes no key, found key {key!r}")
    import spectral.io.envi as envi  # imported here: only ENVI users pay for it

    try:
        return np.asarray(envi.open(str(path)).load())  # (rows, cols, bands) for any interleave
    except Exception as err:
        raise _unreadable(where, path, "ENVI image (header + data file)", err) from None


class Reader:
    """Reads arrays by reference; each MATLAB v5 file and GeoTIFF is parsed once per reader."""

    def __init__(self) -> None:
        self._mat5: dict[Path, dict[str, Any]] = {}
        self._tif: dict[Path, Raster] = {}

    def _geotiff(self, ref: ArrayRef, where: str) -> Raster:
        check(
            ref.key is None,
            f"{where}: GeoTIFF {ref.path} holds one image (all its bands) and takes no key, found key {ref.key!r}",
        )
        if ref.path not in self._tif:
            self._tif[ref.path] = read_geotiff(ref.path, where)
        return self._tif[ref.path]

    def grid(self, ref: ArrayRef, where: str) -> Grid | None:
        """The georeference of a GeoTIFF ref; None for formats without one."""
        return self._geotiff(ref, where).grid if is_geotiff(ref.path) and ref.path.is_file() else None

    def raster(self, ref: ArrayRef, where: str) -> Raster | None:
        """The whole GeoTIFF record (dtype, nodata value and count); None for other formats."""
        return self._geotiff(ref, where) if is_geotiff(ref.path) and ref.path.is_file() else None

    def read(self, ref: ArrayRef, where: str) -> np.ndarray:
        path, key = ref.path, ref.key
        check_file(path, where, f"file ({FORMATS})")
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return _read_npz(path, key, where)
        if suffix == ".npy":
            return _read_npy(path, key, where)
        if suffix == ".hdr":
            return _read_envi(path, key, where)
        if is_geotiff(path):
            return self._geotiff(ref, where).array
        check(suffix == ".mat", f"{where}: unsupported file type {suffix!r} of {path}; expected {FORMATS}")
        if h5py.is_hdf5(path):
            return _read_mat73(path, key, where)
        if path not in self._mat5:
            try:
                self._mat5[path] = scipy.io.loadmat(path)
            except Exception as err:
                raise _unreadable(where, path, "MATLAB v5 file", err) from None
        contents = self._mat5[path]
        key = _pick_key(where, path, key, sorted(k for k in contents if not k.startswith("__")))
        return np.asarray(contents[key])

    def shape(self, ref: ArrayRef) -> tuple[int, ...] | None:
        """The array's shape from the file's header, without reading its data (for the memory
        guard); None when it cannot be told (the read itself then reports the problem)."""
        path, key = ref.path, ref.key
        try:
            suffix = path.suffix.lower()
            if suffix == ".npz":
                with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
                    version = np.lib.format.read_magic(member)
                    header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    return tuple(header(member)[0])
            if suffix == ".npy":
                return tuple(np.load(path, mmap_mode="r").shape)
            if is_geotiff(path):
                return geotiff_shape(path)
            if suffix == ".hdr":
                import spectral.io.envi as envi

                return tuple(envi.open(str(path)).shape)
            if suffix == ".mat" and h5py.is_hdf5(path):
                with h5py.File(path, "r") as f:
                    return tuple(f[key].shape[::-1])
            if suffix == ".mat":
                return next(tuple(shape) for name, shape, _ in scipy.io.whosmat(path) if name == key)
        except Exception:  # noqa: BLE001 (any failure: no estimate; the read reports it)
            return None
        return None


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """One array from .npz / .npy (no key) / .mat (v5, or v7.3 transposed back to MATLAB's axis
    order) / ENVI .hdr (no key; (rows, cols, bands)) / GeoTIFF (no key; (H, W) or (H, W, C),
    nodata as NaN). Raises DataError naming the file and key."""
    return Reader().read(ArrayRef(Path(path), key), str(path))
