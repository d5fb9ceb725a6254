"""Real formats in: .npy, GeoTIFF grids resampled onto the reference grid, polygons joined to a CSV,
nodata policies, a catalog of one's own, tiled scenes. Every bad input is one DataError that names
the file / field, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
import yaml
from affine import Affine

from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.data.load import load_scene, write_catalog_entry
from bdgf_nb.data.scene import Scene
from bdgf_nb.errors import DataError

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
CRS = "EPSG:32617"
X0, Y0 = 542000.0, 4135000.0  # top-left corner of the test grids (UTM 17N metres)
H, W = 6, 8  # the 1 m reference grid


def write_tif(
    path: Path, array: np.ndarray, res: float = 1.0, x0: float = X0, y0: float = Y0, nodata: float | None = None
) -> Path:
    """(H, W) or (H, W, C) -> a GeoTIFF with north-up pixels of `res` metres."""
    bands = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=bands.shape[1],
        width=bands.shape[2],
        count=bands.shape[0],
        dtype=bands.dtype,
        crs=CRS,
        transform=Affine(res, 0, x0, 0, -res, y0),
        nodata=nodata,
    ) as dst:
        dst.write(bands)
    return path


def write_catalog(folder: Path, entries: dict[str, Any], name: str = "catalog.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path


def hsi() -> np.ndarray:
    return np.random.default_rng(0).random((H, W, 3)).astype(np.float32)


def gt() -> np.ndarray:
    labels = np.zeros((H, W), dtype=np.uint8)
    labels[:3, :4], labels[3:, 4:] = 1, 2
    return labels


def geo_entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "scene",
        "modalities": {"hsi": {"path": "hsi.tif"}, "dsm": {"path": "dsm.tif"}},
        "gt": {"path": "gt.tif"},
    }
    entry.update(fields)
    return entry


def load_geo(tmp_path: Path, dsm: np.ndarray, **fields: Any) -> Scene:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", dsm)
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(**fields)}))
    assert isinstance(scene, Scene)
    return scene


# --- .npy ---------------------------------------------------------------------------------------


def test_npy_gt(tmp_path: Path) -> None:
    np.savez(tmp_path / "scene.npz", hsi=hsi(), lidar=np.ones((H, W)))
    np.save(tmp_path / "gt.npy", gt().astype(np.int64))
    entry = {
        "kind": "scene",
        "path": "scene.npz",
        "modalities": {"hsi": "hsi", "lidar": "lidar"},
        "gt": {"path": "gt.npy"},
    }
    scene = load_scene("s", write_catalog(tmp_path, {"s": entry}))
    assert isinstance(scene, Scene) and np.array_equal(scene.gt, gt()) and scene.n_classes == 2


def test_npy_takes_no_key(tmp_path: Path) -> None:
    np.save(tmp_path / "gt.npy", gt())
    np.savez(tmp_path / "scene.npz", hsi=hsi())
    entry = {"kind": "scene", "path": "scene.npz", "modalities": {"hsi": "hsi"}, "gt": {"path": "gt.npy", "key": "gt"}}
    with pytest.raises(DataError, match=r"gt .*gt\.npy.* holds one array and takes no key, found key 'gt'"):
        load_scene("s", write_catalog(tmp_path, {"s": entry}))


# --- GeoTIFF grids ------------------------------------------------------------------------------


def test_geotiff_keeps_crs_and_transform(tmp_path: Path) -> None:
    scene = load_geo(tmp_path, np.arange(H * W, dtype=np.float32).reshape(H, W))
    assert scene.metadata["crs"] == CRS
    assert scene.metadata["transform"] == (1.0, 0.0, X0, 0.0, -1.0, Y0)
    assert np.allclose(scene.modalities["hsi"], hsi()) and scene.channels == {"hsi": 3, "dsm": 1}
    assert scene.metadata["resampled"] == {}


def test_finer_rgb_is_area_averaged_onto_the_hsi_grid(tmp_path: Path) -> None:
    """A 0.1 m RGB over the 1 m HSI's extent: each 1 m pixel is the mean of its 10 x 10 block."""
    rgb = np.random.default_rng(1).random((H * 10, W * 10, 3)).astype(np.float32)
    write_tif(tmp_path / "rgb.tif", rgb, res=0.1)
    scene = load_geo(
        tmp_path,
        np.ones((H, W), np.float32),
        modalities={"hsi": {"path": "hsi.tif"}, "dsm": {"path": "dsm.tif"}, "rgb": {"path": "rgb.tif"}},
    )
    block_means = rgb.reshape(H, 10, W, 10, 3).mean(axis=(1, 3))
    diff = np.abs(scene.modalities["rgb"] - block_means).max()
    print(f"max |resampled - block mean| = {diff:.2e}")
    assert scene.modalities["rgb"].shape == (H, W, 3) and diff < 1e-5
    assert scene.metadata["resampled"] == {"rgb": "average"}


