"""Measure the default selective scan against the sequential reference (scan.py's choice of path).

    python -m bdgf_nb.cli.bench_scan --batch 256 --length 128 --d-inner 64 --d-state 16 --repeats 5

The default path is backend "auto": the numba fused kernels on CPU, mamba_ssm on CUDA when
installed. Times forward and forward+backward of both after one warm-up call (which also pays
numba's compile on a fresh machine), the two backends in turn (default, reference, default, ...)
so that noise from a shared machine hits both alike; reports medians, the speed-up, state
updates per second (b * l * d * n / time) and the largest output / gradient difference.
`bdgf-bench` (bench.py) runs this over several lengths and adds the machine's arithmetic bound.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Mapping
from functools import partial

import torch

from bdgf_nb.model.scan import resolve_backend, selective_scan

Inputs = tuple[torch.Tensor, ...]


def _inputs(batch: int, length: int, d_inner: int, d_state: int, seed: int, device: torch.device) -> Inputs:
    """Mamba-block-like inputs: u, delta pre-softplus (b, d, l); A = -(1..n) (S4D-real);
    B, C (b, n, l); D, delta_bias (d,); z (b, d, l). Drawn on the CPU, then moved."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d_inner, length, generator=g)
    delta = torch.randn(batch, d_inner, length, generator=g) * 0.5 - 2.0
    A = -torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
    B = torch.randn(batch, d_state, length, generator=g)
    C = torch.randn(batch, d_state, length, generator=g)
    D = torch.ones(d_inner)
    z = torch.randn(batch, d_inner, length, generator=g)
    delta_bias = torch.rand(d_inner, generator=g) - 4.0
    return tuple(x.to(device).requires_grad_() for x in (u, delta, A, B, C, D, z, delta_bias))


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    device: torch.device | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds of each call, timed in turn (a, b, a, b, ...) so that noise hits all alike
    (CUDA work is synchronised around each call when `device` is a CUDA device).

    clock: wall time by default; `time.process_time` (CPU seconds of every thread of this
    process) for A/B comparisons on an oversubscribed machine, where wall time mostly measures
    how long other processes held the cores (use one thread: spinning waits count as CPU)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = clock()
            fn()
            _sync(device)
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _run(inputs: Inputs, backend: str, grad_out: torch.Tensor, backward: bool) -> tuple[torch.Tensor, ...]:
    u, delta, A, B, C, D, z, delta_bias = inputs
    y = selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True, backend=backend)
    if not backward:
        return (y.detach(),)
    return (y.detach(), *torch.autograd.grad(y, inputs, grad_out))


def measure_scan(
    batch: int = 256,
    length: int = 128,
    d_inner: int = 64,
    d_state: int = 16,
    repeats: int = 5,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, float | str]:
    """Median seconds of forward and forward+backward for the default path and "reference" on
    `device`, speed-ups (reference / default), state updates per second of the default path, and
    the max difference (absolute, and relative to the tensor's max) of the output and all eight
    input gradients. `default_backend` names the path "auto" took."""
    dev = torch.device(device)
    inputs = _inputs(batch, length, d_inner, d_state, seed, dev)
    grad_out = torch.randn(batch, d_inner, length, generator=torch.Generator().manual_seed(seed + 1)).to(dev)
    backends = {"default": resolve_backend("auto", inputs[0]), "reference": "reference"}
    results = {name: _run(inputs, b, grad_out, backward=True) for name, b in backends.items()}  # warm-up
    pairs = list(zip(results["default"], results["reference"], strict=True))
    out: dict[str, float | str] = {
        "batch": batch,
        "length": length,
        "d_inner": d_inner,
        "d_state": d_state,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "device": str(dev),
        "default_backend": backends["default"],
        "max_abs_err": max((f - r).abs().max().item() for f, r in pairs),
        # error relative to each tensor's largest entry: dA sums b*l terms and is large
        "max_rel_err": max(((f - r).abs().max() / r.abs().max()).item() for f, r in pairs),
    }
    updates = batch * length * d_inner * d_state
    for backward, tag in ((False, "fwd"), (True, "fwd_bwd")):
        with torch.set_grad_enabled(backward):
            calls = {name: partial(_run, inputs, b, grad_out, backward) for name, b in backends.items()}
            seconds = interleaved_medians(calls, repeats, dev)
        for name in backends:
            out[f"{name}_{tag}_s"] = seconds[name]
        out[f"speedup_{tag}"] = seconds["reference"] / seconds["default"]
        out[f"default_{tag}_state_updates_per_s"] = updates / seconds["default"]
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
