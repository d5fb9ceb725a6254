"""How far are issue 13's hardware targets from what this machine can do?

How far issue 13's hardware targets are from what this machine can do, from measurements.

Three of the issue's targets are about the arithmetic rate: BDGF's training step at >= 40 % of
the fp32 matmul rate, the Transformer and Mamba branches at >= 2x, whole-scene maps at >= 4x the
issue-era pixels/s with identical maps. This script measures, in one process and timed in turn
(a, b, a, b, ...; medians), the parts that bound each one at `bdgf-bench`'s quick sizes on the
synthetic scene (batch 64 for training, 1024 for maps), under the OpenMP policy `bdgf-bench` runs
under (the short spin of bdgf_nb.openmp, unless the environment sets a policy):

- the fp32 matmul rate M (n = 2048), the machine limit every fraction refers to;
- whole training steps of BDGF and of each branch alone (`bdgf-bench`'s workloads);
- the CNN branch's convolutions alone: every conv2d one BDGF forward calls, with the same shapes,
  forward and backward, replayed on fresh tensors (the conv FLOPs are most of BDGF's counted
  FLOPs, so their rate caps the step's fraction);
- the numba scan alone at the Mamba branch's shapes (forward and backward, one call per stage,
  with the softplus of delta the block applies before it): the part of the Mamba step that is
  not small torch ops;
- inference forwards (eval, no gradients) of BDGF and of each branch, pixels/s and FLOPs/pixel.

From these it prints what each target would need. It changes nothing; the figures and their
reading are in docs/BENCH.md of 2026-12-05, "Where issue 13's targets stand" (now "What
bounds them"). From the repo root:

    python docs/experiments/target_bounds.py [--threads 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from bdgf_nb import openmp
from bdgf_nb.cli.bench import BRANCH_MODELS, bdgf_workload, matmul_call
from bdgf_nb.cli.bench_scan import interleaved_medians
from bdgf_nb.model.bdgf import BDGF
from bdgf_nb.model.branches import MambaBranch
from bdgf_nb.model.scan_numba import scan_core_fused
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.pipeline.steps import prepare

ISSUE_ERA_MAP_PIXELS_PER_S = (1300.0, 2100.0)  # issue 13's text: "1,300-2,100 pixels/s today"


class Conv2dCalls(TorchFunctionMode):
    """Records every F.conv2d call: (input shape, input needs grad, weight shape, stride, padding, groups)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if func is F.conv2d or func is torch.conv2d:
            x, w = args[0], args[1]
            names = ("bias", "stride", "padding", "dilation", "groups")
            given = dict(zip(names, args[2:], strict=False)) | kwargs
            self.calls.append(
                (
                    tuple(x.shape),
                    x.requires_grad,
                    tuple(w.shape),
                    given.get("stride", 1),
                    given.get("padding", 0),
                    given.get("groups", 1),
                )
            )
        return func(*args, **kwargs)


def conv_replay(calls: list[tuple[Any, ...]]) -> Callable[[], None]:
    """Forward + backward of the recorded convolutions on fresh tensors, one after another."""
    g = torch.Generator().manual_seed(0)
    prepared = []
    for shape, needs_grad, w_shape, stride, padding, groups in calls:
        x = torch.randn(shape, generator=g).requires_grad_(needs_grad)
        w = torch.randn(w_shape, generator=g).requires_grad_(True)
        out = F.conv2d(x, w, stride=stride, padding=padding, groups=groups)
        prepared.append((x, w, stride, padding, groups, torch.randn(out.shape, generator=g)))

    def run() -> None:
        for x, w, stride, padding, groups, grad in prepared:
            F.conv2d(x, w, stride=stride, padding=padding, groups=groups).backward(grad)

    return run


