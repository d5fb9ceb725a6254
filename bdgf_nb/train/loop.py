"""The one training skeleton both loops plug into: resume, epochs, early stopping, checkpoint.

    state = run_epochs(train_epoch, parts, LoopConfig(epochs, monitor, patience), checkpoint, record)

`train_epoch(epoch) -> row` is the only thing a loop brings: its steps over one epoch and its
evaluation, returning the epoch's history row. The skeleton owns the rest (nanoGPT's loop
shape): exact resume from an atomic checkpoint of {model, optimiser, generator, RNG, extras,
loop state}, the progress bar, early stopping on `row[monitor]` with the best weights kept,
and the DDP discipline (rank 0 alone shows progress and writes; the others wait).

`optimizer_step` is the step both loops and `bdgf-bench` share: zero_grad, backward, clip, step.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from bdgf_nb.checkpoint import (
    capture_rng_state,
    load_module_state,
    restore_rng_state,
    resume_state,
    save_checkpoint,
)
from bdgf_nb.errors import CheckpointError, ConfigError, expect
from bdgf_nb.train import distributed as ddp


def optimizer_step(
    loss: torch.Tensor, parameters: Iterable[nn.Parameter], optimizer: torch.optim.Optimizer, grad_clip: float
) -> None:
    """One update: gradients of `loss`, their global norm clipped to `grad_clip`, AdamW step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()


def lr_at(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Linear warm-up, then cosine decay to 5% of the base rate."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


@dataclass(frozen=True)
class LoopConfig:
    """epochs: the run's length; monitor: a history key to select the best epoch on (higher is
    better) and stop early on, or None (keep the last weights, never stop early); patience:
    epochs without a counted gain in `monitor` before stopping; min_gain: a value counts as a gain
    (and resets the patience count) only when it beats the last counted value by more than this
    (the monitor's units), so a run creeping up by tenths stops; the best weights kept are still
    the best seen, counted or not. min_gain 0 is the classic rule (any gain counts)."""

    epochs: int
    monitor: str | None = None
    patience: int | None = None
    desc: str = "train"
    min_gain: float = 0.0

    def __post_init__(self) -> None:
        expect(self.epochs >= 1, ConfigError, f"LoopConfig.epochs must be >= 1, found {self.epochs}")
        expect(
            (self.monitor is None) == (self.patience is None),
            ConfigError,
            f"LoopConfig: monitor and patience go together, found monitor={self.monitor!r}, patience={self.patience!r}",
        )
        expect(self.min_gain >= 0, ConfigError, f"LoopConfig.min_gain must be >= 0, found {self.min_gain}")


@dataclass
class LoopState:
    """What the skeleton itself checkpoints. best_model: the monitored best weights (None
    without a monitor)."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = 0
    best_model: dict[str, Any] | None = None
    stale: int = 0
    counted_score: float = -math.inf  # the last monitored value that counted as a gain (LoopConfig.min_gain)
    seconds: float = 0.0  # wall time of this process's epochs (not saved across a resume)

    def to_dict(self) -> dict[str, Any]:
        """Shallow: the checkpoint writer serialises the tensors; no deep copy here."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "seconds"}


@dataclass
class Parts:
    """The objects a checkpoint saves and a resume restores: the trained module, its optimiser,
    the loop's generator (data order, masks, noise), and named extras with
    state_dict / load_state_dict (an EMA copy, the masker)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    extras: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "rng": capture_rng_state(),
            "extras": {name: part.state_dict() for name, part in self.extras.items()},
        }

    def load(self, saved: dict[str, Any], where: str) -> None:
        expect(
            {"model", "optimizer", "generator", "rng", "extras", "loop"} <= set(saved),
            CheckpointError,
            f"{where}: written by an older bdgf_nb (keys {sorted(saved)}); delete it or use another out_dir",
        )
        load_module_state(self.model, saved["model"], where)
        self.optimizer.load_state_dict(saved["optimizer"])
        for name, part in self.extras.items():
            if isinstance(part, nn.Module):
                load_module_state(part, saved["extras"][name], f"{where} ({name})")
            else:
                part.load_state_dict(saved["extras"][name])
        self.generator.set_state(saved["generator"])
        restore_rng_state(saved["rng"])


def run_epochs(
    train_epoch: Callable[[int], dict[str, float]],
    parts: Parts,
    cfg: LoopConfig,
    checkpoint: str | Path | None = None,
    record: dict[str, Any] | None = None,
    progress: bool = True,
    resume: bool = True,
    stop_after_epoch: int | None = None,
    postfix: Callable[[dict[str, float]], dict[str, str]] | None = None,
) -> LoopState:
    """Run `train_epoch` for the remaining epochs of `cfg` and return the loop state.

    With `checkpoint` (and `resume`), a checkpoint of the same `record` (config and data) found
    there is resumed exactly, one of another record raises CheckpointError, a damaged one is set
    aside with a warning. `stop_after_epoch` ends early as an interruption would (tests of
    resume). With a monitor, the best weights are loaded into `parts.model` at the end."""
    ckpt = Path(checkpoint) if checkpoint is not None else None
    record = record if record is not None else {}
    state = LoopState()
    saved = resume_state(ckpt, record) if resume else None  # every rank reads it
    if saved is not None:
        parts.load(saved, f"checkpoint {ckpt}")
        state = LoopState(**saved["loop"])
    last = cfg.epochs if stop_after_epoch is None else min(cfg.epochs, stop_after_epoch)
    start = time.perf_counter()
    bar = tqdm(
        range(state.epoch, last),
        desc=cfg.desc,
        disable=not (progress and ddp.is_main()),
        initial=state.epoch,
        total=cfg.epochs,
    )
    for epoch in bar:
        if cfg.patience is not None and state.stale >= cfg.patience:
            break
        row = train_epoch(epoch)
        state.history.append(row)
        if cfg.monitor is not None:
            value = row[cfg.monitor]
            if value > state.best_score:
                state.best_score, state.best_epoch = value, epoch + 1
                state.best_model = copy.deepcopy(parts.model.state_dict())
            if value > state.counted_score + cfg.min_gain:
                state.counted_score, state.stale = value, 0
            else:
                state.stale += 1
        state.epoch = epoch + 1
        if postfix is not None:
            bar.set_postfix(postfix(row))
        if ckpt is not None and ddp.is_main():
            save_checkpoint(ckpt, {**parts.state(), "loop": state.to_dict()}, record)
        ddp.barrier()  # the others wait for rank 0's checkpoint
    if state.best_model is not None:
        parts.model.load_state_dict(state.best_model)
    state.seconds = time.perf_counter() - start
    return state
