"""Nothing lost in silence (issue 42): the load report counts every pixel, polygon, class and band
a rule drops, masks, fills, resamples or relabels; the catalog can select bands and remap labels;
inputs a user meets fail at load with a message naming the file, the modality and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from test_formats import (
    CRS,
    SHARED_DATA,
    X0,
    Y0,
    H,
    W,
    box,
    crowns,
    geo_entry,
    gt,
    hsi,
    load_geo,
    write_catalog,
    write_polygons,
    write_tif,
)

from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.data.load import load_scene
from bdgf_nb.data.load_report import WARN_SHARE, load_report
from bdgf_nb.errors import DataError


def ones() -> np.ndarray:
    return np.random.default_rng(3).random((H, W)).astype(np.float32) + 1


# --- the report -----------------------------------------------------------------------------------


def test_nothing_happened_is_one_honest_row(tmp_path: Path) -> None:
    report = load_report(load_geo(tmp_path, ones()))
    assert report.events == () and report.warnings == []
    assert report.labelled_read == report.labelled_kept == int((gt() > 0).sum())
    assert report.rows()[0]["rule"] == "nothing dropped, masked, filled, resampled or relabelled"
    assert "labelled pixels: 24 read, 24 kept (100.0 %)" in report.table()


def test_partly_covering_dsm_masked_is_counted_and_warned(tmp_path: Path) -> None:
    """A DSM missing the 2 west columns, `nodata: mask`: 6 of the 24 labelled pixels go, the
    report says which rule took them, and warns (more than WARN_SHARE)."""
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W - 2), np.float32), x0=X0 + 2)
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(nodata={"dsm": "mask"})}))
    report = load_report(scene)
    masked = [e for e in report.events if e.action == "masked"]
    assert len(masked) == 1 and masked[0].subject == "dsm" and masked[0].count == H * 2
    lost = int((gt()[:, :2] > 0).sum())
    assert masked[0].labelled_removed == lost == 6 and masked[0].rule == "nodata: {dsm: mask}"
    assert "partial coverage: dsm.tif covers 75.0 % of the reference grid" in masked[0].detail
    assert report.labelled_read == int((gt() > 0).sum()) and report.labelled_kept == report.labelled_read - lost
    assert lost / report.labelled_read > WARN_SHARE
    assert len(report.warnings) == 1
    assert "nodata: {dsm: mask} (dsm) removed 6 of 24 labelled pixels (25.0 %" in report.warnings[0]
    assert report.to_dict()["events"][0]["subject"] == "dsm"


def test_a_class_the_mask_removes_whole_is_named(tmp_path: Path) -> None:
    """A DSM over the east half: every pixel of class 1 lies in the west half."""
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W // 2), np.float32), x0=X0 + W // 2)
    with pytest.raises(
        DataError, match=r"class\(es\) \[1\] lose every labelled pixel \(12 in all\) to `nodata: \{dsm: mask\}`"
    ):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry(nodata={"dsm": "mask"})}))


def test_polygon_rules_add_up(tmp_path: Path) -> None:
    """crowns(): one polygon without a class, 4 overlap pixels, birch (1 px) dropped by min_pixels;
    one more polygon far outside the grid. read = kept + every removal."""
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", ones())
    labels = {**crowns(tmp_path), "min_pixels": 2}
    write_polygons(
        tmp_path / "crowns.shp",
        [box(0, 0, 4, 3), box(2, 1, 6, 4), box(6, 4, 8, 6), box(0, 5, 1, 6), box(7, 0, 8, 1), box(500, 500, 501, 501)],
        ["t1", "t2", "t3", "t4", "t5", "t3"],
    )
    report = load_report(load_scene("s", write_catalog(tmp_path, {"s": geo_entry(gt=labels)})))
    by_rule = {e.rule.split(" (")[0]: e for e in report.events}
    assert by_rule["empty class field"].count == 1 and by_rule["empty class field"].unit == "polygons"
    assert by_rule["outside the grid"].count == 1
    assert by_rule["overlap of polygons of different classes"].labelled_removed == 4
    rare = by_rule["rare classes"]
    assert (rare.action, rare.count, rare.labelled_removed) == ("dropped", 1, 1)
    assert rare.detail == "birch: 1 pixels, 1 polygons"
    assert report.labelled_read == report.labelled_kept + 4 + 1


def test_filled_and_resampled_rows(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).random((H * 2, W * 2, 3)).astype(np.float32)
    write_tif(tmp_path / "rgb.tif", rgb, res=0.5)
    dsm = ones()
    dsm[0, 0] = np.nan
    scene = load_geo(
        tmp_path,
        dsm,
        modalities={"hsi": {"path": "hsi.tif"}, "dsm": {"path": "dsm.tif"}, "rgb": {"path": "rgb.tif"}},
        nodata={"dsm": {"fill": "nearest"}},
    )
    rows = {(r["subject"], r["action"]): r for r in load_report(scene).rows()}
    assert rows[("dsm", "filled")]["count"] == 1 and rows[("dsm", "filled")]["labelled removed"] == 0
    assert rows[("rgb", "resampled")]["rule"] == "area mean of the finer raster"


# --- catalog options ----------------------------------------------------------------------------


def test_bands_and_drop_bands(tmp_path: Path) -> None:
    cube = np.random.default_rng(0).random((H, W, 5)).astype(np.float32)
    write_tif(tmp_path / "hsi.tif", cube)
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", ones())
    keep = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(bands={"hsi": [0, 2]})}))
    assert np.array_equal(keep.modalities["hsi"], cube[:, :, [0, 2]])
    drop = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(drop_bands={"hsi": [1, 4]})}))
    assert np.array_equal(drop.modalities["hsi"], cube[:, :, [0, 2, 3]])
    event = load_report(drop).events[0]
    assert (event.subject, event.action, event.count, event.unit) == ("hsi", "dropped", 2, "bands")
    assert event.detail == "bands [1, 4] of 5" and "drop_bands: [1, 4]" in event.rule
    with pytest.raises(DataError, match=r"modality 'hsi'.*bands: \[7\] names band\(s\) \[7\], but the file has 5"):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry(bands={"hsi": [7]})}))
    with pytest.raises(DataError, match=r"field 'bands': expected a modality name of \['dsm', 'hsi'\], found 'sar'"):
        load_catalog(write_catalog(tmp_path, {"s": geo_entry(bands={"sar": [0]})}))


def test_all_nodata_band_is_named_with_its_fix(tmp_path: Path) -> None:
    """One dead band used to make every pixel a hole, and `mask` then failed ("every pixel is
    nodata"): now the band is named, with `drop_bands`, which then loads."""
    cube = np.random.default_rng(0).random((H, W, 4)).astype(np.float32)
    cube[:, :, 2] = -9999
    write_tif(tmp_path / "hsi.tif", cube, nodata=-9999)
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", ones())
    with pytest.raises(
        DataError,
        match=r"modality 'hsi' \(.*hsi\.tif\): band\(s\) \[2\] \(0-based, of 4\) are nodata in every pixel.*"
        r"`drop_bands: \{hsi: \[2\]\}`",
    ):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry(nodata={"hsi": "mask"})}))
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(drop_bands={"hsi": [2]})}))
    assert scene.channels["hsi"] == 3


