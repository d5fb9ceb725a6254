"""Does bf16 autocast speed up the training steps `bdgf-bench` times on this CPU?

fp32 against bf16 autocast on this CPU: the training steps `bdgf-bench` times, and the DDPM loss.

Where the CPU has AMX or AVX512-BF16 (`torch.backends.cpu.get_cpu_capability()`), oneDNN runs
bf16 matmuls and convolutions on them, so the DDPM U-Net, the one model here made of large
convolutions, may gain; BDGF's steps are mostly small element-wise ops and may lose to the
casts. Each step is timed in the same process, fp32 and bf16 in turn (a, b, a, b, ...), with
the weights and inputs of bdgf-bench's workloads; medians over the rounds. A speed figure,
not an accuracy one: whether a bf16 DDPM's features train equally good classifiers needs
paired seeds. docs/BENCH.md of 2026-12-03, "bf16 autocast"; docs/BENCH.md, "What bounds
them". From the repo root:

    python docs/experiments/bf16_autocast.py [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from bdgf_nb.cli.bench import bdgf_workload, ddpm_workload
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.pipeline.steps import prepare


def seconds(call: Callable[[], object], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        call()
    return (time.perf_counter() - start) / steps


def autocast(call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return call()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"cpu capability {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads, torch {torch.__version__}"
    )
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    mm = {"fp32": lambda: a @ b, "bf16": lambda: a.bfloat16() @ b.bfloat16()}
    ctx = RunContext("synthetic", preset("quick"), seed=0)
    prepared = prepare(ctx)
    cpu = torch.device("cpu")
    works = {"ddpm": ddpm_workload(ctx.preset, prepared.image, prepared.channel_groups, cpu)}
    works |= {
        v: bdgf_workload(v, ctx.preset, prepared.channel_groups, prepared.n_classes, cpu)
        for v in ("cnn_only", "transformer_only", "bdgf")
    }
    print("| step (quick sizes, batch 64) | fp32 ms | bf16 autocast ms | speed-up |\n|---|---|---|---|")
    for name, call in mm.items():
        call()
        flops = 2 * 1024**3 / statistics.median(seconds(call, 10) for _ in range(args.rounds))
        print(f"| matmul 1024^3 {name} | {flops / 1e9:.0f} GFLOP/s | | |")
    for name, work in works.items():
        _, step = work.build()
        arms = {"fp32": step, "bf16": autocast(step)}
        for call in arms.values():  # warm-up: oneDNN primitives for both dtypes
            call()
            call()
        times: dict[str, list[float]] = {k: [] for k in arms}
        for _ in range(args.rounds):
            for key, call in arms.items():
                times[key].append(seconds(call, args.steps))
        fp32, bf16 = (statistics.median(times[k]) * 1e3 for k in ("fp32", "bf16"))
        print(f"| {name} | {fp32:.1f} | {bf16:.1f} | {fp32 / bf16:.2f}x |")


if __name__ == "__main__":
    main()