def test_coarser_gt_is_resampled_by_nearest(tmp_path: Path) -> None:
    """Labels on a 2 m grid: every 1 m pixel takes its 2 m parent's class (never an average)."""
    coarse = np.array([[1, 1, 2, 2], [1, 0, 2, 2], [2, 2, 1, 1]], dtype=np.uint8)
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32))
    write_tif(tmp_path / "gt.tif", coarse, res=2.0)
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))
    assert np.array_equal(scene.gt, np.kron(coarse, np.ones((2, 2), dtype=np.uint8)))
    assert scene.metadata["resampled"] == {"gt": "nearest"}


def test_non_overlapping_rasters_refused(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32), x0=X0 + 1000)
    with pytest.raises(
        DataError, match=r"modality 'dsm' .*dsm\.tif.*expected a raster overlapping the reference grid.*no overlap"
    ):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))


def test_partial_overlap_needs_a_nodata_policy(tmp_path: Path) -> None:
    """A DSM shifted 2 m east leaves the 2 west columns uncovered: an error naming the policy to
    add; with `mask`, those pixels lose their labels and are counted."""
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32), x0=X0 + 2)
    with pytest.raises(
        DataError,
        match=r"modality 'dsm'.*partial coverage: dsm\.tif covers 75\.0 % of the reference grid.*"
        r"12 of the grid's 48 pixels have no dsm data.*Add to the catalog entry `nodata: \{dsm: mask\}`",
    ):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(nodata={"dsm": "mask"})}))
    assert (scene.gt[:, :2] == 0).all() and np.array_equal(scene.gt[:, 2:], gt()[:, 2:])
    assert scene.metadata["nodata"]["dsm"]["masked"] == 12
    assert scene.metadata["nodata"]["labelled_pixels_masked"] == int((gt()[:, :2] > 0).sum())
    assert np.array_equal(scene.metadata["valid"][:, :2], np.zeros((H, 2), bool))


# --- nodata ---------------------------------------------------------------------------------------


def holed_dsm() -> np.ndarray:
    dsm = np.arange(H * W, dtype=np.float32).reshape(H, W)
    dsm[1, 1] = np.nan
    return dsm


def test_nan_without_policy_names_the_policy(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"modality 'dsm' .*found 1 NaN.*nodata: \{dsm: mask\}.*\{fill: nearest\}"):
        load_geo(tmp_path, holed_dsm())


@pytest.mark.parametrize("policy", ["mask", {"fill": "nearest"}, {"fill": "mean"}])
def test_nodata_policies(tmp_path: Path, policy: Any) -> None:
    scene = load_geo(tmp_path, holed_dsm(), nodata={"dsm": policy})
    dsm, finite = scene.modalities["dsm"][:, :, 0], np.delete(holed_dsm().ravel(), 1 * W + 1)
    assert np.isfinite(dsm).all()
    report = scene.metadata["nodata"]["dsm"]
    assert report["holes"] == 1
    if policy == "mask":
        assert scene.gt[1, 1] == 0 and gt()[1, 1] == 1 and report["masked"] == 1
        assert scene.metadata["nodata"]["labelled_pixels_masked"] == 1
    else:
        assert scene.gt[1, 1] == 1 and report["filled"] == 1
        expected = finite.mean() if policy["fill"] == "mean" else None
        if expected is None:  # nearest: one of the 4 grid neighbours at distance 1
            assert dsm[1, 1] in {holed_dsm()[0, 1], holed_dsm()[2, 1], holed_dsm()[1, 0], holed_dsm()[1, 2]}
        else:
            assert np.isclose(dsm[1, 1], expected)