def test_remap_and_ignore(tmp_path: Path) -> None:
    labels = np.where(gt() == 1, 7, np.where(gt() == 2, 42, 255)).astype(np.uint8)
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", ones())
    write_tif(tmp_path / "gt.tif", labels)
    with pytest.raises(DataError, match=r"the labels hold 3 codes \[7, 42, 255\].*`remap: \{7: 1, 42: 2, 255: 0\}`"):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))
    scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry(remap={7: 1, 42: 2}, ignore=255)}))
    assert np.array_equal(scene.gt, gt())
    events = {e.rule: e for e in load_report(scene).events}
    assert events["remap: {255: 0} (catalog)"].action == "unlabelled"
    assert events["remap: {7: 1} (catalog)"].count == int((gt() == 1).sum())
    with pytest.raises(DataError, match=r"field 'remap': expected a mapping of integer label"):
        load_catalog(write_catalog(tmp_path, {"s": geo_entry(remap={"a": 1})}))


def test_sparse_label_ids_suggest_the_remap_not_the_missing_ids(tmp_path: Path) -> None:
    labels = np.where(gt() == 1, 1, np.where(gt() == 2, 7, 0)).astype(np.uint8)
    labels[0, 7] = 42
    np.savez(tmp_path / "s.npz", hsi=hsi(), gt=labels)
    entry = {"kind": "scene", "path": "s.npz", "modalities": {"hsi": "hsi"}, "gt": "gt"}
    with pytest.raises(DataError) as err:
        load_scene("s", write_catalog(tmp_path, {"s": entry}))
    message = str(err.value)
    assert "(39 in all)" in message and "`remap: {7: 2, 42: 3}`" in message and "[8, 9, 10" not in message


