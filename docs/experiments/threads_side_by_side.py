"""How fast are one-thread BDGF training steps alone and two side by side, thread count kept or clobbered?

BDGF training steps in one-thread processes, alone and two side by side, with torch's thread
count kept at 1 ("fixed", what model/scan.py does since fe07367) or raised to 2 after the first
step ("clobbered": what numba's OpenMP pool did to every one-thread `bdgf-run --jobs` worker
before). docs/BENCH.md, "Threads and processes". houston2018_west shapes under the
full preset (6 channels, patch 11, width 32, batch 64), random inputs and guides (values do not
change the speed); the workers run under OMP_WAIT_POLICY=PASSIVE unless the environment sets a
policy (bdgf_nb.openmp). Run from the repo root:
python docs/experiments/threads_side_by_side.py [--steps 150]."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from dataclasses import replace
from typing import Any

import torch

from bdgf_nb import openmp
from bdgf_nb.ddpm.unet import DenoiserUNet
from bdgf_nb.device import adamw
from bdgf_nb.model.bdgf import BDGF
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.train.classifier import classifier_step

GROUPS = {"hsi": 5, "lidar": 1}  # houston2018_west: 5 HSI principal components + DSM; 12 classes
N_CLASSES, PATCH = 12, 11


def steps(mode: str, n: int, start: Any, results: Any) -> None:
    """Median seconds of one training step over `n` steps, in this (fresh) process, put on
    `results`; the timed loop begins when every worker has reached the `start` barrier."""
    torch.set_num_threads(1)
    settings = preset("full")
    unet = replace(settings.pretrain.unet, in_channels=sum(GROUPS.values()), modality_channels=tuple(GROUPS.values()))
    guide_channels = list(DenoiserUNet(unet).feature_channels)
    g = torch.Generator().manual_seed(0)
    b = settings.train.batch_size
    x = torch.randn(b, sum(GROUPS.values()), PATCH, PATCH, generator=g)
    guides = [torch.randn(b, c, PATCH, PATCH, generator=g) for c in guide_channels]
    y = torch.randint(0, N_CLASSES, (b,), generator=g)
    torch.manual_seed(0)
    model = BDGF(settings.model, GROUPS, guide_channels, N_CLASSES).train()
    optimizer = adamw(model.parameters(), lr=settings.train.lr, weight_decay=settings.train.weight_decay)
    classifier_step(model, model, x, guides, y, optimizer, settings.train)
    torch.set_num_threads(2 if mode == "clobbered" else 1)
    start.wait()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        classifier_step(model, model, x, guides, y, optimizer, settings.train)
        times.append(time.perf_counter() - start)
    results.put(statistics.median(times))


def side_by_side(mode: str, n: int, workers: int) -> list[float]:
    """Each worker's median step time, `workers` spawned processes timed over the same span."""
    context = mp.get_context("spawn")
    start, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=steps, args=(mode, n, start, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    times = [results.get() for _ in processes]
    for process in processes:
        process.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    openmp.apply_shared_default()  # PASSIVE in os.environ: the spawned workers, which time, inherit it
    for mode in ("clobbered", "fixed"):
        alone, pair = side_by_side(mode, args.steps, 1), side_by_side(mode, args.steps, 2)
        print(
            f"{mode:9s}  alone {alone[0] * 1e3:6.1f} ms/step   side by "
            f"side {pair[0] * 1e3:6.1f} / {pair[1] * 1e3:6.1f} ms/step"
        )


if __name__ == "__main__":
    main()
