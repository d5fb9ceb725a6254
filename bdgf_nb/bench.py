"""`bdgf-bench`: how fast each part of BDGF runs, and how close training gets to the machine's limit.

    bdgf-bench [--quick] [--out outputs/bench.json] [--threads N] [--device cpu|cuda] [--profile]

Figures that are compared are measured side by side in one run: the timed calls alternate
(a, b, a, b, ...) and medians are reported, so a busy shared machine slows both sides alike.
JSON sections (a table of the headline figures is printed too):

machine    versions, device, threads, `matmul_flops`: FLOP/s of a large fp32 torch.matmul, our
           "machine limit" (on CUDA also bf16, the dtype training autocasts to).
scan       per sequence length: the default selective-scan path (numba fused on CPU, mamba_ssm on
           CUDA) against the sequential reference, forward and forward+backward: seconds,
           speed-up, max error, state updates/s and their fraction of the arithmetic bound
           (matmul FLOP/s / the FLOPs one state update costs, counted from the fused kernel).
training   per model (DDPM U-Net, each BDGF branch alone, full BDGF), the presets' sizes: samples/s
           of a whole step (forward, backward, clipping, AdamW), FLOPs per step from
           torch.utils.flop_counter (matmul, conv and attention FLOPs, the usual model-FLOPs
           convention: elementwise ops and the numba scan are not counted), achieved FLOP/s and
           its fraction of the matmul FLOP/s timed in turn with the steps, and peak memory.
features   whole-scene diffusion features through the cache: a miss (compute and write) and a hit.
inference  whole-scene classification map: pixels/s of BDGF (`train.predict`, all pixels).
pipeline   wall seconds per stage of the quick pipeline on the synthetic scene (prepare, DDPM
           pretraining, features, BDGF training, scene map); --quick shortens its epochs.
profile    (--profile) the top operators of the slowest pipeline stage (torch.profiler).

Peak memory: on CUDA `torch.cuda.max_memory_allocated` (tensors only); on CPU the rise of the
resident set (/proc/self/statm) above its level before the model was built, sampled every 2 ms
(ru_maxrss is a lifetime maximum and tracemalloc does not see torch's allocator), after
returning freed heap to the system (malloc_trim) so that reused memory does not hide the rise.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import distributed as ddp
from .bench_scan import interleaved_medians, measure_scan
from .results import write_json_atomic

# FLOPs one state update (one (b, t, d, n) element) costs in the fused kernels of scan.py, exp
# counted at its polynomial's cost (~15: range reduction, degree-7 polynomial, scaling).
# forward: delta*A 1, exp 15, h = dA*h + (delta*u)*B 3, y += C*h 2.
# backward: recompute h (19) + reverse pass: exp again 16, g 2, d(delta*A) 2, d-delta 5, dA 2,
# du 2, g carry 1, dC and dB dot products 4 -> 53; forward+backward = 21 + 53.
SCAN_FLOPS_PER_UPDATE = {"fwd": 21, "fwd_bwd": 74}
BRANCH_MODELS = ("cnn_only", "mamba_only", "transformer_only", "bdgf")


# ---------------------------------------------------------------------------------------------
# Measuring tools
# ---------------------------------------------------------------------------------------------


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return None


_PAGE = 4096
with contextlib.suppress(AttributeError, ValueError, OSError):
    import os

    _PAGE = os.sysconf("SC_PAGE_SIZE")


def _trim_heap() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """`with PeakMemory(device) as peak:` ... then `peak.bytes` (None when unmeasurable) and
    `peak.method` (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.bytes, self._peak, self._stop = device, None, 0, threading.Event()
        self.method = "torch.cuda.max_memory_allocated" if device.type == "cuda" else "RSS rise, sampled every 2 ms"

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _rss_bytes() or 0)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        _trim_heap()
        base = _rss_bytes()
        if base is None:
            self.method = "unavailable (no /proc/self/statm)"
            return self
        self._base = self._peak = base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self._base
        elif hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            self.bytes = max(self._peak, _rss_bytes() or 0) - self._base


def matmul_call(device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[Callable[[], object], float]:
    """(call, FLOPs) of an n x n matmul large enough to run near the machine's peak."""
    n = 8192 if device.type == "cuda" else 2048
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(device, dtype) for _ in range(2))
    return (lambda: a @ b), 2.0 * n**3


@contextlib.contextmanager
def _stopwatch(times: dict[str, float], name: str, device: torch.device) -> Iterator[None]:
    start = time.perf_counter()
    yield
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times[name] = time.perf_counter() - start