def test_bands_first_cube_gets_an_axis_hint(tmp_path: Path) -> None:
    np.savez(tmp_path / "s.npz", hsi=np.moveaxis(hsi(), -1, 0), gt=gt())
    entry = {"kind": "scene", "path": "s.npz", "modalities": {"hsi": "hsi"}, "gt": "gt"}
    with pytest.raises(DataError, match=r"looks bands-first, \(C, H, W\) = \(3, 6, 8\).*np\.moveaxis"):
        load_scene("s", write_catalog(tmp_path, {"s": entry}))


# --- errors at load ---------------------------------------------------------------------------


def test_one_class_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dataset 's': expected at least 2 classes with labelled pixels, found 1"):
        write_tif(tmp_path / "hsi.tif", hsi())
        write_tif(tmp_path / "dsm.tif", ones())
        write_tif(tmp_path / "gt.tif", (gt() > 0).astype(np.uint8))
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))


def test_partial_coverage_is_named_with_its_share(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    write_tif(tmp_path / "dsm.tif", np.ones((H, W // 2), np.float32), x0=X0 + W // 2)
    with pytest.raises(DataError) as err:
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))
    message = str(err.value)
    assert "modality 'dsm'" in message and "partial coverage: dsm.tif covers 50.0 % of the reference grid" in message
    assert "`nodata: {dsm: mask}`" in message and "NaN" not in message


def test_projected_coordinates_declared_as_degrees(tmp_path: Path) -> None:
    import rasterio
    from affine import Affine

    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    with rasterio.open(
        tmp_path / "dsm.tif", "w", driver="GTiff", height=H, width=W, count=1, dtype="float32",
        crs="EPSG:4326", transform=Affine(1, 0, X0, 0, -1, Y0),
    ) as dst:  # fmt: skip
        dst.write(ones()[None])
    with pytest.raises(
        DataError, match=r"modality 'dsm'.*dsm\.tif declares the geographic CRS EPSG:4326.*look projected.*gdal_edit"
    ):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))


def test_polygons_all_outside_or_all_without_class(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "dsm.tif", ones())
    far = [box(50000, 0, 50004, 3), box(50000, 4, 50004, 6)]
    write_polygons(tmp_path / "far.shp", far, ["a", "b"])
    entry = geo_entry(gt={"vector": "far.shp", "class_field": "indvdID"})
    with pytest.raises(DataError, match=r"all 2 polygons with a class lie outside the grid: polygon bounds.*same CRS"):
        load_scene("s", write_catalog(tmp_path, {"s": entry}))
    write_polygons(tmp_path / "blank.shp", [box(0, 0, 4, 3), box(4, 3, 8, 6)], ["", ""])
    entry = geo_entry(gt={"vector": "blank.shp", "class_field": "indvdID"})
    with pytest.raises(DataError, match=r"field 'class_field': every one of the 2 polygons has an empty 'indvdID'"):
        load_scene("s", write_catalog(tmp_path, {"s": entry}))


def test_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    (tmp_path / "dsm.tif").mkdir()
    with pytest.raises(DataError, match=r"modality 'dsm'.*dsm\.tif is a directory; expected a file \(\.npz"):
        load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))


