"""Catalog, readers and validation of bdgf_nb.data.catalog: every bad input is a DataError that names
the file / key / field, every reader round-trips, the real scenes load with their known shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import scipy.io
import yaml

from bdgf_nb.data.catalog import available_datasets, load_catalog
from bdgf_nb.data.checks import validate_labels, validate_modality
from bdgf_nb.data.load import load_scene
from bdgf_nb.data.readers import read_array
from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.errors import DataError

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
H, W = 4, 5


def gt_map() -> np.ndarray:
    """(4, 5) labels, classes 1..3 all present, some unlabelled."""
    return np.array([[0, 1, 1, 2, 2], [1, 1, 2, 2, 0], [3, 3, 0, 2, 1], [3, 3, 3, 0, 1]], dtype=np.int16)


def hsi_cube(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((H, W, 3)).astype(np.float32)


def dsm_map() -> np.ndarray:
    return np.arange(H * W, dtype=np.float64).reshape(H, W)


def save_mat73(path: Path, **arrays: np.ndarray) -> None:
    """Write like MATLAB `save -v7.3`: HDF5 behind a 512-byte MATLAB header, arrays stored in
    column-major order (transposed), the MATLAB class in an attribute."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            if value.dtype.kind == "U":  # char matrix: UTF-16 code units, one string per row
                width = max(len(s) for s in value)
                data = np.array([[ord(c) for c in s.ljust(width)] for s in value], dtype=np.uint16)
                matlab_class = "char"
            elif value.dtype == bool:
                data, matlab_class = value.astype(np.uint8), "logical"
            else:
                data, matlab_class = value, "double"
            f.create_dataset(key, data=data.T).attrs["MATLAB_class"] = np.bytes_(matlab_class)
    with open(path, "r+b") as fh:
        text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
        fh.write(text.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM")


def save_envi(path: Path, image: np.ndarray) -> None:
    import spectral.io.envi as envi

    envi.save_image(str(path), image, force=True, ext=".img")


def write_catalog(tmp_path: Path, entries: dict[str, Any]) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path


def scene_entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "scene",
        "path": "scene.npz",
        "modalities": {"hsi": "hsi", "lidar": "lidar"},
        "gt": "gt",
    }
    entry.update(fields)
    return entry


def load_tmp_scene(tmp_path: Path, arrays: dict[str, np.ndarray], **fields: Any) -> Scene:
    """Write `arrays` to scene.npz and load them through a one-entry catalog."""
    np.savez(tmp_path / "scene.npz", **arrays)
    scene = load_scene("s", write_catalog(tmp_path, {"s": scene_entry(**fields)}))
    assert isinstance(scene, Scene)
    return scene


def good_arrays(**changes: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"hsi": hsi_cube(), "lidar": dsm_map(), "gt": gt_map()}
    arrays.update(changes)
    return arrays


# --- readers round-trip -----------------------------------------------------------------------


def test_npz_round_trip(tmp_path: Path) -> None:
    cube = hsi_cube()
    np.savez(tmp_path / "a.npz", cube=cube, other=np.zeros(2))
    assert np.array_equal(read_array(tmp_path / "a.npz", "cube"), cube)


def test_mat_v5_round_trip(tmp_path: Path) -> None:
    cube = hsi_cube()
    scipy.io.savemat(tmp_path / "a.mat", {"cube": cube, "dsm": dsm_map()})
    assert np.array_equal(read_array(tmp_path / "a.mat", "cube"), cube)
    assert np.array_equal(read_array(tmp_path / "a.mat", "dsm"), dsm_map())


def test_mat_v73_round_trip_transposes_back(tmp_path: Path) -> None:
    cube, mask = hsi_cube(), gt_map() > 1
    path = tmp_path / "a.mat"
    save_mat73(path, cube=cube, mask=mask, names=np.array(["grass", "road"]))
    assert scipy.io.matlab.matfile_version(path) == (2, 0)  # what MATLAB v7.3 writes
    with h5py.File(path, "r") as f:
        assert f["cube"].shape == (3, W, H)  # column-major on disk
    assert np.array_equal(read_array(path, "cube"), cube)
    loaded_mask = read_array(path, "mask")
    assert loaded_mask.dtype == bool and np.array_equal(loaded_mask, mask)
    assert list(read_array(path, "names")) == ["grass", "road"]