def _round(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def machine_section(device: torch.device, repeats: int) -> dict[str, Any]:
    import numba

    out: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "numba": numba.__version__,
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "device": str(device), "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    dtypes = {"fp32": torch.float32, **({"bf16": torch.bfloat16} if device.type == "cuda" else {})}
    for tag, dtype in dtypes.items():
        call, flops = matmul_call(device, dtype)
        call()  # warm-up
        out[f"matmul_{tag}_flops"] = flops / interleaved_medians({"mm": call}, repeats, device)["mm"]
    out["matmul_flops"] = out["matmul_fp32_flops"]
    return out


def scan_section(device: torch.device, lengths: tuple[int, ...], repeats: int, matmul_flops: float) -> list[dict[str, Any]]:
    """Default path vs reference at batch 256, d_inner 64, d_state 16 for each length."""
    rows = []
    for length in lengths:
        row: dict[str, Any] = dict(measure_scan(256, length, 64, 16, repeats=repeats, device=device))
        for tag, flops in SCAN_FLOPS_PER_UPDATE.items():
            row[f"bound_{tag}_state_updates_per_s"] = matmul_flops / flops
            row[f"default_{tag}_fraction_of_bound"] = row[f"default_{tag}_state_updates_per_s"] * flops / matmul_flops
        rows.append(row)
    return rows


class Workload:
    """One training step of a model as the loops run it: forward (autocast on CUDA), backward,
    clipping, AdamW. `build` returns (model, step) so memory can be measured from before the build."""

    def __init__(self, name: str, batch: int, build: Callable[[], tuple[nn.Module, Callable[[], None]]]) -> None:
        self.name, self.batch, self.build = name, batch, build


def _optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def ddpm_workload(quick: bool, image: np.ndarray, channel_groups: dict[str, int], device: torch.device) -> Workload:
    from .masking import ModalityMasker
    from .patches import unlabelled_patches
    from .presets import preset
    from .pretrain import build_diffusion

    settings = preset(quick)
    cfg, b = settings.pretrain, settings.pretrain.batch_size
    x0 = unlabelled_patches(image, b, settings.patch).to(device)
    g = torch.Generator().manual_seed(0)

    def build() -> tuple[nn.Module, Callable[[], None]]:
        torch.manual_seed(0)
        diffusion = build_diffusion(cfg, channel_groups).to(device)
        optimizer = torch.optim.AdamW(diffusion.parameters(), lr=cfg.lr)
        masker = ModalityMasker(replace(cfg.masking, mode="random"), len(channel_groups), 1)

        def step() -> None:
            mask = masker.sample(b, g).to(device)
            t = torch.randint(0, cfg.diffusion.T, (b,), generator=g).to(device)
            noise = torch.randn(x0.shape, generator=g).to(device)
            with ddp.autocast(device):
                loss = diffusion(x0, mask, t=t, noise=noise).total
            _optimizer_step(diffusion, optimizer, loss)

        return diffusion, step

    return Workload("ddpm", b, build)


def bdgf_workload(variant: str, quick: bool, channel_groups: dict[str, int], n_classes: int, device: torch.device) -> Workload:
    from .model import BDGF, ablation
    from .presets import preset
    from .unet import DenoiserUNet

    settings = preset(quick)
    b, p = settings.train.batch_size, settings.patch
    unet_cfg = replace(settings.pretrain.unet, in_channels=sum(channel_groups.values()), modality_channels=tuple(channel_groups.values()))
    guide_channels = list(DenoiserUNet(unet_cfg).feature_channels)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, sum(channel_groups.values()), p, p, generator=g).to(device)
    guides = [torch.randn(b, c, p, p, generator=g).to(device) for c in guide_channels]
    y = torch.randint(0, n_classes, (b,), generator=g).to(device)

    def build() -> tuple[nn.Module, Callable[[], None]]:
        torch.manual_seed(0)
        model = BDGF(ablation(settings.model, variant), channel_groups, guide_channels, n_classes).to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.train.lr)

        def step() -> None:
            with ddp.autocast(device):
                loss, _ = model.loss(model(x, guides), y)
            _optimizer_step(model, optimizer, loss)

        return model, step

    return Workload(variant, b, build)


