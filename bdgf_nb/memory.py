"""Memory guards: refuse a scene or a training run that will not fit, before it starts.

Each estimate is a simple, documented count of the big buffers (not a profiler); `check_memory`
compares one with the memory available now and raises ResourceError giving both, so a user
learns in a second what an out-of-memory kill would tell them after an hour, or never (the
kernel's OOM killer leaves no traceback). Set BDGF_SKIP_MEMORY_CHECK=1 to bypass the check when
the estimate is wrong for your machine (e.g. swap is acceptable).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bdgf_nb.errors import ResourceError

SKIP_ENV = "BDGF_SKIP_MEMORY_CHECK"
_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def _cgroup_free() -> int | None:
    """Bytes left under this container's cgroup memory limit (v2, then v1), None without one."""
    for limit_file, usage_file in (
        (_CGROUP_V2 / "memory.max", _CGROUP_V2 / "memory.current"),
        (_CGROUP_V1 / "memory.limit_in_bytes", _CGROUP_V1 / "memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:  # v1 reports "no limit" as ~2**63
            return max(0, limit - usage)
    return None


def available_bytes() -> int | None:
    """Memory this process can still allocate: MemAvailable of /proc/meminfo (os.sysconf's free
    pages where there is no /proc), capped by a container's cgroup limit; None when unknown."""
    free: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        free = None
    if free is None and hasattr(os, "sysconf"):
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            free = None
    cgroup = _cgroup_free()
    if cgroup is not None:
        free = cgroup if free is None else min(free, cgroup)
    return free


def format_bytes(n: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while abs(n) >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.1f} {units[i]}"


def check_memory(needed: int, what: str, hint: str = "", device: str | torch.device | None = None) -> None:
    """Raise ResourceError when `needed` bytes exceed the memory available now: on a CUDA
    `device` its free memory, otherwise the host's (see module doc)."""
    if os.environ.get(SKIP_ENV, "") not in ("", "0"):
        return
    if device is not None and torch.device(device).type == "cuda":
        free: int | None = torch.cuda.mem_get_info(torch.device(device))[0]
    else:
        free = available_bytes()
    if free is not None and needed > free:
        raise ResourceError(
            f"{what} needs about {format_bytes(needed)} of memory, found {format_bytes(free)} available"
            f"{'; ' + hint if hint else ''} (set {SKIP_ENV}=1 to try anyway)"
        )


def scene_bytes(height: int, width: int, channels: int, patch: int = 11) -> int:
    """Peak float32 bytes of one scene on its way to patches: the modalities as read, the stacked
    (H, W, C) copy, the standardised (C, H, W) image, and its reflect-padded tensor that
    PatchDataset gathers from (3 H W C + (H + 2r)(W + 2r) C floats, r = patch // 2)."""
    r = patch // 2
    return 4 * channels * (3 * height * width + (height + 2 * r) * (width + 2 * r))


def training_bytes(
    model: torch.nn.Module, sample_forward: Callable[[], Any], sample_size: int, batch_size: int, weight_copies: int = 4
) -> int:
    """Bytes to train `model` with batches of `batch_size`.

    weights: `weight_copies` float copies of the parameters (weights, gradients, AdamW's two
    moments; add one for an EMA). activations: the outputs of every leaf module during
    `sample_forward()` (a forward on `sample_size` samples, run in eval mode without gradients,
    so it changes no state and draws no random numbers), per sample, times `batch_size`, doubled
    for the gradients of the backward pass."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) * weight_copies
    seen = [0]

    def count(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        outputs = output if isinstance(output, list | tuple) else [output]
        seen[0] += sum(o.numel() * o.element_size() for o in outputs if isinstance(o, torch.Tensor))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            sample_forward()
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return weights + 2 * seen[0] * batch_size // max(1, sample_size)
