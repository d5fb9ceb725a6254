"""Do class-balanced batches beat plain batches on validation (BDGF, quick, houston2018_west)?

Choose class-balanced batches on VALIDATION (docs/PROTOCOL.md): BDGF at quick sizes on
houston2018_west, seeds 0 and 1, plain vs class-balanced batches, paired. Run from the repo root:
python docs/experiments/class_balance.py (317 s on 2 cores, 2026-11-27).
Writes outputs/experiments/class_balance.json.
"""

import argparse
import json
import time

from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import diffusion_features, prepare, train_variant
from bdgf_nb.pipeline.variants import BDGF_VARIANT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    rows = []
    t0 = time.time()
    base = RunContext.create("houston2018_west", quick=True, seed=0, out_dir="outputs/experiments/class_balance")
    prepared = prepare(base)
    features = diffusion_features(base, prepared, "adaptive", progress=False)
    for balanced in (False, True):
        ctx = RunContext.create(
            "houston2018_west", quick=True, seed=0, out_dir="outputs/experiments/class_balance", class_balanced=balanced
        )
        for seed in (0, 1):
            run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=seed, progress=False)
            row = {"class_balanced": balanced, "seed": seed, **run.row()}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("seconds", round(time.time() - t0))
    with open("outputs/experiments/class_balance.json", "w") as out:
        json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
