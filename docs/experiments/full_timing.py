"""How long do one full-mode DDPM and one full-mode BDGF training take on houston2018_west?

Time one full-mode DDPM (adaptive) and one full-mode BDGF training on houston2018_west (all
pixels), the pieces the full protocol repeats (the README of 2026-11-27, "What is not
measured"). Run from the repo root: python docs/experiments/full_timing.py (6 min 55 s on 2 idle cores,
2026-11-27).
"""

import argparse
import json
import time

from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import extract_diffusion_features, prepare, pretrain_ddpm, train_variant
from bdgf_nb.pipeline.variants import BDGF_VARIANT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    ctx = RunContext.create("houston2018_west", quick=False, seed=0, out_dir="outputs/experiments/full_timing")
    seconds = {}
    start = time.time()
    prepared = prepare(ctx)
    seconds["prepare"], start = time.time() - start, time.time()
    ddpm = pretrain_ddpm(ctx, prepared, "adaptive", progress=False)
    seconds["ddpm"], start = time.time() - start, time.time()
    features = extract_diffusion_features(ctx, prepared, ddpm, progress=False)
    seconds["features"], start = time.time() - start, time.time()
    run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=0, progress=False)
    seconds["bdgf"] = time.time() - start
    print(
        json.dumps(
            {"seconds": {k: round(v, 1) for k, v in seconds.items()}, "epochs_run": len(run.history), "row": run.row()},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
