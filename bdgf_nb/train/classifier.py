"""One training loop for every classifier (BDGF, its ablations, single branches, CNN baselines).

The model contract: `output = model(x, guides)` with `output.logits` (list of per-branch
(b, n_classes)) and `output.probabilities` (b, n_classes); `loss, parts = model.loss(output, y,
progress)` with `progress` in [0, 1] the fraction of training done (BDGF warms its KL term up on it).
One epoch is `classifier_step` over shuffled (or class-balanced) batches with AdamW, warm-up +
cosine `lr_at(step)` and gradient clipping, then a validation score on a hold-out carved from the
training pixels; the shared skeleton (loop.py) adds early stopping on that score, the best
weights and an atomic checkpoint each epoch that resumes exactly.

Devices and processes (distributed.py): training runs on `pick_device()` (CUDA when present,
bf16 autocast there) and under torchrun with DDP, each rank computing its rows of every global
batch with the loss weighted so that the averaged gradient is the global batch's. Validation
runs on every rank (identical, so early stopping agrees); rank 0 alone logs and checkpoints.
BatchNorm statistics are per rank on CPU (SyncBatchNorm is CUDA-only; on CUDA it is used).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch

from bdgf_nb.config_checks import check_fields
from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.device import adamw, autocast, pick_device
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.evaluate.predict import score
from bdgf_nb.memory import check_memory, training_bytes
from bdgf_nb.metrics import METRICS, SELECTION_METRICS, SHORT_NAMES
from bdgf_nb.train import distributed as ddp
from bdgf_nb.train.loop import LoopConfig, Parts, lr_at, optimizer_step, run_epochs


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 2
    grad_clip: float = 1.0
    patience: int = 10  # epochs without a counted validation gain before stopping
    min_gain: float = 0.0  # a gain counts only above this many score points (0-100 scale; train.loop.LoopConfig)
    select_on: str = "kappa"  # validation score: "oa" | "aa" | "kappa" (kappa: robust to a dominant class)
    class_balanced: bool = False  # sample batches with inverse-frequency weights
    fixed_length: bool = False  # run every epoch and keep the last weights (no early stopping, no selection)
    min_steps: int = 0  # at least this many optimiser steps: epochs are added on small training sets
    val_points: int = 0  # with fixed_length: score validation at about this many epochs (the last always); 0: every
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("epochs", "batch_size", "patience"):
            expect(
                getattr(self, name) >= 1, ConfigError, f"TrainConfig.{name} must be >= 1, found {getattr(self, name)}"
            )
        expect(self.lr > 0, ConfigError, f"TrainConfig.lr must be > 0, found {self.lr}")
        expect(self.weight_decay >= 0, ConfigError, f"TrainConfig.weight_decay must be >= 0, found {self.weight_decay}")
        expect(
            self.warmup_epochs >= 0, ConfigError, f"TrainConfig.warmup_epochs must be >= 0, found {self.warmup_epochs}"
        )
        expect(self.min_gain >= 0, ConfigError, f"TrainConfig.min_gain must be >= 0, found {self.min_gain}")
        expect(self.min_steps >= 0, ConfigError, f"TrainConfig.min_steps must be >= 0, found {self.min_steps}")
        expect(self.val_points >= 0, ConfigError, f"TrainConfig.val_points must be >= 0, found {self.val_points}")
        expect(self.grad_clip > 0, ConfigError, f"TrainConfig.grad_clip must be > 0, found {self.grad_clip}")
        expect(
            self.select_on in SELECTION_METRICS,
            ConfigError,
            f"TrainConfig.select_on must be one of {', '.join(SELECTION_METRICS)}; found {self.select_on!r}",
        )


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


def _batches(n: int, cfg: TrainConfig, targets: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
    if cfg.class_balanced:
        counts = torch.bincount(targets).float()
        weights = (1.0 / counts.clamp(min=1))[targets]
        order = torch.multinomial(weights, n, replacement=True, generator=generator)
    else:
        order = torch.randperm(n, generator=generator)
    return list(order.split(cfg.batch_size))


def train_classifier(
    model: torch.nn.Module,
    train_set: PatchDataset,
    val_set: PatchDataset,
    n_classes: int,
    cfg: TrainConfig,
    checkpoint_path: str | Path | None = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    watch_set: PatchDataset | None = None,
) -> TrainResult:
    """Train with early stopping on the validation score; returns the best-validation model
    (`cfg.fixed_length`: every epoch, the last weights; validation is then only recorded).

    `watch_set` (the test pixels, in docs/experiments/label_efficiency.py only) is scored
    whenever validation is and recorded as `test_<metric>` in the history; it selects nothing and
    stops nothing. It measures how much choosing the best test epoch, as published peers do,
    would inflate a score (docs/PROTOCOL.md, "Best test epoch").

    With `checkpoint_path`, a checkpoint of the same config and data found there is resumed
    exactly (weights, optimiser, best state, RNG), so an interrupted run ends as an uninterrupted
    one; one of another config, model or data raises CheckpointError, a damaged one is set aside
    with a warning. Empty sets, labels above `n_classes` (DataError) and a model whose estimated
    training memory exceeds what is free (ResourceError) are refused before training.
    `device`: None = `distributed.pick_device()`; the model is moved there (and stays)."""
    sets = (("train_set", train_set), ("val_set", val_set)) + ((("watch_set", watch_set),) if watch_set else ())
    for name, dataset in sets:
        expect(len(dataset) >= 1, DataError, f"{name} holds no pixels; expected at least one")
        top = int(dataset.targets.max()) + 1
        expect(top <= n_classes, DataError, f"{name} holds label {top}, expected labels 1..n_classes={n_classes}")
    dev = pick_device(device)
    model.to(dev)
    probe_x, probe_guides, _ = train_set.batch(torch.arange(min(2, len(train_set))))
    needed = training_bytes(
        model, lambda: model(probe_x.to(dev), [g.to(dev) for g in probe_guides]), len(probe_x), cfg.batch_size
    )
    check_memory(
        needed,
        f"training {type(model).__name__} with batch {cfg.batch_size}",
        hint="lower batch_size or the model width",
        device=dev,
    )
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = adamw(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    epochs = epochs_to_run(len(train_set), cfg)
    # the schedule and BDGF's KL warm-up (progress) are laid out over the epochs actually run
    total_steps = epochs * steps_per_epoch
    warmup_steps = max(1, cfg.warmup_epochs * steps_per_epoch * epochs // cfg.epochs)  # scaled with the epochs
    every = max(1, epochs // cfg.val_points) if cfg.val_points else 1  # epochs between validation scores
    record = {
        "train": asdict(cfg),
        "model": getattr(model, "config_dict", lambda: {})(),
        "data": {"train": train_set.fingerprint(), "val": val_set.fingerprint(), "n_classes": n_classes},
    }
    if watch_set is not None:  # a watched run is another run's file, never a resumed unwatched one
        record["data"]["watch"] = watch_set.fingerprint()
    net, part = ddp.wrap(model, find_unused=True), ddp.shard()  # ablations may leave parameters unused

    def train_epoch(epoch: int) -> dict[str, float]:
        model.train()
        losses = []
        for i, index in enumerate(_batches(len(train_set), cfg, train_set.targets, generator)):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch * steps_per_epoch + i, total_steps, warmup_steps, cfg.lr)
            if not ddp.usable(index.shape[0]):
                continue
            rows = index[part]
            x, guides, y = train_set.batch(rows)
            step = epoch * steps_per_epoch + i
            loss = classifier_step(
                net,
                model,
                x,
                guides,
                y,
                optimizer,
                cfg,
                weight=ddp.batch_weight(rows.shape[0], index.shape[0]),
                progress=step / total_steps,
            )
            share = rows.shape[0] / index.shape[0]  # this rank's part of the global batch
            losses.append(float(ddp.all_reduce_sum(loss.float() * share)))
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
        if cfg.fixed_length and cfg.val_points and (epoch + 1) % every != 0 and epoch + 1 != epochs:
            skipped = {f"val_{SHORT_NAMES[k]}": math.nan for k in METRICS}  # not scored: selects nothing
            return row | skipped | ({f"test_{SHORT_NAMES[k]}": math.nan for k in METRICS} if watch_set else {})
        val = score(model, val_set, n_classes)
        row |= {f"val_{SHORT_NAMES[k]}": val[k] for k in METRICS}
        if watch_set is not None:
            watched = score(model, watch_set, n_classes)
            row |= {f"test_{SHORT_NAMES[k]}": watched[k] for k in METRICS}
        return row

    state = run_epochs(
        train_epoch,
        Parts(model, optimizer, generator),
        LoopConfig(epochs, desc="train")
        if cfg.fixed_length
        else LoopConfig(epochs, f"val_{cfg.select_on}", cfg.patience, "train", min_gain=cfg.min_gain),
        checkpoint_path,
        record,
        progress=progress,
        postfix=lambda row: {"loss": f"{row['train_loss']:.3f}", "val_oa": f"{row['val_oa']:.1f}"},
    )
    model.eval()
    best_epoch = len(state.history) if cfg.fixed_length else state.best_epoch
    return TrainResult(model, state.history, best_epoch, state.seconds)


def epochs_to_run(n_train: int, cfg: TrainConfig) -> int:
    """`cfg.epochs`, raised so that the run takes at least `cfg.min_steps` optimiser steps on
    `n_train` pixels (a label budget of 5 per class is one batch an epoch)."""
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    return max(cfg.epochs, math.ceil(cfg.min_steps / steps_per_epoch))


def classifier_step(
    net: torch.nn.Module,
    model: torch.nn.Module,
    x: torch.Tensor,
    guides: list[torch.Tensor],
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    weight: float = 1.0,
    progress: float = 1.0,
) -> torch.Tensor:
    """One classifier update on a batch (the step `bdgf-bench` times): forward through `net`
    (the DDP wrapper, or the model itself) on the model's device, `model.loss`, the shared
    optimizer step. `weight` scales this rank's loss (DDP); `progress` (fraction of training done)
    goes to `model.loss`. Returns the detached loss."""
    dev = next(model.parameters()).device
    loss_of = cast(Callable[..., tuple[torch.Tensor, dict[str, float]]], model.loss)
    with autocast(dev):
        loss, _ = loss_of(net(x.to(dev), [g.to(dev) for g in guides]), y.to(dev), progress)
    optimizer_step(loss * weight, model.parameters(), optimizer, cfg.grad_clip)
    return loss.detach()
