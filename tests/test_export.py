"""Maps out: the GeoTIFF reopens on the input's grid (same CRS and transform) with class codes, a
colour table and the class names; the PNG exists; the area table sums pixels x pixel area;
bdgf-predict writes all three from a run folder and refuses a map that does not fit the scene."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from rasterio.crs import CRS

from bdgf_nb.cli.predict import main, predict_maps
from bdgf_nb.data.geotiff import Grid
from bdgf_nb.errors import DataError
from bdgf_nb.evaluate.export import write_class_map

TRANSFORM = Affine(0.5, 0, 542000.0, 0, -0.5, 4135000.0)  # 0.5 m pixels: 0.25 m^2 each
GRID = Grid(CRS.from_epsg(32617), TRANSFORM, (6, 8))
NAMES = ("oak", "maple", "birch")


def class_map() -> np.ndarray:
    m = np.zeros((6, 8), dtype=np.int64)
    m[:3], m[3:, :4], m[3:, 4:] = 1, 2, 0
    m[5, 7] = 3
    return m


def test_geotiff_reopens_with_same_crs_and_transform(tmp_path: Path) -> None:
    written = write_class_map(tmp_path, class_map(), NAMES, GRID)
    with rasterio.open(written["tif"]) as src:
        assert src.crs == GRID.crs and src.transform == TRANSFORM
        assert src.dtypes[0] == "uint8" and src.nodata == 0
        assert np.array_equal(src.read(1), class_map())
        assert json.loads(src.tags()["CLASS_NAMES"]) == list(NAMES) and src.tags()["CLASS_2"] == "maple"
        colours = src.colormap(1)
    assert colours[0][3] == 0 and len({colours[k] for k in (1, 2, 3)}) == 3  # transparent 0, distinct classes
    assert written["png"].stat().st_size > 0 and sorted(p.name for p in tmp_path.iterdir()) == [
        "class_map.png",
        "class_map.tif",
        "class_map_area.csv",
    ]  # no temporary left behind


def test_area_table_in_square_metres(tmp_path: Path) -> None:
    written = write_class_map(tmp_path, class_map(), NAMES, GRID)
    rows = list(csv.DictReader(open(written["csv"])))
    assert [r["class"] for r in rows] == list(NAMES)
    assert [int(r["pixels"]) for r in rows] == [24, 12, 1]
    assert [float(r["area_m2"]) for r in rows] == [6.0, 3.0, 0.25]  # pixels x 0.5 m x 0.5 m


def test_without_georeference_area_is_blank(tmp_path: Path) -> None:
    written = write_class_map(tmp_path, class_map(), NAMES, None)
    rows = list(csv.DictReader(open(written["csv"])))
    assert rows[0]["area_m2"] == "" and rows[0]["pixels"] == "24"


def test_tiled_map_one_geotiff_per_tile_on_its_own_grid(tmp_path: Path) -> None:
    """A mosaic of two 2 x 3 tiles (origins from a tiled scene's layout): each tile's GeoTIFF holds
    its own window of the map and its own transform; padding is never written."""
    mosaic = np.zeros((4, 10), dtype=np.int64)
    mosaic[1:3, 1:4], mosaic[1:3, 6:9] = 1, 2
    mosaic[0, :] = 3  # padding rows: must not reach any tile file
    tiles = [
        {
            "name": f"P{k}",
            "origin": (1, 1 + 5 * k),
            "shape": (2, 3),
            "crs": "EPSG:32617",
            "transform": (1.0, 0.0, 542000.0 + 1000 * k, 0.0, -1.0, 4135000.0),
        }
        for k in (0, 1)
    ]
    written = write_class_map(tmp_path, mosaic, NAMES, None, tiles=tiles)
    for k in (0, 1):
        with rasterio.open(written[f"tif:P{k}"]) as src:
            assert src.transform == Affine(*tiles[k]["transform"]) and src.crs == CRS.from_epsg(32617)
            assert (src.read(1) == k + 1).all()
    rows = list(csv.DictReader(open(written["csv"])))
    assert [int(r["pixels"]) for r in rows] == [6, 6, 0] and [float(r["area_m2"]) for r in rows] == [6.0, 6.0, 0.0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.full((6, 8), 4), r"expected codes 0\.\.3 \(0 = no prediction\), found 4\.\.4"),
        (np.zeros((6, 8)), r"expected an \(H, W\) integer class map, found ndarray float64"),
        (np.zeros((5, 8), dtype=int), r"expected the grid's shape \(6, 8\), found a map of shape \(5, 8\)"),
    ],
)
def test_bad_maps_refused_and_nothing_written(tmp_path: Path, bad: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        write_class_map(tmp_path / "out", bad, NAMES, GRID)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _geo_scene(tmp_path: Path) -> Path:
    """A georeferenced 6 x 8 scene in its own catalog."""
    with rasterio.open(
        tmp_path / "hsi.tif",
        "w",
        driver="GTiff",
        height=6,
        width=8,
        count=2,
        dtype="float32",
        crs="EPSG:32617",
        transform=TRANSFORM,
    ) as dst:
        dst.write(np.random.default_rng(0).random((2, 6, 8)).astype(np.float32))
    np.save(tmp_path / "gt.npy", np.clip(class_map(), 0, 3))
    catalog = tmp_path / "my.yaml"
    catalog.write_text(
        yaml.safe_dump(
            {
                "mine": {
                    "kind": "scene",
                    "modalities": {"hsi": {"path": "hsi.tif"}},
                    "gt": {"path": "gt.npy"},
                    "class_names": list(NAMES),
                }
            }
        )
    )
    return catalog


def test_bdgf_predict_writes_maps_on_the_input_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = _geo_scene(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / "class_map.npy", class_map())
    assert main([str(run), "--dataset", "mine", "--catalog", str(catalog)]) == 0
    with rasterio.open(run / "maps" / "class_map.tif") as src, rasterio.open(tmp_path / "hsi.tif") as ref:
        assert src.crs == ref.crs and src.transform == ref.transform
    assert "[bdgf-predict] csv:" in capsys.readouterr().out


def test_bdgf_predict_refuses_a_map_of_another_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = _geo_scene(tmp_path)
    np.save(tmp_path / "wrong.npy", np.zeros((4, 4), dtype=np.int64))
    with pytest.raises(DataError, match=r"scene 'mine': expected shape \(6, 8\), found \(4, 4\)"):
        predict_maps(tmp_path, "mine", catalog, tmp_path / "wrong.npy")
    assert main([str(tmp_path), "--dataset", "mine", "--catalog", str(catalog)]) == 2
    assert "class map not found" in capsys.readouterr().err


def test_bdgf_predict_refuses_another_dataset_than_the_runs(tmp_path: Path) -> None:
    """A run of `other` on the same grid would get `mine`'s class names: refused, naming both."""
    catalog = _geo_scene(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / "class_map.npy", class_map())
    (run / "summary.json").write_text(json.dumps({"dataset": "other"}))
    with pytest.raises(
        DataError, match=r"was made on dataset 'other' \(its summary says so\), not 'mine'.*--dataset other"
    ):
        predict_maps(run, "mine", catalog)
    (run / "summary.json").unlink()
    (run / "results").mkdir()
    (run / "results" / "00_data.json").write_text(json.dumps({"dataset": {"name": "other"}}))
    with pytest.raises(DataError, match=r"made on dataset 'other'"):
        predict_maps(run, "mine", catalog)
    (run / "results" / "00_data.json").write_text(json.dumps({"dataset": {"name": "mine"}}))
    assert "tif" in predict_maps(run, "mine", catalog)


def test_pixels_without_data_stay_unclassified_in_the_exported_map(tmp_path: Path) -> None:
    from bdgf_nb.data.scene import Scene
    from bdgf_nb.evaluate.export import write_scene_map

    valid = np.ones((6, 8), dtype=bool)
    valid[:, :2] = False  # a DSM that does not cover the two west columns, `nodata: mask`
    labels = np.zeros((6, 8), dtype=np.int64)
    labels[0, 2:], labels[1, 2:] = 1, 2
    scene = Scene(
        "s",
        {"hsi": np.random.default_rng(0).random((6, 8, 2)).astype(np.float32)},
        labels,
        NAMES[:2],
        metadata={**GRID.metadata(), "valid": valid},
    )
    predicted = np.ones((6, 8), dtype=np.int64)  # the model classifies every pixel
    written = write_scene_map(tmp_path, predicted, scene)
    with rasterio.open(written["tif"]) as src:
        band = src.read(1)
        assert src.nodata == 0
    assert (band[:, :2] == 0).all() and (band[:, 2:] == 1).all()
    with open(written["csv"]) as handle:
        assert int(next(csv.DictReader(handle))["pixels"]) == 6 * 6