def test_constant_band_is_named_before_any_split(tmp_path: Path) -> None:
    """Today's "channels [0, 32] have zero variance" came after the split, with a stacked index:
    now prepare() refuses first, naming modality, file and band, with the catalog fix."""
    from bdgf_nb.data.checks import check_informative_bands

    scene = load_geo(tmp_path, np.full((H, W), 3.0, np.float32))
    with pytest.raises(
        DataError,
        match=r"dataset 's': expected every band to vary.*modality 'dsm' \(.*dsm\.tif\): band\(s\) \[0\] \(0-based, "
        r"of 1\) hold one value each over the whole scene \(\[3\.0\]\); leave them out: `drop_bands: \{dsm: \[0\]\}` "
        r"\(or the modality itself\)",
    ):
        check_informative_bands(scene.modalities, scene.metadata["modality_files"], "dataset 's'")


def test_split_block_and_stripes_are_run_parameters_and_catalog_fields(tmp_path: Path) -> None:
    from bdgf_nb.cli.run import parse_args
    from bdgf_nb.data.splits import check_measurable, default_split
    from bdgf_nb.pipeline.parameters import RunParameters, from_arguments

    labels = np.zeros((32, 32), dtype=np.int64)
    labels[:, :16], labels[:, 16:] = 1, 2
    np.savez(tmp_path / "s.npz", hsi=np.random.default_rng(0).random((32, 32, 3)), gt=labels)
    entry = {"kind": "scene", "path": "s.npz", "modalities": {"hsi": "hsi"}, "gt": "gt", "split": {"block": 8}}
    catalog = write_catalog(tmp_path, {"s": entry})
    scene = load_scene("s", catalog)
    assert default_split(scene, patch=3, allow_unmeasurable=True).description.startswith("blocks of 8px")
    assert default_split(scene, patch=3, allow_unmeasurable=True, block=4).description.startswith("blocks of 4px")
    params = from_arguments(parse_args(["--dataset", "s", "--catalog", str(catalog), "--split-block", "4"]))
    assert params.split_block == 4 and params.context().split_block == 4
    assert params.context().classifier_checkpoint("s", "bdgf", None, 0).name == "clf_s_bdgf_full_block4_seed0.pt"
    assert RunParameters().context().classifier_checkpoint("s", "bdgf", None, 0).name == "clf_s_bdgf_quick_seed0.pt"
    assert RunParameters().split_block == 0 and RunParameters().split_stripes == 0
    with pytest.raises(DataError, match=r"field 'split', 'block': expected an integer >= 4, found int 2"):
        load_catalog(write_catalog(tmp_path, {"s": {**entry, "split": {"block": 2}}}))
    split = default_split(scene, patch=3, allow_unmeasurable=True)
    one_class_test = split.__class__("disjoint", labels == 1, np.zeros_like(labels, dtype=bool))
    with pytest.raises(DataError, match=r"`bdgf-run --split-block N`, `split_block = N`.*`split: \{block: N\}`"):
        check_measurable(one_class_test, labels)


@pytest.mark.parametrize("res", [0.1, 3.0])
def test_resampling_in_another_crs_follows_the_docs(tmp_path: Path, res: float) -> None:
    """A raster in Web Mercator over the UTM grid: finer (0.1 unit pixels) is area-averaged, as
    docs and geotiff.py promise (it was nearest whenever the CRS differed); coarser is nearest.
    Noise averaged over ~100 fine pixels per 1 m pixel loses most of its spread; nearest keeps it."""
    from rasterio.warp import transform_bounds

    left, bottom, right, top = transform_bounds(CRS, "EPSG:3857", X0 - 3, Y0 - H - 3, X0 + W + 3, Y0 + 3)
    rows, cols = int((top - bottom) / res), int((right - left) / res)
    noise = np.random.default_rng(0).random((rows, cols)).astype(np.float32)
    with rasterio.open(
        tmp_path / "dsm3857.tif", "w", driver="GTiff", height=rows, width=cols, count=1, dtype="float32",
        crs="EPSG:3857", transform=Affine(res, 0, left, 0, -res, top),
    ) as dst:  # fmt: skip
        dst.write(noise[None])
    write_tif(tmp_path / "hsi.tif", hsi())
    write_tif(tmp_path / "gt.tif", gt())
    scene = load_scene(
        "s",
        write_catalog(
            tmp_path, {"s": geo_entry(modalities={"hsi": {"path": "hsi.tif"}, "dsm": {"path": "dsm3857.tif"}})}
        ),
    )
    rule = scene.metadata["resampled"]["dsm"]
    spread = float(scene.modalities["dsm"].std()) / float(noise.std())
    print(f"res {res}: rule {rule}, std ratio {spread:.3f}")
    if res < 1:
        assert rule == "average" and spread < 0.3
    else:
        assert rule == "nearest" and spread > 0.5


