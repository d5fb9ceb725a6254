"""`bdgf-predict`: a finished run's class map out as GeoTIFF + PNG legend + per-class area CSV.

    bdgf-predict RUN_DIR --dataset NAME [--catalog my.yaml] [--map class_map.npy] [--out DIR]

The map is an (H, W) integer array of class codes on the scene's grid (0 = not predicted), saved
as .npy in the run folder (default RUN_DIR/class_map.npy); the scene is loaded from the catalog
only for its grid (CRS, transform, tiles) and class names, so the map lands where the input lies.
Output: OUT (default RUN_DIR/maps)/<map stem>.tif (one per tile for a tiled scene), .png,
_area.csv.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bdgf_nb.data.load import load_scene
from bdgf_nb.data.scene import Scene
from bdgf_nb.errors import BDGFError, DataError, expect
from bdgf_nb.evaluate.export import write_scene_map
from bdgf_nb.pipeline.records import RECORDS


def predict_maps(
    run_dir: str | Path,
    dataset: str,
    catalog: str | Path | None = None,
    map_path: str | Path | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Path]:
    """Write the maps of one run; -> the written paths (see evaluate.export.write_class_map)."""
    run = Path(run_dir)
    expect(run.is_dir(), DataError, f"run folder not found: {run}")
    ran_on = run_dataset_name(run)
    expect(
        ran_on in (None, dataset),
        DataError,
        f"run {run} was made on dataset {ran_on!r} (its summary says so), not {dataset!r}: its map would be "
        f"written with {dataset!r}'s grid and class names; expected --dataset {ran_on}",
    )
    source = Path(map_path) if map_path is not None else run / "class_map.npy"
    expect(
        source.is_file(),
        DataError,
        f"class map not found: {source}; expected an (H, W) .npy of class codes (notebook 03 saves it; or pass --map)",
    )
    try:
        class_map = np.load(source, allow_pickle=False)
    except Exception as err:
        raise DataError(f"cannot read {source} as a .npy array ({type(err).__name__}: {err})") from None
    scene = load_scene(dataset, catalog)
    expect(
        isinstance(scene, Scene),
        DataError,
        f"dataset {dataset!r} is a pixel scene (no full grid); a map needs a `kind: scene` or `kind: tiles` entry",
    )
    assert isinstance(scene, Scene)
    return write_scene_map(Path(out_dir) if out_dir is not None else run / "maps", class_map, scene, stem=source.stem)


def run_dataset_name(run: Path) -> str | None:
    """The dataset a run folder was made on: summary.json's "dataset" (bdgf-run), else notebook
    00's record (a run of the notebooks by hand); None when the folder holds neither."""
    for path, read in (
        (run / "summary.json", lambda d: d.get("dataset")),
        (run / "results" / f"{RECORDS.data}.json", lambda d: d.get("dataset", {}).get("name")),
    ):
        if path.is_file():
            try:
                name = read(json.loads(path.read_text()))
            except (ValueError, AttributeError):
                continue
            if isinstance(name, str):
                return name
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bdgf-predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run folder (holds class_map.npy)")
    parser.add_argument("--dataset", required=True, help="catalog dataset the map was predicted on")
    parser.add_argument("--catalog", default=None, help="catalog YAML (default: the repo's data_catalog.yaml)")
    parser.add_argument("--map", default=None, help="the (H, W) class-code .npy (default: RUN_DIR/class_map.npy)")
    parser.add_argument("--out", default=None, help="output folder (default: RUN_DIR/maps)")
    args = parser.parse_args(argv)
    try:
        written = predict_maps(args.run_dir, args.dataset, args.catalog, args.map, args.out)
    except BDGFError as err:
        print(f"bdgf-predict: {err}", file=sys.stderr)
        return 2
    for key, path in written.items():
        print(f"[bdgf-predict] {key}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
