"""Which reading of a frozen DDPM's features (tiles, overlap, timesteps) scores best on validation?

Issue 15, item 3: read the diffusion features in the regime the denoiser was trained for?

The DDPM is trained on `patch` x `patch` patches (11 x 11) but features were read on 64 x 64
tiles. This script reads the same frozen denoiser (quick preset, adaptive masking, seed 0) under
several tilings and timestep combinations and scores each with the linear probe of
`analysis/probe.py`, fitted on the training pixels minus validation (`split.fit`) and scored on
the spatially separate VALIDATION blocks (the choice is made there); the test figure is printed
beside it for the record only. Controls: the raw pixel and its 3 x 3 mean.

    python docs/experiments/feature_regime.py [DATASET ...]   (default: synthetic)

Writes outputs/experiments/feature_regime_<dataset>.json.
"""

import argparse
import json
import time
from pathlib import Path

from bdgf_nb.analysis.probe import linear_probe, neighbourhood_mean
from bdgf_nb.ddpm.features import FeatureConfig, extract_features
from bdgf_nb.metrics import METRICS
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import prepare, pretrain_ddpm

# (name, FeatureConfig): tile and overlap are in pixels; the kept block is tile - 2 * overlap
VARIANTS = [
    ("tile 64, overlap 8, mean t (today)", FeatureConfig(tile=64, overlap=8, reduce="mean")),
    ("tile 64, overlap 8, concat t", FeatureConfig(tile=64, overlap=8, reduce="concat")),
    ("tile 11, overlap 0, mean t", FeatureConfig(tile=11, overlap=0, batch_size=256, reduce="mean")),
    ("tile 11, overlap 3, mean t", FeatureConfig(tile=11, overlap=3, batch_size=256, reduce="mean")),
    ("tile 11, overlap 3, concat t", FeatureConfig(tile=11, overlap=3, batch_size=256, reduce="concat")),
    ("tile 11, overlap 3, t=5 only", FeatureConfig(timesteps=(5,), tile=11, overlap=3, batch_size=256)),
    ("tile 11, overlap 3, t=50 only", FeatureConfig(timesteps=(50,), tile=11, overlap=3, batch_size=256)),
    ("tile 32, overlap 8, mean t", FeatureConfig(tile=32, overlap=8, batch_size=32, reduce="mean")),
]


def run(dataset: str) -> None:
    start = time.time()
    out = Path("outputs/experiments")
    ctx = RunContext.create(dataset, quick=True, seed=0, out_dir=out / "feature_regime")
    prepared = prepare(ctx)
    ddpm = pretrain_ddpm(ctx, prepared, "adaptive", progress=False)
    fit, val, test = prepared.split.fit, prepared.split.val, prepared.split.test
    assert val is not None
    sets = {"raw pixel": [prepared.image], "raw 3x3 mean": [neighbourhood_mean(prepared.image)]}
    seconds = {}
    for name, cfg in VARIANTS:
        t0 = time.time()
        sets[name] = extract_features(ddpm.diffusion, prepared.image, cfg, progress=False)
        seconds[name] = round(time.time() - t0, 2)
    on_val = linear_probe(sets, prepared.labels, fit, val, prepared.n_classes, seed=0)
    on_test = linear_probe(sets, prepared.labels, fit, test, prepared.n_classes, seed=0)
    rows = []
    print(
        f"{dataset}: probe fitted on {int(fit.sum())} fit pixels (at most 4000), "
        f"validation {int(val.sum())}, test {int(test.sum())}"
    )
    print(
        f"{'features':40s} {'dims':>5s} {'val OA':>7s} {'val AA':>7s} {'val k':>7s} {'test OA':>8s} {'extract s':>9s}"
    )
    for v, t in zip(on_val, on_test, strict=True):
        row = {
            "features": v["features"],
            "dims": v["dims"],
            "val": {k: v[k] for k in METRICS},
            "test": {k: t[k] for k in METRICS},
            "extract_s": seconds.get(v["features"]),
        }
        rows.append(row)
        print(
            f"{v['features']:40s} {v['dims']:5d} {v['overall_accuracy']:7.2f} "
            f"{v['average_accuracy']:7.2f} {v['kappa']:7.2f} "
            f"{t['overall_accuracy']:8.2f} {seconds.get(v['features'], 0):9.2f}"
        )
    print(f"{dataset}: {time.time() - start:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"feature_regime_{dataset}.json").write_text(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "datasets", nargs="*", default=["synthetic"], metavar="DATASET", help="catalog names (default: synthetic)"
    )
    args = parser.parse_args()
    for name in args.datasets:
        run(name)


if __name__ == "__main__":
    main()