# --- listing ----------------------------------------------------------------------------------


def listing_catalog(tmp_path: Path) -> Path:
    np.savez(tmp_path / "s.npz", hsi=hsi(), gt=gt())
    (tmp_path / "empty.npz").write_bytes(b"")
    scene = {"kind": "scene", "path": "s.npz", "modalities": {"hsi": "hsi"}, "gt": "gt"}
    return write_catalog(
        tmp_path,
        {
            "syn": {"kind": "synthetic"},
            "here": scene,
            "zero": {**scene, "path": "empty.npz"},
            "gone": {**scene, "path": "nowhere/s.npz"},
            "bad": {**scene, "modalities": "hsi"},
        },
    )


def test_dataset_status_lists_every_entry_and_survives_a_broken_one(tmp_path: Path) -> None:
    from bdgf_nb.data.catalog import available_datasets, dataset_status, status_table

    statuses = {s.name: s for s in dataset_status(listing_catalog(tmp_path))}
    assert statuses["syn"].state == statuses["here"].state == "available"
    assert statuses["zero"].state == "missing" and "empty.npz (empty (0 bytes))" in statuses["zero"].detail
    assert statuses["gone"].state == "missing" and "nowhere/s.npz (absent)" in statuses["gone"].detail
    assert statuses["bad"].state == "broken" and "field 'modalities': expected a mapping" in statuses["bad"].detail
    assert statuses["trento"].kind == "benchmark"  # the standard benchmarks follow the catalog's own entries
    assert available_datasets(listing_catalog(tmp_path))[:2] == ["syn", "here"]
    table = status_table(list(statuses.values()))
    assert "zero" in table and "missing: " in table and "error: catalog entry 'bad'" in table
    assert load_scene("here", listing_catalog(tmp_path)).n_classes == 2  # a broken neighbour blocks no load