def test_envi_round_trip(tmp_path: Path) -> None:
    cube = hsi_cube()
    save_envi(tmp_path / "cube.hdr", cube)
    loaded = read_array(tmp_path / "cube.hdr")
    assert loaded.shape == (H, W, 3) and np.array_equal(loaded, cube)


def test_scene_from_mixed_files(tmp_path: Path) -> None:
    """Each modality, gt and mask from its own file and format."""
    cube, gt = hsi_cube(), gt_map()
    train = np.zeros((H, W), dtype=np.float64)
    train[:2] = 1.0  # MATLAB-style double 0/1 mask
    save_envi(tmp_path / "hsi.hdr", cube)
    save_mat73(tmp_path / "dsm.mat", DSM=dsm_map())
    scipy.io.savemat(tmp_path / "gt.mat", {"GT": gt.astype(np.float64), "TR": train})
    np.savez(tmp_path / "te.npz", te=np.arange(H * W).reshape(H, W) >= 15)
    entry = {
        "kind": "scene",
        "modalities": {"hsi": {"path": "hsi.hdr"}, "lidar": {"path": "dsm.mat", "key": "DSM"}},
        "gt": {"path": "gt.mat", "key": "GT"},
        "train_mask": {"path": "gt.mat", "key": "TR"},
        "test_mask": {"path": "te.npz", "key": "te"},
        "class_names": ["a", "b", "c"],
    }
    scene = load_scene("mixed", write_catalog(tmp_path, {"mixed": entry}))
    assert isinstance(scene, Scene)
    assert scene.channels == {"hsi": 3, "lidar": 1}
    assert np.array_equal(scene.modalities["hsi"], cube)
    assert np.array_equal(scene.modalities["lidar"][:, :, 0], dsm_map().astype(np.float32))
    assert scene.gt.dtype == np.int64 and np.array_equal(scene.gt, gt)
    assert scene.modalities["lidar"].dtype == np.float32
    assert scene.train_mask is not None and scene.test_mask is not None
    assert int(scene.train_mask.sum()) == 2 * W and int(scene.test_mask.sum()) == 5
    assert scene.class_names == ("a", "b", "c")


def test_scene_defaults_class_names_and_keeps_metadata(tmp_path: Path) -> None:
    scene = load_tmp_scene(tmp_path, good_arrays(), metadata={"official_split_is_disjoint": True})
    assert scene.class_names == ("class 1", "class 2", "class 3")
    assert scene.metadata["official_split_is_disjoint"] is True
    assert scene.metadata["dataset"] == "s"


# --- unreadable files -------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"file not found: .*absent\.npz"):
        read_array(tmp_path / "absent.npz", "x")


def test_truncated_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((50, 50)))
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "a.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cannot read .*a\.npz as \.npz archive.*truncated or corrupt"):
        read_array(tmp_path / "a.npz", "x")


def test_corrupt_mat_v5(tmp_path: Path) -> None:
    (tmp_path / "a.mat").write_bytes(b"not a matlab file at all" * 10)
    with pytest.raises(DataError, match=r"cannot read .*a\.mat as MATLAB v5 file"):
        read_array(tmp_path / "a.mat", "x")


def test_truncated_mat_v73(tmp_path: Path) -> None:
    save_mat73(tmp_path / "a.mat", x=np.zeros((40, 40)))
    data = (tmp_path / "a.mat").read_bytes()
    (tmp_path / "a.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cannot read .*a\.mat as MATLAB v7\.3"):
        read_array(tmp_path / "a.mat", "x")


def test_truncated_envi_data(tmp_path: Path) -> None:
    save_envi(tmp_path / "c.hdr", hsi_cube())
    (tmp_path / "c.img").write_bytes((tmp_path / "c.img").read_bytes()[:17])
    with pytest.raises(DataError, match=r"cannot read .*c\.hdr as ENVI image"):
        read_array(tmp_path / "c.hdr")