def measure_training(work: Workload, device: torch.device, repeats: int, steps: int) -> dict[str, Any]:
    """Samples/s, FLOPs, FLOP/s (and fraction of the fp32 matmul timed in turn), peak memory."""
    with PeakMemory(device) as peak:
        model, step = work.build()
        for _ in range(2):  # warm-up: allocator, oneDNN primitives, numba compile
            step()
    with FlopCounterMode(display=False) as counter:
        step()
    flops = float(counter.get_total_flops())
    mm, mm_flops = matmul_call(device)
    mm()

    def steps_call() -> None:
        for _ in range(steps):
            step()

    seconds = interleaved_medians({"step": steps_call, "matmul": mm}, repeats, device)
    step_s = seconds["step"] / steps
    matmul_flops = mm_flops / seconds["matmul"]
    out = {
        "batch": work.batch, "parameters": sum(p.numel() for p in model.parameters()), "step_s": step_s,
        "samples_per_s": work.batch / step_s, "flops_per_step": flops, "achieved_flops": flops / step_s,
        "matmul_fp32_flops": matmul_flops, "fraction_of_matmul": flops / step_s / matmul_flops,
        "peak_memory_mb": None if peak.bytes is None else peak.bytes / 2**20, "memory_method": peak.method,
    }
    del model, step
    return out


def training_section(quick: bool, device: torch.device, repeats: int, steps: int, image: np.ndarray, channel_groups: dict[str, int], n_classes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"ddpm": measure_training(ddpm_workload(quick, image, channel_groups, device), device, repeats, steps)}
    try:
        works = [bdgf_workload(v, quick, channel_groups, n_classes, device) for v in BRANCH_MODELS]
    except ImportError as err:  # the classifier is not part of this checkout
        return {**out, **{v: {"unavailable": f"bdgf_nb.model cannot be imported: {err}"} for v in BRANCH_MODELS}}
    for work in works:
        out[work.name] = measure_training(work, device, repeats, steps)
    return out


def features_section(quick: bool, image: np.ndarray, channel_groups: dict[str, int], device: torch.device, repeats: int) -> tuple[dict[str, Any], list[np.ndarray]]:
    """A cache miss (extract + write) and a hit, in turn; the denoiser is untrained (same cost)."""
    from .features import cached_features, extract_features, feature_cache_key
    from .presets import preset
    from .pretrain import build_diffusion

    settings = preset(quick)
    torch.manual_seed(0)
    diffusion = build_diffusion(settings.pretrain, channel_groups).eval()
    key = feature_cache_key("bench", tuple(image.shape), settings.features, diffusion)
    folder = Path(tempfile.mkdtemp(prefix="bdgf-bench-cache-"))
    maps: list[np.ndarray] = []
    try:
        def miss() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            maps[:] = cached_features(folder, key, lambda: extract_features(diffusion, image, settings.features, progress=False, device=device))[0]

        def hit() -> None:
            assert cached_features(folder, key, lambda: [])[1]

        seconds = interleaved_medians({"miss": miss, "hit": hit}, repeats, device)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pixels = image.shape[1] * image.shape[2]
    return {
        "scene": list(image.shape), "timesteps": list(settings.features.timesteps), "tile": settings.features.tile,
        "uncached_s": seconds["miss"], "cached_s": seconds["hit"], "cache_speedup": seconds["miss"] / seconds["hit"],
        "uncached_pixels_per_s": pixels / seconds["miss"], "map_channels": [m.shape[0] for m in maps],
    }, maps


def inference_section(quick: bool, image: np.ndarray, channel_groups: dict[str, int], n_classes: int, guides: list[np.ndarray], device: torch.device, repeats: int) -> dict[str, Any]:
    """Class probabilities for every pixel of the scene (patch + guides around each)."""
    try:
        from .model import BDGF
    except ImportError as err:
        return {"unavailable": f"bdgf_nb.model cannot be imported: {err}"}
    from .patches import PatchDataset, pixels_of
    from .presets import preset
    from .train import predict

    settings = preset(quick)
    torch.manual_seed(0)
    model = BDGF(settings.model, channel_groups, [g.shape[0] for g in guides], n_classes).to(device)
    everything = np.ones(image.shape[1:], dtype=bool)
    dataset = PatchDataset(image, pixels_of(everything), np.ones(int(everything.sum()), np.int64), settings.patch, guides)
    predict(model, torch.utils.data.Subset(dataset, range(0)) if False else dataset, batch_size=512) if False else None
    seconds = interleaved_medians({"predict": lambda: predict(model, dataset, batch_size=512)}, repeats, device)["predict"]
    return {"pixels": len(dataset), "batch_size": 512, "seconds": seconds, "pixels_per_s": len(dataset) / seconds}
