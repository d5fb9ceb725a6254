"""Are two trainings faster side by side in two 1-thread processes than one after the other on 2 threads?

Two independent classifier trainings: one after the other on 2 threads (how notebook 03 ran
them on 2026-11-27) against side by side in two processes of 1 thread each (docs/BENCH.md,
"Threads and processes"). Same scene, DDPM, features, variant and seeds; wall time
of each way and each run's test OA (thread counts change float reductions, so the numbers may
move by seed noise). The workers run under OMP_WAIT_POLICY=PASSIVE unless the environment sets a
policy (bdgf_nb.openmp). Run from the repo root:
python docs/experiments/parallel_trainings.py [--quick]."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import time
from pathlib import Path

import torch

from bdgf_nb import openmp
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import diffusion_features, prepare, train_variant
from bdgf_nb.pipeline.variants import BDGF_VARIANT

ROOT = Path("outputs/experiments/parallel_trainings")


def train(args: tuple[str, bool, int, int, str]) -> dict[str, float]:
    dataset, quick, seed, threads, out_dir = args
    torch.set_num_threads(threads)
    ctx = RunContext.create(dataset, quick=quick, seed=0, out_dir=out_dir)
    prepared = prepare(ctx)
    features = diffusion_features(ctx, prepared, "adaptive", progress=False)
    start = time.time()
    run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=seed, progress=False)
    return {
        "seed": seed,
        "threads": threads,
        "train_seconds": round(time.time() - start, 1),
        "OA": round(run.report["overall_accuracy"], 2),
        "epochs": len(run.history),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    # PASSIVE for the spawned workers, as when importing bdgf_nb set it (before 2026-12-06)
    openmp.apply_shared_default()
    sequential, parallel = ROOT / "sequential", ROOT / "parallel"
    shutil.rmtree(ROOT, ignore_errors=True)
    ctx = RunContext.create(args.dataset, quick=args.quick, seed=0, out_dir=str(sequential))
    diffusion_features(ctx, prepare(ctx), "adaptive", progress=False)  # DDPM + feature cache, shared by both ways
    shutil.copytree(sequential, parallel)
    start = time.time()
    one_by_one = [train((args.dataset, args.quick, seed, 2, str(sequential))) for seed in (0, 1)]
    sequential_s = time.time() - start
    start = time.time()
    with mp.get_context("spawn").Pool(2) as pool:
        side_by_side = pool.map(train, [(args.dataset, args.quick, seed, 1, str(parallel)) for seed in (0, 1)])
    parallel_s = time.time() - start
    result = {
        "sequential_2_threads": {"wall_s": round(sequential_s, 1), "runs": one_by_one},
        "two_processes_1_thread": {"wall_s": round(parallel_s, 1), "runs": side_by_side},
        "speedup": round(sequential_s / parallel_s, 2),
    }
    (ROOT / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