def test_envi_without_data_file(tmp_path: Path) -> None:
    save_envi(tmp_path / "c.hdr", hsi_cube())
    (tmp_path / "c.img").unlink()
    with pytest.raises(DataError, match=r"cannot read .*c\.hdr as ENVI image.*EnviDataFileNotFound"):
        read_array(tmp_path / "c.hdr")


def test_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.jp2").write_bytes(b"\x00\x00\x00\x0cjP  ")
    with pytest.raises(DataError, match=r"unsupported file type '\.jp2'.*expected \.npz, \.npy, \.mat.*GeoTIFF"):
        read_array(tmp_path / "a.jp2", "x")


def test_truncated_geotiff(tmp_path: Path) -> None:
    """A .tif that is only a TIFF magic number: a DataError naming the file, not a rasterio trace."""
    (tmp_path / "a.tif").write_bytes(b"II*\x00")
    with pytest.raises(DataError, match=r"cannot read .*a\.tif as GeoTIFF.*truncated or corrupt"):
        read_array(tmp_path / "a.tif")


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["npz", "mat5", "mat73"])
def test_unknown_key_lists_available(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / ("a.npz" if fmt == "npz" else "a.mat")
    arrays = {"gt": gt_map().astype(np.float64), "hsi": hsi_cube()}
    if fmt == "npz":
        np.savez(path, **arrays)
    elif fmt == "mat5":
        scipy.io.savemat(path, arrays)
    else:
        save_mat73(path, **arrays)
    with pytest.raises(DataError, match=r"has no key 'hsix'; available keys: \['gt', 'hsi'\]"):
        read_array(path, "hsix")


def test_unknown_key_in_scene_names_dataset_and_modality(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dataset 's', modality 'lidar' .*has no key 'lidar'"):
        load_tmp_scene(tmp_path, {"hsi": hsi_cube(), "dsm": dsm_map(), "gt": gt_map()})


def test_key_required_for_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros(2))
    with pytest.raises(DataError, match=r"holds several arrays; name one with `key`"):
        read_array(tmp_path / "a.npz")


def test_envi_takes_no_key(tmp_path: Path) -> None:
    save_envi(tmp_path / "c.hdr", hsi_cube())
    with pytest.raises(DataError, match=r"holds one image and takes no key, found key 'hsi'"):
        read_array(tmp_path / "c.hdr", "hsi")


# --- shapes, values, dtypes -------------------------------------------------------------------


def test_spatial_shape_mismatch(tmp_path: Path) -> None:
    arrays = good_arrays(lidar=np.zeros((H, W + 1)))
    with pytest.raises(
        DataError,
        match=r"modality 'lidar' .*spatial shape \(4, 6\) does not match the first modality's \(4, 5\)",
    ):
        load_tmp_scene(tmp_path, arrays)


def test_2d_spectral_image_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"modality 'hsi' .*expected \(H, W, C\), found shape \(4, 5\)"):
        load_tmp_scene(tmp_path, good_arrays(hsi=np.zeros((H, W))))


def test_2d_auxiliary_gets_channel_axis(tmp_path: Path) -> None:
    scene = load_tmp_scene(tmp_path, good_arrays())
    assert scene.modalities["lidar"].shape == (H, W, 1)
    assert scene.modalities["lidar"].dtype == np.float32


def test_nan_and_inf_counted(tmp_path: Path) -> None:
    dsm = dsm_map()
    dsm[0, 0] = dsm[1, 1] = np.nan
    dsm[2, 2] = np.inf
    with pytest.raises(DataError, match=r"modality 'lidar' .*found 2 NaN and 1 inf of 20 values"):
        load_tmp_scene(tmp_path, good_arrays(lidar=dsm))


def test_complex_modality_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"modality 'hsi' .*found dtype complex128"):
        load_tmp_scene(tmp_path, good_arrays(hsi=hsi_cube().astype(np.complex128)))


def test_object_array_rejected(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.array([np.zeros(2), "a"], dtype=object))
    with pytest.raises(DataError, match=r"key 'x' holds an object array"):
        read_array(tmp_path / "a.npz", "x")


def test_object_array_validation() -> None:
    with pytest.raises(DataError, match=r"hsi: expected a real numeric array .*found dtype object"):
        validate_modality(np.empty((2, 2, 2), dtype=object), "hsi", spectral=True)