def test_geotiff_nodata_value_is_a_hole(tmp_path: Path) -> None:
    """The file's own nodata tag (-9999) counts as a hole like NaN."""
    dsm = np.ones((H, W), np.float32)
    dsm[0, 0] = -9999
    write_tif(tmp_path / "dsm.tif", dsm, nodata=-9999)
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(nodata={"dsm": {"fill": "nearest"}})}))
    assert scene.modalities["dsm"][0, 0, 0] == 1.0 and scene.metadata["nodata"]["dsm"]["filled"] == 1


def test_bad_nodata_policy(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"field 'nodata', modality 'dsm': expected `mask`, `\{fill: nearest\}` or `\{fill: mean\}`, found 'zero'",
    ):
        load_geo(tmp_path, holed_dsm(), nodata={"dsm": "zero"})
    with pytest.raises(DataError, match=r"field 'nodata': expected a modality name of \['dsm', 'hsi'\], found 'sar'"):
        load_geo(tmp_path, holed_dsm(), nodata={"sar": "mask"})


# --- polygons -------------------------------------------------------------------------------------


def box(col0: float, row0: float, col1: float, row1: float) -> shapely.Polygon:
    """A polygon over grid columns [col0, col1) and rows [row0, row1) of the 1 m test grid."""
    return shapely.box(X0 + col0, Y0 - row1, X0 + col1, Y0 - row0)


def write_polygons(path: Path, polygons: list[shapely.Polygon], ids: list[str]) -> Path:
    import pyogrio.raw

    pyogrio.raw.write(
        path,
        shapely.to_wkb(np.array(polygons)),
        [np.array(ids, dtype=object)],
        fields=["indvdID"],
        geometry_type="Polygon",
        crs=CRS,
        driver="GPKG" if path.suffix == ".gpkg" else "ESRI Shapefile",
    )
    return path


def crowns(tmp_path: Path, suffix: str = ".shp") -> dict[str, Any]:
    """Three crowns: t1 (oak) cols 0-3 rows 0-2, t2 (maple) cols 2-5 rows 1-3, overlapping t1 on
    cols 2-3 rows 1-2 (4 px); t3 (oak) cols 6-7 rows 4-5; t4 has no field row; t5 (birch) 1 px."""
    write_polygons(
        tmp_path / f"crowns{suffix}",
        [box(0, 0, 4, 3), box(2, 1, 6, 4), box(6, 4, 8, 6), box(0, 5, 1, 6), box(7, 0, 8, 1)],
        ["t1", "t2", "t3", "t4", "t5"],
    )
    (tmp_path / "field.csv").write_text(
        "indvdID,taxonID,height\nt1,oak,12\nt2,maple,9\nt3,oak,15\nt3,oak,15\nt5,birch,3\n"
    )
    return {"vector": f"crowns{suffix}", "class_field": "taxonID", "join": {"csv": "field.csv", "key": "indvdID"}}


@pytest.mark.parametrize("suffix", [".shp", ".gpkg"])
def test_polygons_joined_to_csv_with_overlap(tmp_path: Path, suffix: str) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32))
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(gt=crowns(tmp_path, suffix))}))
    assert scene.class_names == ("birch", "maple", "oak")
    expected = np.zeros((H, W), dtype=np.int64)
    expected[0:3, 0:4] = 3
    expected[1:4, 2:6] = 2
    expected[1:3, 2:4] = 0  # oak and maple both claim these pixel centres: unlabelled
    expected[4:6, 6:8] = 3
    expected[0, 7] = 1
    assert np.array_equal(scene.gt, expected)
    report = scene.metadata["labels"]
    assert report["overlap_pixels"] == 4 and report["polygons_without_class"] == 1
    assert report["pixels_per_class"] == {"birch": 1, "maple": 8, "oak": 12}


@pytest.mark.parametrize(
    ("rare", "names", "other_pixels"), [("drop", ("maple", "oak"), None), ("other", ("maple", "oak", "other"), 1)]
)
def test_rare_classes_dropped_or_merged(
    tmp_path: Path, rare: str, names: tuple[str, ...], other_pixels: int | None
) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32))
    labels = {**crowns(tmp_path), "min_pixels": 2, "rare": rare}
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(gt=labels)}))
    assert scene.class_names == names
    assert scene.metadata["labels"]["rare"] == {"birch": "dropped" if rare == "drop" else "merged into 'other'"}
    assert scene.gt[0, 7] == (0 if other_pixels is None else 3)


