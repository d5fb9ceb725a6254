"""Measure the fused selective scan against the sequential reference (scan.py's choice of path).

    python -m bdgf_nb.bench_scan --batch 256 --length 128 --d-inner 64 --d-state 16 --repeats 5

Times forward and forward+backward of both backends on CPU after one warm-up call (which also
pays numba's compile on a fresh machine), reports medians, the speed-up, state updates per second
(b * l * d * n / time) and the largest output / gradient difference between the two.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from .scan import selective_scan

Inputs = tuple[torch.Tensor, ...]


def _inputs(batch: int, length: int, d_inner: int, d_state: int, seed: int) -> Inputs:
    """Mamba-block-like inputs: u, delta pre-softplus (b, d, l); A = -(1..n) (S4D-real);
    B, C (b, n, l); D, delta_bias (d,); z (b, d, l)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d_inner, length, generator=g)
    delta = torch.randn(batch, d_inner, length, generator=g) * 0.5 - 2.0
    A = -torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
    B = torch.randn(batch, d_state, length, generator=g)
    C = torch.randn(batch, d_state, length, generator=g)
    D = torch.ones(d_inner)
    z = torch.randn(batch, d_inner, length, generator=g)
    delta_bias = torch.rand(d_inner, generator=g) - 4.0
    return tuple(x.requires_grad_() for x in (u, delta, A, B, C, D, z, delta_bias))


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _run(inputs: Inputs, backend: str, grad_out: torch.Tensor, backward: bool) -> tuple[torch.Tensor, ...]:
    u, delta, A, B, C, D, z, delta_bias = inputs
    y = selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True, backend=backend)
    if not backward:
        return (y.detach(),)
    return (y.detach(), *torch.autograd.grad(y, inputs, grad_out))


def measure_scan(batch: int = 256, length: int = 128, d_inner: int = 64, d_state: int = 16, repeats: int = 5, seed: int = 0) -> dict[str, float]:
    """Median seconds of forward and forward+backward for "fused" and "reference" on CPU,
    speed-ups (reference / fused), state updates per second of the fused path, and the max
    difference (absolute, and relative to the tensor's max) of the output and all eight input
    gradients."""
    inputs = _inputs(batch, length, d_inner, d_state, seed)
    grad_out = torch.randn(batch, d_inner, length, generator=torch.Generator().manual_seed(seed + 1))
    results = {b: _run(inputs, b, grad_out, backward=True) for b in ("fused", "reference")}  # warm-up
    pairs = list(zip(results["fused"], results["reference"], strict=True))
    out: dict[str, float] = {
        "batch": batch, "length": length, "d_inner": d_inner, "d_state": d_state, "repeats": repeats,
        "threads": torch.get_num_threads(),
        "max_abs_err": max((f - r).abs().max().item() for f, r in pairs),
        # error relative to each tensor's largest entry: dA sums b*l terms and is large
        "max_rel_err": max(((f - r).abs().max() / r.abs().max()).item() for f, r in pairs),
    }
    for backend in ("fused", "reference"):
        for backward, tag in ((False, "fwd"), (True, "fwd_bwd")):
            with torch.set_grad_enabled(backward):
                out[f"{backend}_{tag}_s"] = _median_time(partial(_run, inputs, backend, grad_out, backward), repeats)
    updates = batch * length * d_inner * d_state
    for tag in ("fwd", "fwd_bwd"):
        out[f"speedup_{tag}"] = out[f"reference_{tag}_s"] / out[f"fused_{tag}_s"]
        out[f"fused_{tag}_state_updates_per_s"] = updates / out[f"fused_{tag}_s"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--d-inner", type=int, default=64)
    parser.add_argument("--d-state", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for the run")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(json.dumps(measure_scan(args.batch, args.length, args.d_inner, args.d_state, args.repeats), indent=2))


if __name__ == "__main__":
    main()