def test_negative_labels(tmp_path: Path) -> None:
    gt = gt_map()
    gt[0, 0] = -1
    with pytest.raises(DataError, match=r"gt .*expected labels >= 0 .*found 1 below, minimum -1"):
        load_tmp_scene(tmp_path, good_arrays(gt=gt))


def test_labels_above_declared_classes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"expected labels <= 2 \(2 classes declared\), found 5 above, maximum 3"):
        load_tmp_scene(tmp_path, good_arrays(), n_classes=2)


def test_declared_class_without_pixel(tmp_path: Path) -> None:
    gt = gt_map()
    gt[gt == 2] = 0
    with pytest.raises(DataError, match=r"declared class\(es\) \[2\] of 1\.\.3 have no pixel"):
        load_tmp_scene(tmp_path, good_arrays(gt=gt))
    with pytest.raises(DataError, match=r"declared class\(es\) \[4, 5\] of 1\.\.5 have no pixel"):
        load_tmp_scene(tmp_path, good_arrays(), class_names=["a", "b", "c", "d", "e"])


def test_class_names_disagree_with_n_classes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"n_classes is 4 but class_names has 3 names"):
        load_tmp_scene(tmp_path, good_arrays(), n_classes=4, class_names=["a", "b", "c"])


def test_float_gt_must_be_integer_valued(tmp_path: Path) -> None:
    scene = load_tmp_scene(tmp_path, good_arrays(gt=gt_map().astype(np.float64)))
    assert scene.gt.dtype == np.int64 and np.array_equal(scene.gt, gt_map())
    fractional = gt_map().astype(np.float64)
    fractional[0, 1] = 1.5
    with pytest.raises(DataError, match=r"gt .*expected integer values, found 1 non-integer"):
        load_tmp_scene(tmp_path, good_arrays(gt=fractional))


def test_validate_labels_derives_class_count() -> None:
    labels, n = validate_labels(np.array([0, 1, 3, 2]), "labels")
    assert n == 3 and labels.dtype == np.int64


def test_mask_wrong_shape(tmp_path: Path) -> None:
    arrays = good_arrays(tr=np.zeros((H, W + 1), dtype=bool), te=np.zeros((H, W), dtype=bool))
    with pytest.raises(DataError, match=r"train_mask .*expected shape \(4, 5\) \(the gt's\), found \(4, 6\)"):
        load_tmp_scene(tmp_path, arrays, train_mask="tr", test_mask="te")


def test_mask_not_binary(tmp_path: Path) -> None:
    arrays = good_arrays(tr=np.full((H, W), 2), te=np.zeros((H, W), dtype=bool))
    with pytest.raises(DataError, match=r"train_mask .*expected a bool or 0/1 mask, found 20 other"):
        load_tmp_scene(tmp_path, arrays, train_mask="tr", test_mask="te")


def test_train_test_overlap(tmp_path: Path) -> None:
    train = np.zeros((H, W), dtype=bool)
    train[:2] = True
    test = ~train
    test[1, 1] = True
    arrays = good_arrays(tr=train, te=test)
    with pytest.raises(DataError, match=r"dataset 's': expected disjoint train and test, found 1 pixels in both"):
        load_tmp_scene(tmp_path, arrays, train_mask="tr", test_mask="te")


# --- pixel scenes -----------------------------------------------------------------------------


def pixel_files(tmp_path: Path, **changes: np.ndarray) -> None:
    arrays = {
        "y_a": np.array([1, 2, 2]),
        "rc_a": np.array([[0, 0], [1, 2], [3, 4]]),
        "f_a": np.arange(6, dtype=np.float64).reshape(3, 2),
        "y_b": np.array([3, 1]),
        "rc_b": np.array([[2, 2], [0, 4]]),
        "f_b": np.arange(4, dtype=np.float64).reshape(2, 2) + 10,
        "dsm": dsm_map(),
    }
    arrays.update(changes)
    np.savez(tmp_path / "pix.npz", **arrays)


PIXEL_ENTRY = {
    "kind": "pixel",
    "path": "pix.npz",
    "parts": [
        {"name": "train", "labels": "y_a", "coords": "rc_a"},
        {"name": "test", "labels": "y_b", "coords": "rc_b"},
    ],
    "modalities": {"feat": ["f_a", "f_b"], "dsm": {"raster": "dsm"}},
}