def scan_call(batch: int, d_inner: int, length: int, d_state: int, calls: int) -> Callable[[], None]:
    """The fused scan core, forward + backward, `calls` times (one per Mamba stage)."""
    g = torch.Generator().manual_seed(0)
    u, delta = (torch.randn(batch, d_inner, length, generator=g).requires_grad_() for _ in range(2))
    A = (-torch.rand(d_inner, d_state, generator=g) - 0.5).requires_grad_()
    B, C = (torch.randn(batch, d_state, length, generator=g).requires_grad_() for _ in range(2))
    grad = torch.randn(batch, d_inner, length, generator=g)

    def run() -> None:
        for _ in range(calls):
            scan_core_fused(u, F.softplus(delta), A, B, C).backward(grad)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if spin := openmp.exclusive_env():  # no OpenMP policy chosen: run under bdgf-bench's (its short spin)
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **spin})
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    ctx = RunContext("synthetic", preset("quick"), seed=0)
    prepared = prepare(ctx)
    settings, groups, n_classes = ctx.preset, prepared.channel_groups, prepared.n_classes
    cpu = torch.device("cpu")

    steps: dict[str, Callable[[], None]] = {}
    flops: dict[str, float] = {}
    models: dict[str, nn.Module] = {}
    for variant in BRANCH_MODELS:
        model, train_step = bdgf_workload(variant, settings, groups, n_classes, cpu).build()
        for _ in range(2):
            train_step()
        with FlopCounterMode(display=False) as counter:
            train_step()
        steps[variant], flops[variant], models[variant] = train_step, float(counter.get_total_flops()), model

    # the convolutions of one BDGF forward (CNN branch; the Mamba branch's grouped Conv1d are not conv2d)
    bdgf = models["bdgf"]
    assert isinstance(bdgf, BDGF)
    guide_channels = bdgf.guide_channels  # the quick DDPM's feature channels, as bdgf_workload built it
    b, p = settings.train.batch_size, settings.patch
    x = torch.randn(b, sum(groups.values()), p, p)
    guides = [torch.randn(b, c, p, p) for c in guide_channels]
    recorder = Conv2dCalls()
    with recorder:
        bdgf(x, guides)
    convs = conv_replay(recorder.calls)
    with FlopCounterMode(display=False) as counter:
        convs()
    conv_flops = float(counter.get_total_flops())

    mamba_cfg = settings.model.mamba()
    mamba_branch = bdgf.branches["mamba"]
    assert isinstance(mamba_branch, MambaBranch)
    length = mamba_branch.tokens.length
    scan = scan_call(b, mamba_cfg.d_inner, length, mamba_cfg.d_state, settings.model.stages)
    scan()  # numba compile / cache load
    mm, mm_flops = matmul_call(cpu)
    mm()

    timed = interleaved_medians({"matmul": mm, **steps, "cnn convolutions": convs, "scan kernels": scan}, args.rounds)
    M = mm_flops / timed["matmul"]

    # inference: eval forwards at the map path's batch
    nb = 1024
    xi = torch.randn(nb, sum(groups.values()), p, p)
    gi = [torch.randn(nb, c, p, p) for c in guide_channels]
    infer = BDGF(settings.model, groups, guide_channels, n_classes).eval()
    forwards: dict[str, Callable[[], object]] = {"bdgf": lambda: infer(xi, gi)}
    for name, branch in infer.branches.items():
        forwards[name] = functools.partial(branch, xi, gi)
    per_pixel: dict[str, float] = {}
    with torch.inference_mode():
        for name, fn in forwards.items():
            fn()
            with FlopCounterMode(display=False) as counter:
                fn()
            per_pixel[name] = float(counter.get_total_flops()) / nb
        inference = interleaved_medians(forwards, max(3, args.rounds // 2))

    policy = ", ".join(f"{k}={v}" for k, v in openmp.current().items() if v is not None)
    print(
        f"threads {args.threads}, rounds {args.rounds}, {policy}, "
        f"torch {torch.__version__}; fp32 matmul {M / 1e9:.0f} GFLOP/s\n"
    )
    print("| training step (quick, batch 64) | ms | GFLOP | of matmul |\n|---|---|---|---|")
    for variant in BRANCH_MODELS:
        s = timed[variant]
        print(f"| {variant} | {s * 1e3:.1f} | {flops[variant] / 1e9:.2f} | {flops[variant] / s / M:.1%} |")
    print(
        f"| CNN convolutions alone ({len(recorder.calls)} conv2d, fwd + bwd) | {timed['cnn convolutions'] * 1e3:.1f} "
        f"| {conv_flops / 1e9:.2f} | {conv_flops / timed['cnn convolutions'] / M:.1%} |"
    )
    print(
        f"| scan kernels alone (b {b}, d {mamba_cfg.d_inner}, l {length}, n {mamba_cfg.d_state}; "
        f"{settings.model.stages} calls, fwd + bwd) | {timed['scan kernels'] * 1e3:.1f} | | |"
    )

    step, conv_s = timed["bdgf"], timed["cnn convolutions"]
    allowed = flops["bdgf"] / (0.4 * M)  # the step time at which BDGF reaches 40 % of M
    rest_now, rest_allowed = step - conv_s, allowed - conv_s
    print(
        "\nBDGF at 40 % of the matmul: "
        f"step <= {allowed * 1e3:.1f} ms (now {step * 1e3:.1f} ms). The CNN's convolutions "
        f"take {conv_s * 1e3:.1f} ms at {conv_flops / conv_s / M:.0%} of the matmul; "
        f"everything else takes {rest_now * 1e3:.1f} ms "
        + (
            f"and would have to take {rest_allowed * 1e3:.1f} ms ({rest_now / rest_allowed:.1f}x faster)."
            if rest_allowed > 0
            else "and would have to take no time at all: the convolutions alone exceed the budget."
        )
    )
    mamba, scan_s = timed["mamba_only"], timed["scan kernels"]
    print(
        f"Mamba step {mamba * 1e3:.1f} ms, of which the scan kernels {scan_s * 1e3:.1f} ms ({scan_s / mamba:.0%}); "
        f"the other {(mamba - scan_s) * 1e3:.1f} ms are small torch "
        f"ops on ({b}, {length}, {mamba_cfg.d_inner})-sized tensors."
    )

    print(
        "\n| inference forward (eval, batch 1024) "
        "| pixels/s | MFLOP/pixel | GFLOP/s | of matmul |\n|---|---|---|---|---|"
    )
    for name, s in inference.items():
        print(
            f"| {name} | {nb / s:,.0f} | {per_pixel[name] / 1e6:.2f} | "
            f"{per_pixel[name] * nb / s / 1e9:.1f} | {per_pixel[name] * nb / s / M:.1%} |"
        )
    for era in ISSUE_ERA_MAP_PIXELS_PER_S:
        need = 4 * era * per_pixel["bdgf"]
        print(
            f"4x the issue's {era:,.0f} px/s = {4 * era:,.0f} px/s: "
            f"the forward alone at {need / 1e9:.0f} GFLOP/s, {need / M:.0%} of the matmul"
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
