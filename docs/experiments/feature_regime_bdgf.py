"""Which reading of the diffusion features gives BDGF the best validation kappa?

Issue 15, item 3, second half: the feature reading chosen by BDGF's VALIDATION score.

BDGF at quick sizes, seeds 0 and 1 (paired: same DDPM, same pixels), guided by the features of
one frozen adaptive DDPM read three ways: 64 x 64 tiles averaged over t (the old reading), tiles
at the training patch size (11, overlap 3) averaged over t, and the same concatenated over t.
The choice is made on validation kappa (the selection metric); test is printed for the record.

    python docs/experiments/feature_regime_bdgf.py [DATASET ...]   (default: synthetic houston2018_west)

Writes outputs/experiments/feature_regime_bdgf.json.
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from bdgf_nb.ddpm.features import FeatureConfig
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import extract_diffusion_features, prepare, pretrain_ddpm, train_variant
from bdgf_nb.pipeline.variants import BDGF_VARIANT

READINGS = {
    "tile 64, mean t": FeatureConfig(tile=64, overlap=8, reduce="mean"),
    "tile 11, mean t": FeatureConfig(tile=11, overlap=3, batch_size=256, reduce="mean"),
    "tile 11, concat t": FeatureConfig(tile=11, overlap=3, batch_size=256, reduce="concat"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "datasets",
        nargs="*",
        default=["synthetic", "houston2018_west"],
        metavar="DATASET",
        help="catalog names (default: synthetic houston2018_west)",
    )
    args = parser.parse_args()
    out = Path("outputs/experiments")
    rows = []
    for dataset in args.datasets:
        start = time.time()
        base = RunContext.create(
            dataset, quick=True, seed=0, out_dir=out / "feature_regime"
        )  # shares the DDPM of feature_regime.py
        prepared = prepare(base)
        ddpm = pretrain_ddpm(base, prepared, "adaptive", progress=False)
        for name, cfg in READINGS.items():
            # one output folder per reading, so classifier checkpoints of different readings never mix
            ctx = replace(
                RunContext.create(
                    dataset,
                    quick=True,
                    seed=0,
                    out_dir=out / f"feature_regime_bdgf/{name.replace(' ', '_').replace(',', '')}",
                ),
                preset=replace(base.preset, features=cfg),
            )
            features = extract_diffusion_features(ctx, prepared, ddpm, progress=False)
            for seed in (0, 1):
                run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=seed, progress=False)
                val = run.history[run.best_epoch - 1] if run.best_epoch else {}
                row = {
                    "dataset": dataset,
                    "reading": name,
                    "seed": seed,
                    "best_epoch": run.best_epoch,
                    "val": {k: v for k, v in val.items() if k.startswith("val")},
                    "test": run.row(),
                    "parameters": run.n_parameters,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
        print(dataset, f"{time.time() - start:.0f} s", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "feature_regime_bdgf.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