def load_pixels(tmp_path: Path, **fields: Any) -> PixelScene:
    scene = load_scene("p", write_catalog(tmp_path, {"p": {**PIXEL_ENTRY, **fields}}))
    assert isinstance(scene, PixelScene)
    return scene


def test_pixel_scene_from_parts_and_raster(tmp_path: Path) -> None:
    pixel_files(tmp_path)
    scene = load_pixels(tmp_path)
    assert scene.image_shape == (H, W)
    assert scene.labels.tolist() == [1, 2, 2, 3, 1]
    assert scene.channels == {"feat": 2, "dsm": 1}
    assert scene.modalities["feat"][3:].tolist() == [[10, 11], [12, 13]]
    assert scene.modalities["dsm"][:, 0].tolist() == [0, 7, 19, 12, 4]  # dsm[r, c] = r * W + c
    assert scene.splits["train"].tolist() == [True, True, True, False, False]
    assert scene.splits["test"].tolist() == [False, False, False, True, True]
    assert scene.class_names == ("class 1", "class 2", "class 3")


def test_pixel_coords_outside_image(tmp_path: Path) -> None:
    pixel_files(tmp_path, rc_b=np.array([[2, 2], [4, 0]]))
    with pytest.raises(DataError, match=r"parts\[1\] coords .*inside image_shape \(4, 5\), found 1 rows"):
        load_pixels(tmp_path)


def test_pixel_parts_overlap(tmp_path: Path) -> None:
    pixel_files(tmp_path, rc_b=np.array([[2, 2], [1, 2]]))
    with pytest.raises(DataError, match=r"parts\[0\] and parts\[1\] share 1 pixels"):
        load_pixels(tmp_path)


def test_pixel_rows_must_be_labelled(tmp_path: Path) -> None:
    pixel_files(tmp_path, y_b=np.array([3, 0]))
    with pytest.raises(DataError, match=r"labels: expected labels >= 1 \(every row labelled\)"):
        load_pixels(tmp_path)


def test_pixel_table_rows_mismatch(tmp_path: Path) -> None:
    pixel_files(tmp_path, f_b=np.zeros((3, 2)))
    with pytest.raises(DataError, match=r"modality 'feat', parts\[1\] .*expected \(2, C\)"):
        load_pixels(tmp_path)


def test_pixel_table_nan(tmp_path: Path) -> None:
    pixel_files(tmp_path, f_a=np.array([[0.0, np.nan], [1, 1], [2, 2]]))
    with pytest.raises(DataError, match=r"modality 'feat', parts\[0\] .*found 1 NaN and 0 inf"):
        load_pixels(tmp_path)


# --- catalog schema ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"kind": "cube"},
            r"'bad', field 'kind': expected one of \[.*'tiles', 'benchmark'\], found 'cube'",
        ),
        ("just text", r"'bad': expected a mapping of fields, found str"),
        (scene_entry(colour="red"), r"'bad': unknown field\(s\) \['colour'\] for kind 'scene'"),
        (
            {"kind": "scene", "path": "x.npz", "gt": "gt"},
            r"missing required field\(s\) \['modalities'\]",
        ),
        (scene_entry(path=None), r"'bad', modality 'hsi': key 'hsi' needs the entry's `path`"),
        (
            scene_entry(gt=3),
            r"'bad', field 'gt': expected a key \(string\) or \{path: file, key: name\}, found int",
        ),
        (scene_entry(gt={"file": "x"}), r"field 'gt': unknown field\(s\) \['file'\]"),
        (
            scene_entry(train_mask="tr"),
            r"give both 'train_mask' and 'test_mask' or neither, found only 'train_mask'",
        ),
        (scene_entry(n_classes=0), r"field 'n_classes': expected a positive integer, found 0"),
        (scene_entry(class_names=["a", 2]), r"field 'class_names': expected a list of strings"),
        (scene_entry(modalities={}), r"field 'modalities': expected at least one item"),
        ({"kind": "synthetic", "params": [1]}, r"field 'params': expected a mapping"),
        (
            {**PIXEL_ENTRY, "modalities": {"feat": ["f_a"]}},
            r"modality 'feat': expected one table per part \(2\), found 1",
        ),
        (
            {**PIXEL_ENTRY, "modalities": {"feat": ["f_a", "f_b"]}},
            r"'image_shape' is required when no modality is a raster",
        ),
        (
            {**PIXEL_ENTRY, "image_shape": [4]},
            r"field 'image_shape': expected \[H, W\] positive integers",
        ),
        ({**PIXEL_ENTRY, "parts": []}, r"field 'parts': expected a non-empty list"),
        (
            {**PIXEL_ENTRY, "parts": [{"labels": "y"}]},
            r"parts\[0\]: missing field\(s\) \['coords'\]",
        ),
    ],
)
def test_catalog_schema_errors(tmp_path: Path, entry: Any, message: str) -> None:
    path = write_catalog(tmp_path, {"good": {"kind": "synthetic"}, "bad": entry})
    with pytest.raises(DataError, match=message) as error:
        load_catalog(path)
    assert str(error.value).startswith("catalog entry 'bad'")