def test_join_key_missing_names_columns(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32))
    labels = {**crowns(tmp_path), "join": {"csv": "field.csv", "key": "treeID"}}
    with pytest.raises(
        DataError, match=r"field 'join.key': .*crowns\.shp has no attribute 'treeID'; available: \['indvdID'\]"
    ):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry(gt=labels)}))


def test_join_disagreeing_rows_refused(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W), np.float32))
    labels = crowns(tmp_path)
    (tmp_path / "field.csv").write_text("indvdID,taxonID\nt1,oak\nt1,maple\n")
    with pytest.raises(DataError, match=r"field\.csv gives keys \['t1'\] .*rows of different 'taxonID'"):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry(gt=labels)}))


def test_polygons_need_a_georeferenced_grid(tmp_path: Path) -> None:
    np.savez(tmp_path / "scene.npz", hsi=hsi())
    labels = crowns(tmp_path)
    entry = {"kind": "scene", "path": "scene.npz", "modalities": {"hsi": "hsi"}, "gt": labels}
    with pytest.raises(DataError, match=r"polygons need a georeferenced reference grid"):
        load_scene("s", write_catalog(tmp_path, {"s": entry}))


# --- a catalog of one's own -----------------------------------------------------------------------


def test_own_catalog_resolves_paths_from_its_folder(tmp_path: Path) -> None:
    """The catalog in project/cfg/, the data in project/data/: `../data/...` works from anywhere."""
    data = tmp_path / "project" / "data"
    data.mkdir(parents=True)
    write_tif(data / "hsi.tif", hsi())
    np.save(data / "gt.npy", gt())
    catalog = write_catalog(
        tmp_path / "project" / "cfg",
        {
            "mine": {
                "kind": "scene",
                "modalities": {"hsi": {"path": "../data/hsi.tif"}},
                "gt": {"path": "../data/gt.npy"},
            }
        },
    )
    assert load_catalog(catalog)["mine"].files() == [(data / "hsi.tif").resolve(), (data / "gt.npy").resolve()]
    scene = load_scene("mine", catalog)
    assert np.array_equal(scene.gt, gt())


def test_write_catalog_entry_appends_a_loadable_entry(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    np.save(tmp_path / "gt.npy", gt())
    catalog = write_catalog(tmp_path, {"first": {"kind": "synthetic"}})
    entry = {
        "kind": "scene",
        "modalities": {"hsi": {"path": "hsi.tif"}},
        "gt": {"path": "gt.npy"},
        "description": "mine",
    }
    write_catalog_entry(catalog, "mine", entry)
    entries = load_catalog(catalog)
    assert list(entries) == ["first", "mine"] and entries["mine"].description == "mine"
    assert np.array_equal(load_scene("mine", catalog).gt, gt())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"kind": "scene", "modalities": {"hsi": {"path": "hsi.tif"}}, "gt": {"path": "nope.npy"}},
            r"file\(s\) not found: \[.*nope\.npy",
        ),
        ({"kind": "scene", "modalities": {"hsi": {"path": "hsi.tif"}}}, r"missing required field\(s\) \['gt'\]"),
        ({"kind": "scene", "modalities": {"hsi": {"path": "hsi.tif"}}, "gt": {"path": "bad.npy"}}, r"labels >= 0"),
    ],
)
def test_write_catalog_entry_refuses_and_leaves_the_file(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    np.save(tmp_path / "bad.npy", -gt().astype(np.int64))
    catalog = write_catalog(tmp_path, {"first": {"kind": "synthetic"}})
    before = catalog.read_text()
    with pytest.raises(DataError, match=message):
        write_catalog_entry(catalog, "mine", entry)
    assert catalog.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.npy",
        "catalog.yaml",
        "hsi.tif",
    ]


def test_write_catalog_entry_refuses_a_taken_name(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path, {"first": {"kind": "synthetic"}})
    with pytest.raises(DataError, match=r"dataset 'first' exists already"):
        write_catalog_entry(catalog, "first", {"kind": "synthetic"})


# --- tiles ----------------------------------------------------------------------------------------


