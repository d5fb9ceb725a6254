"""Where tensors run and how the optimiser steps there: device choice, bf16 autocast, AdamW.

`pick_device` takes the rank's GPU when CUDA is available, else the CPU; `autocast` enables bf16
mixed precision on CUDA only (bf16 needs no loss scaling; CPU training stays fp32, where bf16
autocast was not faster here and costs precision).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """`device` if given, else this rank's CUDA device when CUDA is available, else CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA devices that support it; a no-op context elsewhere (CPU: fp32)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def adamw(params: Iterable[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with the fused kernel (one call updates every tensor) where torch has one for the
    parameters' device (CPU from torch 2.4, CUDA), else torch's default: for quick BDGF's 202
    tensors the fused step took 2.5 ms against 4.2 ms, about 1 % of a training step."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except RuntimeError:  # no fused kernel for this device in this torch
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