def test_bdgf_run_list_and_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bdgf_nb.cli import run

    catalog = listing_catalog(tmp_path)
    assert run.main(["--list", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert "here" in out and "broken" in out and "missing: " in out
    ran: list[str] = []
    monkeypatch.setattr(run, "run_dataset", lambda cfg: ran.append(cfg.params.dataset))
    assert run.main(["--dataset", "all", "--catalog", str(catalog), "--quick", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert ran[:2] == ["syn", "here"] and "bad" not in ran
    assert "[bdgf-run] skipped zero (missing)" in out and "[bdgf-run] skipped bad (broken): catalog entry 'bad'" in out

    def fail_on_syn(cfg: Any) -> None:
        if cfg.params.dataset == "syn":
            raise SystemExit("[bdgf-run] 00_x.ipynb failed in the cell ...")
        ran.append(cfg.params.dataset)

    ran.clear()
    monkeypatch.setattr(run, "run_dataset", fail_on_syn)
    assert run.main(["--dataset", "all", "--catalog", str(catalog), "--quick", "--out", str(tmp_path / "o")]) == 1
    out = capsys.readouterr().out
    assert "here" in ran and "[bdgf-run] syn failed, going on with the others" in out and "1 of" in out


def test_docs_name_write_catalog_entry_where_it_lives() -> None:
    from test_formats import REPO

    text = (REPO / "data_catalog.yaml").read_text()
    assert "bdgf_nb.data.catalog.write_catalog_entry" not in text and "bdgf_nb.data.load.write_catalog_entry" in text


# --- lint and tests read the sources only -------------------------------------------------------


def test_a_run_folder_anywhere_in_the_checkout_is_neither_linted_nor_collected(tmp_path: Path) -> None:
    """`make run OUT=notebooks/mine` (or results/, or tests/out) then `make test`: ruff over the
    Makefile's SOURCES skips the executed notebooks (the run folder's ignore files), and pytest
    collects from tests/ only (testpaths), never a run folder inside it (conftest.py). Checked in
    a copy: pyproject, Makefile, conftest, one good test, and run folders holding bad code."""
    import re
    import shutil
    import subprocess
    import sys

    from test_formats import REPO

    from bdgf_nb.cli.run import mark_run_folder

    (tmp_path / "tests").mkdir()
    for name in ("pyproject.toml", "Makefile", "tests/conftest.py"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "tests" / "test_ok.py").write_text("def test_ok() -> None:\n    assert True\n")
    bad = "import os\nx=1\n\n\ndef test_bad() -> None:\n    assert False\n"
    for folder in ("notebooks/mine/synthetic", "results/synthetic", "tests/out/synthetic"):
        run = tmp_path / folder
        run.mkdir(parents=True)
        shutil.copy(REPO / "notebooks" / "00_data_and_modality_imbalance.ipynb", run / "00.ipynb")
        (run / "test_run.py").write_text(bad)  # what a careless output could hold
        mark_run_folder(run)
    sources = re.search(r"^SOURCES\s*=\s*(.+)$", (REPO / "Makefile").read_text(), re.M)
    assert sources is not None
    folders = [f for f in sources.group(1).split() if (tmp_path / f).exists()]
    ruff = Path(sys.executable).parent / "ruff"
    lint = subprocess.run([str(ruff), "check", *folders], cwd=tmp_path, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    (tmp_path / "notebooks" / "mine" / "synthetic" / ".ignore").unlink()  # the check can fail
    assert subprocess.run([str(ruff), "check", *folders], cwd=tmp_path, capture_output=True).returncode == 1
    collect = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "tests/test_ok.py::test_ok" in collect.stdout and "test_run.py" not in collect.stdout, collect.stdout


def test_a_band_constant_on_the_training_pixels_is_named_by_modality() -> None:
    from bdgf_nb.data.patches import Standardizer

    stacked = np.random.default_rng(0).random((4, 4, 5)).astype(np.float32)
    stacked[:2, :, 3] = 1.0  # varies over the scene, constant where it trains
    train = np.zeros((4, 4), dtype=bool)
    train[:2] = True
    with pytest.raises(
        DataError,
        match=r"channels \[3\] have zero variance.*\(modality 'dsm' band\(s\) \[0\]\).*`drop_bands: \{dsm: \[0\]\}`",
    ):
        Standardizer.fit(stacked, train, {"hsi": 3, "dsm": 2})


@pytest.mark.realdata
@pytest.mark.skipif(
    not (SHARED_DATA / "idtrees_mlbs" / "ITC" / "train_MLBS.shp").is_file(),
    reason=f"real data absent: {SHARED_DATA / 'idtrees_mlbs'}",
)
def test_idtrees_mlbs_report_names_what_the_tile_rules_removed() -> None:
    """The repo's entry keeps species in >= 5 plots: the report names the rare species dropped,
    the overlap pixels, the resampled RGB, and read = kept + removed."""
    report = load_report(load_scene("idtrees_mlbs"))
    by_rule = {e.rule.split(" (")[0]: e for e in report.events}
    assert report.labelled_kept == 11245
    assert by_rule["overlap of polygons of different classes"].labelled_removed == 2439
    rare = by_rule["rare classes"]
    assert rare.action == "dropped" and rare.unit == "classes" and rare.count > 0
    assert by_rule["area mean of the finer raster"].subject == "rgb"
    removed = sum(e.labelled_removed for e in report.events)
    assert report.labelled_read == report.labelled_kept + removed
    print(report.table())


def test_prepare_refuses_a_one_class_scene_built_in_memory(tmp_path: Path) -> None:
    """Today scikit-learn's "The number of classes has to be greater than one" came from deep in a
    baseline; prepare() now says it first."""
    from bdgf_nb.data.scene import Scene
    from bdgf_nb.pipeline.context import RunContext
    from bdgf_nb.pipeline.presets import preset
    from bdgf_nb.pipeline.steps import prepare

    scene = Scene("one", {"hsi": hsi()}, (gt() > 0).astype(np.int64), ("grass",))
    with pytest.raises(DataError, match=r"dataset 'one': expected at least 2 classes.*found 1 \('grass': 24 pixels\)"):
        prepare(RunContext("synthetic", preset("quick"), out_dir=tmp_path), scene=scene)


def test_tile_scene_report_sums_over_tiles(tmp_path: Path) -> None:
    """Two plots 1 km apart: a CHM hole under a crown in each (masked), a crown outside both
    plots, the second HSI band dropped by the catalog: one row per rule, counts over all tiles."""
    import shapely

    for k in (1, 2):
        x0 = X0 + 1000 * k
        for folder in ("HSI", "CHM"):
            (tmp_path / folder).mkdir(exist_ok=True)
        cube = np.random.default_rng(k).random((4, 4, 2)).astype(np.float32)
        chm = np.random.default_rng(k + 5).random((4, 4)).astype(np.float32)
        chm[0, 0] = np.nan
        write_tif(tmp_path / "HSI" / f"P{k}.tif", cube, x0=x0)
        write_tif(tmp_path / "CHM" / f"P{k}.tif", chm, x0=x0)
    crowns_ = [shapely.box(X0 + 1000 * k, Y0 - 2, X0 + 1000 * k + 4, Y0) for k in (1, 2)]
    write_polygons(tmp_path / "crowns.shp", [*crowns_, shapely.box(X0 + 9000, Y0 - 2, X0 + 9002, Y0)], ["a", "b", "c"])
    (tmp_path / "field.csv").write_text("indvdID,taxonID\na,oak\nb,maple\nc,birch\n")
    entry = {
        "kind": "tiles",
        "tiles": {"glob": "HSI/P*.tif"},
        "pad": 1,
        "modalities": {"hsi": "HSI/{tile}.tif", "chm": "CHM/{tile}.tif"},
        "gt": {"vector": "crowns.shp", "class_field": "taxonID", "join": {"csv": "field.csv", "key": "indvdID"}},
        "nodata": {"chm": "mask"},
        "drop_bands": {"hsi": [1]},
    }
    scene = load_scene("t", write_catalog(tmp_path, {"t": entry}))
    assert scene.channels == {"hsi": 1, "chm": 1}
    rows = {(r["subject"], r["action"], r["unit"]): r for r in load_report(scene).rows()}
    assert (
        rows[("chm", "masked", "pixels")]["count"] == 2 and rows[("chm", "masked", "pixels")]["labelled removed"] == 2
    )
    assert rows[("labels", "dropped", "polygons")]["rule"].startswith("outside the grid")
    assert rows[("labels", "dropped", "polygons")]["count"] == 1
    assert rows[("hsi", "dropped", "bands")]["count"] == 1
    assert rows[("labels", "dropped", "classes")]["rule"] == "no pixel centre inside its polygons (birch)"
    report = load_report(scene)
    assert report.labelled_read == 16 and report.labelled_kept == 14


def test_resampling_without_any_crs_regrids_by_the_same_rule(tmp_path: Path) -> None:
    """Two GeoTIFFs with transforms but no CRS (a pure regrid): a finer one is area-averaged too.
    The reference grid has a pixel-coordinate transform, corner (0, 0) and 1-unit pixels, which
    GDAL took for no geotransform at all: every resampled pixel came out NaN before."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    def plain(path: Path, array: np.ndarray, res: float) -> None:
        bands = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(
                path, "w", driver="GTiff", height=bands.shape[1], width=bands.shape[2], count=bands.shape[0],
                dtype=bands.dtype, transform=Affine(res, 0, 0, 0, -res, 0),
            ) as dst:  # fmt: skip
                dst.write(bands)

    fine = np.random.default_rng(2).random((H * 4, W * 4)).astype(np.float32)
    plain(tmp_path / "hsi.tif", hsi(), 1.0)
    plain(tmp_path / "gt.tif", gt(), 1.0)
    plain(tmp_path / "dsm.tif", fine, 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        scene = load_scene("s", write_catalog(tmp_path, {"s": geo_entry()}))
    assert scene.metadata["resampled"] == {"dsm": "average"}
    assert np.allclose(scene.modalities["dsm"][:, :, 0], fine.reshape(H, 4, W, 4).mean(axis=(1, 3)), atol=1e-5)