def test_tiles_are_padded_on_their_own(tmp_path: Path) -> None:
    """Two 4 x 4 plots 1 km apart, each a constant value: every pixel a patch of side 2 * pad + 1
    around a plot pixel can read carries that plot's value, never the other's."""
    for k, value in ((1, 10.0), (2, 20.0)):
        x0 = X0 + 1000 * k
        for folder in ("HSI", "CHM"):
            (tmp_path / folder).mkdir(exist_ok=True)
        write_tif(tmp_path / "HSI" / f"P{k}.tif", np.full((4, 4, 2), value, np.float32), x0=x0)
        write_tif(tmp_path / "CHM" / f"P{k}.tif", np.full((4, 4), value, np.float32), x0=x0)
    write_polygons(
        tmp_path / "crowns.shp",
        [shapely.box(X0 + 1000, Y0 - 2, X0 + 1002, Y0), shapely.box(X0 + 2000, Y0 - 4, X0 + 2004, Y0 - 2)],
        ["a", "b"],
    )
    (tmp_path / "field.csv").write_text("indvdID,taxonID\na,oak\nb,maple\n")
    entry = {
        "kind": "tiles",
        "tiles": {"glob": "HSI/P*.tif"},
        "pad": 2,
        "modalities": {"hsi": "HSI/{tile}.tif", "chm": "CHM/{tile}.tif"},
        "gt": {"vector": "crowns.shp", "class_field": "taxonID", "join": {"csv": "field.csv", "key": "indvdID"}},
    }
    scene = load_scene("t", write_catalog(tmp_path, {"t": entry}))
    assert scene.metadata["group_names"] == ["P1", "P2"]
    groups, pad = scene.metadata["groups"], 2
    assert scene.gt.shape == groups.shape == (8, 16)  # two cells of (4 + 2 * 2) side by side
    assert int((scene.gt == 2).sum()) == 4 and int((scene.gt == 1).sum()) == 8  # maple, oak by name
    for k, value in ((1, 10.0), (2, 20.0)):
        rows, cols = np.nonzero(groups == k)
        window = scene.modalities["hsi"][
            rows.min() - pad : rows.max() + pad + 1, cols.min() - pad : cols.max() + pad + 1
        ]
        assert (window == value).all()
    assert (scene.gt[groups == 0] == 0).all() and not scene.metadata["valid"][groups == 0].any()
    assert scene.metadata["tiles"][1]["transform"] == (1.0, 0.0, X0 + 2000, 0.0, -1.0, Y0)


IDTREES = pytest.mark.skipif(
    not (SHARED_DATA / "idtrees_mlbs" / "ITC" / "train_MLBS.shp").is_file(),
    reason=f"real data absent: {SHARED_DATA / 'idtrees_mlbs'}",
)


@pytest.mark.realdata
@IDTREES
def test_idtrees_mlbs(tmp_path: Path) -> None:
    """The repo entry keeps species in >= 5 plots (the folds of its split): 10 species, 11,245
    pixels. With the data README's rule (>= 3 plots) the counts it reports: 17 species, 12,248
    pixels; 2,439 pixels under crowns of different species."""
    scene = load_scene("idtrees_mlbs")
    assert scene.channels == {"hsi": 369, "chm": 1, "rgb": 3}
    assert scene.n_classes == 10 and int((scene.gt > 0).sum()) == 11245
    assert scene.metadata["labels"]["overlap_pixels"] == 2439
    assert len(scene.metadata["group_names"]) == 46 and scene.metadata["resampled"] == {"rgb": "average"}
    entry = yaml.safe_load((REPO / "data_catalog.yaml").read_text())["idtrees_mlbs"]
    entry = yaml.safe_load(
        yaml.safe_dump(entry, sort_keys=False).replace("../shared/", f"{SHARED_DATA.parent}/")
    )  # absolute paths
    entry["gt"]["min_groups"] = 3
    readme = load_scene("idtrees_mlbs", write_catalog(tmp_path, {"idtrees_mlbs": entry}))
    assert readme.n_classes == 17 and int((readme.gt > 0).sum()) == 12248


@pytest.mark.realdata
@IDTREES
def test_idtrees_mlbs_default_splits_are_measurable_plot_folds() -> None:
    """Seeds 0..4 are the 5 plot-disjoint folds; each measures every species."""
    from bdgf_nb.data.splits import class_counts, default_split

    scene = load_scene("idtrees_mlbs")
    groups = scene.metadata["groups"]
    tested = np.zeros(scene.gt.shape, int)
    for seed in range(5):
        split = default_split(scene, patch=7, seed=seed)  # refuses an unmeasurable fold
        assert not np.intersect1d(groups[split.train], groups[split.test]).size
        assert (class_counts(split, scene.gt)["test"] > 0).all()
        tested += split.test
    assert np.array_equal(tested, (scene.gt > 0).astype(int))
