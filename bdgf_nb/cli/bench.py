"""`bdgf-bench`: how fast each part of BDGF runs, and how close training gets to the machine's limit.

    bdgf-bench [--quick] [--out outputs/bench.json] [--threads N] [--device cpu|cuda] [--preset quick|full|paper]
               [--profile]

Figures that are compared are measured side by side in one run: the timed calls alternate
(a, b, a, b, ...) and medians are reported, so a busy shared machine slows both sides alike.
JSON sections (a table of the headline figures is printed too):

machine    versions, device, threads, `openmp` (the wait-policy variables it ran under: from the
           command line, OMP_WAIT_POLICY=PASSIVE plus GOMP_SPINCOUNT=30000 unless the user set
           either; bdgf_nb.openmp), `matmul_flops`: FLOP/s of a large fp32 torch.matmul, our
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
inference  whole-scene classification map: pixels/s of BDGF through `evaluate.maps.predict_map`.
pipeline   wall seconds per stage of the quick pipeline on the synthetic scene (prepare, DDPM
           pretraining, features, BDGF training, scene map); --quick shortens its epochs;
           with --profile, `profile`: the top operators of its slowest stage (torch.profiler).
step_profile (--profile) one BDGF training step cut into its parts: data + guide patches, each
           branch's forward and backward, the mutual loss, clipping + AdamW; seconds and share.
Every key is listed in docs/BENCH.md.

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
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bdgf_nb import openmp
from bdgf_nb.cli.bench_scan import interleaved_medians, measure_scan
from bdgf_nb.device import adamw, pick_device
from bdgf_nb.pipeline.presets import Preset
from bdgf_nb.storage import atomic_write_json

if TYPE_CHECKING:
    from bdgf_nb.model.bdgf import BDGF

# FLOPs one state update (one (b, t, d, n) element) costs in the fused kernels of scan.py, exp
# counted at its polynomial's cost (~15: range reduction, degree-7 polynomial, scaling).
# forward: delta*A 1, exp 15, h = dA*h + (delta*u)*B 3, y += C*h 2.
# backward: recompute h (19) + reverse pass: exp again 16, g 2, d(delta*A) 2, d-delta 5, dA 2,
# du 2, g carry 1, dC and dB dot products 4 -> 53; forward+backward = 21 + 53.
SCAN_FLOPS_PER_UPDATE = {"fwd": 21, "fwd_bwd": 74}
BRANCH_MODELS = ("cnn_only", "mamba_only", "transformer_only", "bdgf")
# The Mamba branch's real sequence lengths (SpectralTokens.length): 6 tokens on houston2018_west,
# 17 on the synthetic scene (64 bands in 16 groups + one LiDAR token).
MODEL_LENGTHS = (6, 17)


# ---------------------------------------------------------------------------------------------
# Measuring tools
# ---------------------------------------------------------------------------------------------


def _rss_bytes() -> int | None:
    """Resident set size of this process (Linux), None elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _trim_heap() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """`with PeakMemory(device) as peak:` ... then `peak.bytes` (None when unmeasurable) and
    `peak.method` (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self._peak, self._stop = device, 0, threading.Event()
        self.bytes: int | None = None
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
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "openmp": openmp.current(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    dtypes = {"fp32": torch.float32, **({"bf16": torch.bfloat16} if device.type == "cuda" else {})}
    for tag, dtype in dtypes.items():
        call, flops = matmul_call(device, dtype)
        call()  # warm-up
        out[f"matmul_{tag}_flops"] = flops / interleaved_medians({"mm": call}, repeats, device)["mm"]
    out["matmul_flops"] = out["matmul_fp32_flops"]
    return out


def scan_section(
    device: torch.device, lengths: tuple[int, ...], repeats: int, matmul_flops: float
) -> list[dict[str, Any]]:
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


def ddpm_workload(
    settings: Preset, image: np.ndarray, channel_groups: dict[str, int], device: torch.device
) -> Workload:
    from bdgf_nb.data.patches import unlabelled_patches
    from bdgf_nb.ddpm.masking import ModalityMasker
    from bdgf_nb.train.pretrain import build_diffusion, ddpm_step

    cfg, b = settings.pretrain, settings.pretrain.batch_size
    x0 = unlabelled_patches(image, b, settings.patch).to(device)
    g = torch.Generator().manual_seed(0)

    def build() -> tuple[nn.Module, Callable[[], None]]:
        torch.manual_seed(0)
        diffusion = build_diffusion(cfg, channel_groups).to(device)
        optimizer = adamw(diffusion.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # as pretrain() does
        masker = ModalityMasker(replace(cfg.masking, mode="random"), len(channel_groups), 1)

        def step() -> None:
            mask = masker.sample(b, g)
            t = torch.randint(0, cfg.diffusion.T, (b,), generator=g)
            noise = torch.randn(x0.shape, generator=g)
            ddpm_step(
                diffusion, diffusion, x0, mask, t, noise, ((~mask).sum(0), mask.sum(0)), optimizer, cfg
            )  # pretrain()'s

        return diffusion, step

    return Workload("ddpm", b, build)


def bdgf_workload(
    variant: str, settings: Preset, channel_groups: dict[str, int], n_classes: int, device: torch.device
) -> Workload:
    from bdgf_nb.ddpm.unet import DenoiserUNet
    from bdgf_nb.model.bdgf import BDGF, ablation
    from bdgf_nb.train.classifier import classifier_step

    b, p = settings.train.batch_size, settings.patch
    unet_cfg = replace(
        settings.pretrain.unet,
        in_channels=sum(channel_groups.values()),
        modality_channels=tuple(channel_groups.values()),
    )
    guide_channels = list(DenoiserUNet(unet_cfg).feature_channels)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, sum(channel_groups.values()), p, p, generator=g).to(device)
    guides = [torch.randn(b, c, p, p, generator=g).to(device) for c in guide_channels]
    y = torch.randint(0, n_classes, (b,), generator=g).to(device)

    def build() -> tuple[nn.Module, Callable[[], None]]:
        torch.manual_seed(0)
        model = BDGF(ablation(settings.model, variant), channel_groups, guide_channels, n_classes).to(device).train()
        optimizer = adamw(
            model.parameters(), lr=settings.train.lr, weight_decay=settings.train.weight_decay
        )  # as train_classifier() does

        def step() -> None:
            classifier_step(model, model, x, guides, y, optimizer, settings.train)  # train_classifier()'s step

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
        "batch": work.batch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_s": step_s,
        "samples_per_s": work.batch / step_s,
        "flops_per_step": flops,
        "achieved_flops": flops / step_s,
        "matmul_fp32_flops": matmul_flops,
        "fraction_of_matmul": flops / step_s / matmul_flops,
        "peak_memory_mb": None if peak.bytes is None else peak.bytes / 2**20,
        "memory_method": peak.method,
    }
    return out


def training_section(
    settings: Preset,
    device: torch.device,
    repeats: int,
    steps: int,
    image: np.ndarray,
    channel_groups: dict[str, int],
    n_classes: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ddpm": measure_training(ddpm_workload(settings, image, channel_groups, device), device, repeats, steps)
    }
    try:
        works = [bdgf_workload(v, settings, channel_groups, n_classes, device) for v in BRANCH_MODELS]
    except ImportError as err:  # the classifier is not part of this checkout
        return {**out, **{v: {"unavailable": f"bdgf_nb.model.bdgf cannot be imported: {err}"} for v in BRANCH_MODELS}}
    for work in works:
        out[work.name] = measure_training(work, device, repeats, steps)
    return out


def features_section(
    settings: Preset, image: np.ndarray, channel_groups: dict[str, int], device: torch.device, repeats: int
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """A cache miss (extract + write) and a hit, in turn; the denoiser is untrained (same cost)."""
    from bdgf_nb.ddpm.features import cached_features, extract_features, feature_cache_key
    from bdgf_nb.train.pretrain import build_diffusion

    torch.manual_seed(0)
    diffusion = build_diffusion(settings.pretrain, channel_groups).eval()
    reading = settings.features.at_patch(settings.patch)  # as the pipeline reads them: at the training patch
    key = feature_cache_key("bench", tuple(image.shape), reading, diffusion)
    folder = Path(tempfile.mkdtemp(prefix="bdgf-bench-cache-"))
    maps: list[np.ndarray] = []
    try:

        def miss() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            maps[:] = cached_features(
                folder, key, lambda: extract_features(diffusion, image, reading, progress=False, device=device)
            )[0]

        def hit() -> None:
            assert cached_features(folder, key, lambda: [])[1]

        seconds = interleaved_medians({"miss": miss, "hit": hit}, repeats, device)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pixels = image.shape[1] * image.shape[2]
    return {
        "scene": list(image.shape),
        "timesteps": list(reading.timesteps),
        "tile": reading.tile,
        "uncached_s": seconds["miss"],
        "cached_s": seconds["hit"],
        "cache_speedup": seconds["miss"] / seconds["hit"],
        "uncached_pixels_per_s": pixels / seconds["miss"],
        "map_channels": [m.shape[0] for m in maps],
    }, maps


def inference_section(
    settings: Preset,
    image: np.ndarray,
    channel_groups: dict[str, int],
    n_classes: int,
    guides: list[np.ndarray],
    device: torch.device,
    repeats: int,
) -> dict[str, Any]:
    """The whole-scene map of an untrained BDGF (it costs what a trained one does) through
    `evaluate.maps.predict_map`: pixels per second."""
    try:
        from bdgf_nb.model.bdgf import BDGF
    except ImportError as err:
        return {"unavailable": f"bdgf_nb.model.bdgf cannot be imported: {err}"}
    from bdgf_nb.evaluate.maps import predict_map

    torch.manual_seed(0)
    model = BDGF(settings.model, channel_groups, [g.shape[0] for g in guides], n_classes).to(device)
    rows = 2 * settings.patch  # warm-up on a band of the scene, tall enough for a patch
    predict_map(model, image[:, :rows], settings.patch, [g[:, :rows] for g in guides])
    seconds = interleaved_medians({"map": lambda: predict_map(model, image, settings.patch, guides)}, repeats, device)[
        "map"
    ]
    pixels = int(image.shape[1] * image.shape[2])
    return {"pixels": pixels, "map_seconds": seconds, "map_pixels_per_s": pixels / seconds}


GUIDANCE_MODULES = ("FeatureFusion", "GroupChannelAttention", "CrossAttention")


def _step_parts(
    model: BDGF,
    dataset: Any,
    index: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    grad_clip: float,
    times: dict[str, float],
    device: torch.device,
) -> None:
    """One BDGF training step cut at its seams, each part timed into `times`: the same arithmetic
    as `classifier_step` (forward, `model.loss`, backward, clipping, AdamW), with the backward
    split per branch by stopping autograd at the branch outputs (f_k, z_k)."""
    from bdgf_nb.device import autocast
    from bdgf_nb.model.bdgf import BDGFOutput
    from bdgf_nb.model.ensemble import ensemble_probabilities

    with _stopwatch(times, "data", device):  # PatchDataset.batch: patches + guide patches
        x, guides, y = dataset.batch(index)
        x, guides, y = x.to(device), [g.to(device) for g in guides], y.to(device)
    outputs = {}
    for name, branch in model.branches.items():
        with _stopwatch(times, f"{name}_forward", device), autocast(device):
            outputs[name] = branch(x, guides)
    leaves = {name: tuple(t.detach().requires_grad_() for t in out) for name, out in outputs.items()}
    with _stopwatch(times, "mutual_loss", device):  # projection heads, ensemble, loss: forward + backward to (f_k, z_k)
        with autocast(device):
            features, logits = [f for f, _ in leaves.values()], [z for _, z in leaves.values()]
            projections = (
                [model.projections[n](f) for n, f in zip(leaves, features, strict=True)]
                if len(model.projections)
                else []
            )
            probabilities = ensemble_probabilities(logits, model.cfg.ensemble, model.ensemble_weights)
            loss, _ = model.loss(BDGFOutput(logits, features, probabilities, tuple(leaves), projections), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    for name, out in outputs.items():
        with _stopwatch(times, f"{name}_backward", device):
            pairs = [(t, leaf.grad) for t, leaf in zip(out, leaves[name], strict=True) if leaf.grad is not None]
            torch.autograd.backward([t for t, _ in pairs], [g for _, g in pairs])
    with _stopwatch(times, "optimizer", device):
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()


def _guidance_calls(model: nn.Module, x: torch.Tensor, guides: list[torch.Tensor]) -> dict[str, Callable[[], None]]:
    """Forward and forward+backward of every guidance module on the inputs it received in one
    model forward (captured by hooks), as zero-argument calls."""
    captured: list[tuple[nn.Module, tuple[Any, ...]]] = []
    hooks = [
        m.register_forward_hook(
            lambda m, args, out: captured.append((m, tuple(a.detach() if torch.is_tensor(a) else a for a in args)))
        )
        for m in model.modules()
        if type(m).__name__ in GUIDANCE_MODULES and getattr(m, "enabled", False)
    ]
    model(x, guides)
    for hook in hooks:
        hook.remove()

    def forward() -> None:
        for module, args in captured:
            module(*args)

    def forward_backward() -> None:
        for module, args in captured:
            leaf = args[0].requires_grad_()
            module(leaf, *args[1:]).sum().backward()
            leaf.requires_grad_(False)

    return {"guidance_forward": forward, "guidance_forward_backward": forward_backward}


def step_profile_section(
    settings: Preset,
    image: np.ndarray,
    labels: np.ndarray,
    channel_groups: dict[str, int],
    n_classes: int,
    device: torch.device,
    repeats: int,
) -> dict[str, Any]:
    """Where one BDGF training step (the preset's sizes and batch) spends its time: data and
    guide-patch gathering, each branch's forward and backward, the mutual loss (with projection
    heads and ensemble), clipping + AdamW. Parts are medians over `repeats` steps; `real_step_s`
    is `classifier_step` timed in turn with them, so the parts' sum can be checked against it.
    `included_in_branches`: the guidance modules alone (already inside the branch parts)."""
    from bdgf_nb.data.patches import PatchDataset, pixels_of
    from bdgf_nb.ddpm.unet import DenoiserUNet
    from bdgf_nb.model.bdgf import BDGF
    from bdgf_nb.train.classifier import classifier_step

    b, cfg = settings.train.batch_size, settings.train
    unet_cfg = replace(
        settings.pretrain.unet,
        in_channels=sum(channel_groups.values()),
        modality_channels=tuple(channel_groups.values()),
    )
    guide_channels = list(DenoiserUNet(unet_cfg).feature_channels)
    rng = np.random.default_rng(0)
    guide_maps = [
        rng.standard_normal((c, *image.shape[1:]), dtype=np.float32) for c in guide_channels
    ]  # values irrelevant to speed
    pixels = pixels_of(labels > 0)
    dataset = PatchDataset(image, pixels, labels[labels > 0].astype(np.int64), settings.patch, guide_maps)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = BDGF(settings.model, channel_groups, guide_channels, n_classes).to(device).train()
    optimizer = adamw(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    parts: dict[str, list[float]] = {}

    def decomposed() -> None:
        times: dict[str, float] = {}
        _step_parts(
            model, dataset, torch.randint(0, len(dataset), (b,), generator=g), optimizer, cfg.grad_clip, times, device
        )
        for name, seconds in times.items():
            parts.setdefault(name, []).append(seconds)

    def real() -> None:
        x, guides, y = dataset.batch(torch.randint(0, len(dataset), (b,), generator=g))
        classifier_step(model, model, x, guides, y, optimizer, cfg)

    x, guides, _ = dataset.batch(torch.arange(b))
    calls = {
        "decomposed": decomposed,
        "real": real,
        **_guidance_calls(model, x.to(device), [t.to(device) for t in guides]),
    }
    for call in calls.values():  # warm-up: allocator, oneDNN primitives, numba compile
        call()
    parts.clear()
    seconds = interleaved_medians(calls, repeats, device)
    medians = {name: float(np.median(v)) for name, v in parts.items()}
    step_s = sum(medians.values())
    guidance = {
        "guidance_forward": seconds["guidance_forward"],
        "guidance_backward": max(0.0, seconds["guidance_forward_backward"] - seconds["guidance_forward"]),
    }
    return {
        "batch": b,
        "preset": settings.name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "repeats": repeats,
        "parts": {name: {"s": s, "share": s / step_s} for name, s in medians.items()},
        "step_s": step_s,
        "real_step_s": seconds["real"],
        "samples_per_s": b / step_s,
        "included_in_branches": {name: {"s": s, "share": s / step_s} for name, s in guidance.items()},
    }


def pipeline_section(quick: bool, device: torch.device, profile: bool) -> dict[str, Any]:
    """Wall seconds of each stage of the quick pipeline (pipeline/steps.py, as the notebooks run it) on
    the synthetic scene, in a fresh folder. --quick: 2 DDPM and 2 classifier epochs instead of
    the quick preset's. --profile: torch.profiler's top operators of the slowest stage, rerun."""
    from bdgf_nb.pipeline import steps
    from bdgf_nb.pipeline.context import RunContext
    from bdgf_nb.pipeline.presets import preset
    from bdgf_nb.pipeline.variants import BDGF_VARIANT

    folder = Path(tempfile.mkdtemp(prefix="bdgf-bench-pipeline-"))
    settings = preset("quick")  # the pipeline stage always times the quick sizes
    if quick:  # the real code path, on a shortened preset passed down like any run's
        settings = replace(
            settings, pretrain=replace(settings.pretrain, epochs=2), train=replace(settings.train, epochs=2)
        )
    ctx = RunContext("synthetic", settings, seed=0, out_dir=folder / "run")

    stages: dict[str, Callable[[], Any]] = {}
    state: dict[str, Any] = {}
    stages["prepare"] = lambda: state.update(prepared=steps.prepare(ctx))
    stages["pretrain_ddpm"] = lambda: state.update(
        ddpm=steps.pretrain_ddpm(ctx, state["prepared"], "adaptive", progress=False)
    )
    stages["features"] = lambda: state.update(
        features=steps.extract_diffusion_features(ctx, state["prepared"], state["ddpm"], progress=False)
    )
    stages["train_bdgf"] = lambda: state.update(
        run=steps.train_variant(ctx, state["prepared"], state["features"], BDGF_VARIANT, progress=False)
    )
    stages["scene_map"] = lambda: steps.predict_scene(state["prepared"], state["run"], state["features"])
    seconds: dict[str, float] = {}
    try:
        for name, stage in stages.items():
            with _stopwatch(seconds, name, device):
                stage()
        slowest = max(seconds, key=seconds.__getitem__)
        out: dict[str, Any] = {
            "stages_s": seconds,
            "total_s": sum(seconds.values()),
            "slowest": slowest,
            "epochs": "2 + 2 (shortened by --quick)" if quick else "quick preset",
            "bdgf_test_oa": state["run"].report["overall_accuracy"],
        }
        if profile:
            shutil.rmtree(folder / "run", ignore_errors=True)  # rerun from scratch, not from checkpoints
            for name, stage in stages.items():
                if name == slowest:
                    out["profile"] = _profile(stage)
                    break
                stage()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _profile(stage: Callable[[], Any], rows: int = 15) -> list[dict[str, Any]]:
    """Top operators of one run of `stage` by self time (CPU, and CUDA when present)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        stage()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {
            "op": e.key,
            "calls": e.count,
            "self_cpu_s": e.self_cpu_time_total / 1e6,
            "share": e.self_cpu_time_total / total,
        }
        for e in events[:rows]
    ]


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def run_bench(
    quick: bool,
    device: torch.device,
    profile: bool = False,
    sections: tuple[str, ...] = ("scan", "training", "features", "inference", "pipeline"),
    preset_name: str | None = None,
) -> dict[str, Any]:
    """Every section of the module docstring; `quick` shrinks repeats, lengths and epochs.
    `preset_name` sizes the training, profile, features and inference sections (default: quick
    with `quick`, else full); the pipeline section always runs the quick preset."""
    from bdgf_nb.pipeline.context import RunContext
    from bdgf_nb.pipeline.presets import preset
    from bdgf_nb.pipeline.steps import prepare

    name = preset_name or ("quick" if quick else "full")
    ctx = RunContext("synthetic", preset(name), seed=0)
    settings = ctx.preset
    repeats = 3 if quick else 5
    started = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "preset": name, "machine": machine_section(device, repeats)}
    prepared = prepare(ctx)
    image, groups, n_classes = prepared.image, prepared.channel_groups, prepared.n_classes
    if profile:
        report["step_profile"] = step_profile_section(
            settings, image, prepared.labels, groups, n_classes, device, 5 if quick else 10
        )
    if "scan" in sections:
        lengths = MODEL_LENGTHS + ((32, 128) if quick else (16, 32, 64, 128, 256))
        report["scan"] = scan_section(device, lengths, repeats, report["machine"]["matmul_flops"])
    if "training" in sections:
        report["training"] = training_section(settings, device, repeats, 1 if quick else 3, image, groups, n_classes)
    guides: list[np.ndarray] = []
    if "features" in sections:
        report["features"], guides = features_section(settings, image, groups, device, 1 if quick else 3)
    if "inference" in sections:
        if not guides:  # guides of the right shapes, values irrelevant to the speed
            from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig

            unet_cfg = settings.pretrain.unet
            unet = DenoiserUNet(
                UNetConfig(
                    in_channels=image.shape[0], base_width=unet_cfg.base_width, channel_mults=unet_cfg.channel_mults
                )
            )
            guides = [np.zeros((c, *image.shape[1:]), np.float32) for c in unet.feature_channels]
        report["inference"] = inference_section(settings, image, groups, n_classes, guides, device, 1 if quick else 3)
    if "pipeline" in sections:
        report["pipeline"] = pipeline_section(quick, device, profile)
    report["bench_seconds"] = time.perf_counter() - started
    return _round(report)