def test_catalog_text_field_type(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"bad": {"kind": "synthetic", "description": 3}})
    with pytest.raises(DataError, match=r"'bad', field 'description': expected text, found int 3"):
        load_catalog(path)


@pytest.mark.parametrize("fmt", ["mat5", "mat73"])
def test_class_names_from_matlab(tmp_path: Path, fmt: str) -> None:
    """A MATLAB v5 cell array of strings, or a v7.3 char matrix, gives the class names."""
    names = np.array(["grass", "road", "roof"])
    if fmt == "mat5":
        scipy.io.savemat(tmp_path / "names.mat", {"names": names.astype(object)[None]})
    else:
        save_mat73(tmp_path / "names.mat", names=names)
    scene = load_tmp_scene(tmp_path, good_arrays(), class_names={"path": "names.mat", "key": "names"})
    assert scene.class_names == ("grass", "road", "roof")


def test_catalog_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("a: [1, 2\nb: }")
    with pytest.raises(DataError, match=r"c\.yaml: not valid YAML"):
        load_catalog(tmp_path / "c.yaml")


def test_catalog_not_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("- synthetic\n")
    with pytest.raises(DataError, match=r"expected a mapping of dataset name -> entry, found list"):
        load_catalog(tmp_path / "c.yaml")


def test_catalog_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"catalog not found: .*nope\.yaml"):
        load_catalog(tmp_path / "nope.yaml")


def test_unknown_dataset_lists_known(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"b": {"kind": "synthetic"}, "a": {"kind": "synthetic"}})
    with pytest.raises(DataError, match=r"unknown dataset 'nope'; known: \['a', 'b'\]"):
        load_scene("nope", path)


def test_file_dataset_takes_no_overrides(tmp_path: Path) -> None:
    np.savez(tmp_path / "scene.npz", **good_arrays())
    path = write_catalog(tmp_path, {"s": scene_entry()})
    with pytest.raises(DataError, match=r"dataset 's' is read from files and takes no overrides, found \['seed'\]"):
        load_scene("s", path, seed=1)


def test_available_datasets_leaves_out_missing_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "scene.npz", **good_arrays())
    path = write_catalog(
        tmp_path,
        {
            "syn": {"kind": "synthetic"},
            "here": scene_entry(),
            "gone": scene_entry(path="elsewhere/scene.npz"),
            "half": scene_entry(modalities={"hsi": "hsi", "lidar": {"path": "dsm.mat", "key": "d"}}),
        },
    )
    assert available_datasets(path) == ["syn", "here"]


def test_repo_catalog_schema() -> None:
    catalog = load_catalog()
    assert {
        "synthetic",
        "synthetic_sar",
        "houston2018_west",
        "houston2013",
        "houston2013_lidar",
    } <= set(catalog)
    assert catalog["synthetic"].kind == "synthetic"
    west = catalog["houston2018_west"]
    assert west.files() == [(REPO / "../shared/data/houston2018_west/scene.npz").resolve()]
    assert catalog["houston2013_lidar"].pixel_modalities["dsm"].raster is not None
    assert "synthetic" in available_datasets(catalog)
    idtrees = catalog["idtrees_mlbs"]
    assert idtrees.kind == "tiles" and idtrees.pad == 3 and list(idtrees.modalities) == ["hsi", "chm", "rgb"]
    # available exactly when every tile's three GeoTIFFs, the crowns and the field table are there
    assert ("idtrees_mlbs" in available_datasets(catalog)) == all(p.is_file() for p in idtrees.files())


