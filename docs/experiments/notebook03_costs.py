"""Where does notebook 03's `compare` spend its time when every run is already trained?

Where notebook 03's `compare` spends its time when every run is already trained: one model
seed's fused baselines, one diffusion-feature load, and the reload of each variant. The README
of 2026-11-27, "Speed". On a folder from before 7db0f5d (no stored results) a reload reads the checkpoint, then
predicts the test and validation pixels again and refits the ensemble rule, and the baselines
are fitted (both are then stored in that folder, so time such a folder only once); on a later
folder both are read from `artifacts/` (bdgf_nb/storage.py). Run from the repo root on a finished
full-protocol folder, with the cores idle:

    python docs/experiments/notebook03_costs.py /tmp/runs/h18p4/houston2018_west houston2018_west
"""

from __future__ import annotations

import argparse
import time

import torch

from bdgf_nb.pipeline.parameters import RunParameters
from bdgf_nb.pipeline.steps import diffusion_features, fused_baselines, prepare, train_variant
from bdgf_nb.pipeline.variants import comparison_variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="the dataset folder of a bdgf-run --seeds 5 run (OUT/<dataset>)")
    parser.add_argument("dataset")
    args = parser.parse_args()
    torch.set_num_threads(2)  # what the notebook kernel uses on this machine
    ctx = RunParameters(dataset=args.dataset, quick=False, seed=0, out_dir=args.out_dir, seeds=5).context()
    prepared = prepare(ctx)
    start = time.perf_counter()
    fused_baselines(ctx, prepared, 0)
    print(f"fused baselines, model seed 0: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    features = diffusion_features(ctx, prepared, "adaptive", seed=0, progress=False)
    print(f"diffusion features (adaptive, draw 0) from the cache: {time.perf_counter() - start:.1f} s")
    for variant in comparison_variants(prepared.is_pixel_scene):
        if variant.masking("adaptive") != "adaptive":
            continue  # the masking arms are BDGF again on other features: same cost as BDGF
        start = time.perf_counter()
        train_variant(ctx, prepared, features, variant, seed=0, progress=False)
        print(f"reload {variant.name}, model seed 0: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