def _table(report: dict[str, Any]) -> str:
    """The headline figures as aligned text."""
    m = report["machine"]
    wait = " ".join(f"{k}={v}" for k, v in m.get("openmp", {}).items() if v is not None) or "libgomp default"
    lines = [
        f"preset {report.get('preset', '-')}  device {m['device']}  threads {m['threads']}  "
        f"{wait}  fp32 matmul {m['matmul_flops'] / 1e9:.1f} GFLOP/s  torch {m['torch']}"
    ]
    if "scan" in report:
        lines.append("\nselective scan (b 256, d 64, n 16)   default vs reference")
        lines.append(
            f"{'length':>8} {'path':>10} {'fwd x':>8} {'fwd+bwd x':>10} "
            f"{'fwd+bwd s':>10} {'updates/s':>10} {'of bound':>9} {'max rel err':>12}"
        )
        for r in report["scan"]:
            lines.append(
                f"{r['length']:>8} {r['default_backend']:>10} {r['speedup_fwd']:>8.1f} "
                f"{r['speedup_fwd_bwd']:>10.1f} {r['default_fwd_bwd_s']:>10.4f} "
                f"{r['default_fwd_bwd_state_updates_per_s']:>10.3g} "
                f"{r['default_fwd_bwd_fraction_of_bound']:>9.1%} {r['max_rel_err']:>12.1e}"
            )
    if "step_profile" in report:
        sp = report["step_profile"]
        lines.append(
            f"\none BDGF training step ({sp['preset']} sizes, batch {sp['batch']}): "
            f"parts {sp['step_s'] * 1e3:.1f} ms, classifier_step {sp['real_step_s'] * 1e3:.1f} ms"
        )
        lines.append(f"{'part':>22} {'ms':>8} {'share':>7}")
        for name, r in [*sp["parts"].items(), *(("(" + k + ")", v) for k, v in sp["included_in_branches"].items())]:
            lines.append(f"{name:>22} {r['s'] * 1e3:>8.2f} {r['share']:>7.1%}")
    if "training" in report:
        lines.append("\ntraining step (forward + backward + AdamW)")
        lines.append(
            f"{'model':>18} {'samples/s':>10} {'GFLOP/step':>11} {'GFLOP/s':>8} {'of matmul':>10} {'peak MB':>8}"
        )
        for name, r in report["training"].items():
            if "unavailable" in r:
                lines.append(f"{name:>18}  unavailable: {r['unavailable']}")
                continue
            peak = "-" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:.0f}"
            lines.append(
                f"{name:>18} {r['samples_per_s']:>10.1f} {r['flops_per_step'] / 1e9:>11.2f} "
                f"{r['achieved_flops'] / 1e9:>8.1f} {r['fraction_of_matmul']:>10.1%} {peak:>8}"
            )
    if "features" in report:
        f = report["features"]
        lines.append(
            f"\ndiffusion features {f['scene']}: uncached {f['uncached_s']:.2f} s "
            f"({f['uncached_pixels_per_s']:.0f} px/s), cached {f['cached_s']:.3f} s ({f['cache_speedup']:.0f}x)"
        )
    if "inference" in report:
        i = report["inference"]
        lines.append(
            "\nscene inference: "
            + (
                f"unavailable: {i['unavailable']}"
                if "unavailable" in i
                else f"{i['pixels']} pixels, predict_map {i['map_pixels_per_s']:.0f} px/s"
            )
        )
    if "pipeline" in report:
        p = report["pipeline"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in p["stages_s"].items())
        lines.append(f"\nquick pipeline ({p['epochs']}): {p['total_s']:.1f} s = {stages}; slowest: {p['slowest']}")
    lines.append(f"\nbench took {report['bench_seconds']:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bdgf-bench",
        description="Benchmark BDGF's parts side by side; JSON to --out, a table to the terminal.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="CI size: fewer repeats and lengths, shortened pipeline (~1-2 min)"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench.json"), help="where the JSON goes")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: CUDA when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument(
        "--only", default=None, help="comma-separated sections: scan,training,features,inference,pipeline"
    )
    parser.add_argument(
        "--preset",
        default=None,
        help="sizes of the model sections: quick | full | paper (default: quick with --quick, else full)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="break one BDGF training step into its parts (step_profile) "
        "and profile the slowest pipeline stage (torch.profiler)",
    )
    args = parser.parse_args(argv)
    openmp.apply_shared_default()
    if argv is None and (spin := openmp.exclusive_env()):  # the command line, the user chose no OpenMP policy
        # libgomp reads its variables once, when torch loads (on import of this module): start again
        # with the short spin, since a benchmark has the cores to itself (bdgf_nb.openmp)
        os.execve(sys.executable, [sys.executable, "-m", "bdgf_nb.cli.bench", *sys.argv[1:]], {**os.environ, **spin})
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sections = (
        tuple(s.strip() for s in args.only.split(","))
        if args.only
        else ("scan", "training", "features", "inference", "pipeline")
    )
    report = run_bench(args.quick, pick_device(args.device), args.profile, sections, args.preset)
    atomic_write_json(report, args.out)
    print(_table(report))
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