# --- synthetic through the catalog ------------------------------------------------------------


def test_synthetic_overrides_match_generator() -> None:
    synthetic = pytest.importorskip("bdgf_nb.data.synthetic", reason="bdgf_nb/synthetic.py not written yet")
    scene = load_scene("synthetic", size=64, n_bands=8, seed=3)
    params = {**load_catalog()["synthetic"].params, "size": 64, "n_bands": 8, "seed": 3}
    reference = synthetic.make_synthetic_scene(synthetic.SyntheticSceneConfig(**params))
    assert scene.name == "synthetic" and isinstance(scene, Scene)
    assert np.array_equal(scene.gt, reference.gt)
    for key, array in reference.modalities.items():
        assert np.array_equal(scene.modalities[key], array)
    other = load_scene("synthetic", size=64, n_bands=8, seed=4)
    assert not np.array_equal(other.modalities["hsi"], scene.modalities["hsi"])


def test_synthetic_sar_has_three_modalities() -> None:
    pytest.importorskip("bdgf_nb.data.synthetic", reason="bdgf_nb/synthetic.py not written yet")
    scene = load_scene("synthetic_sar", size=64, n_bands=8)
    assert isinstance(scene, Scene) and scene.name == "synthetic_sar"
    assert scene.channels == {"hsi": 8, "lidar": 1, "sar": 2}


def test_synthetic_unknown_parameter() -> None:
    pytest.importorskip("bdgf_nb.data.synthetic", reason="bdgf_nb/synthetic.py not written yet")
    with pytest.raises(DataError, match=r"dataset 'synthetic': unknown synthetic parameter\(s\) \['colour'\]"):
        load_scene("synthetic", colour=1)


# --- real data (skipped cleanly without ../shared/data) ---------------------------------------


def _needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (SHARED_DATA / name / "scene.npz").is_file(),
        reason=f"real data absent: {SHARED_DATA / name / 'scene.npz'}",
    )


@pytest.mark.realdata
@_needs("houston2018_west")
def test_houston2018_west() -> None:
    scene = load_scene("houston2018_west")
    assert isinstance(scene, Scene)
    assert scene.modalities["hsi"].shape == (300, 150, 5)
    assert scene.modalities["lidar"].shape == (300, 150, 1)
    assert scene.n_classes == 12 and scene.class_names[0] == "class 1"
    assert scene.train_mask is not None and scene.test_mask is not None
    assert int(scene.train_mask.sum()) == 14538 and int(scene.test_mask.sum()) == 10840
    assert scene.metadata["official_split_is_disjoint"] is True
    assert "houston2018_west" in available_datasets()


@pytest.mark.realdata
@_needs("houston2013")
def test_houston2013_pixel_scene() -> None:
    scene = load_scene("houston2013")
    assert isinstance(scene, PixelScene)
    assert scene.channels == {"hsi": 144, "lidar_features": 21, "dsm": 1}
    assert scene.labels.shape == (2832,) and scene.n_classes == 15
    assert scene.class_names[0] == "Healthy grass" and scene.image_shape == (349, 1905)
    # The DSM sampled at train_rc tracks LiDAR feature 0 (README: r = 0.976).
    r = np.corrcoef(scene.modalities["dsm"][:, 0], scene.modalities["lidar_features"][:, 0])[0, 1]
    assert r > 0.95


@pytest.mark.realdata
@_needs("houston2013")
def test_houston2013_lidar_official_split() -> None:
    scene = load_scene("houston2013_lidar")
    assert isinstance(scene, PixelScene)
    assert scene.channels == {"lidar_features": 21, "dsm": 1}
    assert scene.labels.shape == (15029,) and scene.n_classes == 15
    train, test = scene.splits["official_train"], scene.splits["official_test"]
    assert int(train.sum()) == 2832 and int(test.sum()) == 12197 and not (train & test).any()
