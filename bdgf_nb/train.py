"""One training loop for every classifier (BDGF, its ablations, single branches, CNN baselines).

The model contract: `output = model(x, guides)` with `output.logits` (list of per-branch
(b, n_classes)) and `output.probabilities` (b, n_classes); `loss, parts = model.loss(output, y)`.
The loop is flat (nanoGPT style): AdamW, warm-up + cosine `lr_at(step)`, gradient clipping,
validation every epoch on a hold-out carved from the training pixels, early stopping on the
validation score, an atomic checkpoint each epoch that resumes exactly.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .errors import ConfigError, expect
from .metrics import classification_report
from .patches import PatchDataset


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 2
    grad_clip: float = 1.0
    patience: int = 10  # epochs without a better validation score before stopping
    select_on: str = "kappa"  # validation score: "oa" | "aa" | "kappa" (kappa: robust to a dominant class)
    class_balanced: bool = False  # sample batches with inverse-frequency weights
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            expect(getattr(self, name) >= 1, ConfigError, f"TrainConfig.{name} must be >= 1, found {getattr(self, name)}")
        expect(self.lr > 0, ConfigError, f"TrainConfig.lr must be > 0, found {self.lr}")
        expect(self.select_on in ("oa", "aa", "kappa"), ConfigError, f"TrainConfig.select_on must be one of oa, aa, kappa; found {self.select_on!r}")


def lr_at(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Linear warm-up, then cosine decay to 5% of the base rate."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def predict(model: torch.nn.Module, dataset: PatchDataset, batch_size: int = 256, progress: bool = False) -> dict[str, np.ndarray]:
    """Ensemble probabilities (N, n_classes), per-branch probabilities (n_branches, N, n_classes)
    and per-branch features (n_branches, N, d), in dataset order."""
    model.eval()
    probs, branch_probs, feats = [], [], []
    starts = range(0, len(dataset), batch_size)
    for start in tqdm(starts, desc="predict", disable=not progress, leave=False):
        x, guides, _ = dataset.batch(torch.arange(start, min(start + batch_size, len(dataset))))
        out = model(x, guides)
        probs.append(out.probabilities)
        branch_probs.append(torch.stack([z.softmax(-1) for z in out.logits]))
        feats.append(torch.stack(list(out.features)))
    return {
        "probabilities": torch.cat(probs).numpy(),
        "branch_probabilities": torch.cat(branch_probs, dim=1).numpy(),
        "features": torch.cat(feats, dim=1).numpy(),
    }


def score(model: torch.nn.Module, dataset: PatchDataset, n_classes: int) -> dict[str, Any]:
    """ClassificationReport of the ensemble prediction on a labelled dataset, as a dict."""
    pred = predict(model, dataset)["probabilities"].argmax(1) + 1
    return classification_report(dataset.targets.numpy() + 1, pred, n_classes).to_dict()


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
) -> TrainResult:
    """Train with early stopping on the validation score; returns the best-validation model.

    With `checkpoint_path`, a checkpoint of the same config found there is resumed exactly
    (weights, optimiser, best state, RNG), so an interrupted run ends as an uninterrupted one."""
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    total_steps, warmup_steps = cfg.epochs * steps_per_epoch, max(1, cfg.warmup_epochs * steps_per_epoch)
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_score": -math.inf, "best_epoch": 0, "best_model": None, "stale": 0}
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    config_record = {"train": asdict(cfg), "model": getattr(model, "config_dict", lambda: {})()}
    if ckpt is not None and ckpt.exists():
        saved = load_checkpoint(ckpt, expected_config=config_record)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        restore_rng_state(saved["rng"])
        state = saved["loop"]
    loss_of = cast(Callable[[Any, torch.Tensor], tuple[torch.Tensor, dict[str, float]]], model.loss)
    start_time = time.perf_counter()
    epochs = tqdm(range(state["epoch"], cfg.epochs), desc="train", disable=not progress, initial=state["epoch"], total=cfg.epochs)
    for epoch in epochs:
        if state["stale"] >= cfg.patience:
            break
        model.train()
        losses = []
        for i, index in enumerate(_batches(len(train_set), cfg, train_set.targets, generator)):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch * steps_per_epoch + i, total_steps, warmup_steps, cfg.lr)
            x, guides, y = train_set.batch(index)
            loss, _ = loss_of(model(x, guides), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            losses.append(float(loss))
        val = score(model, val_set, n_classes)
        key = {"oa": "overall_accuracy", "aa": "average_accuracy", "kappa": "kappa"}[cfg.select_on]
        record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_oa": val["overall_accuracy"], "val_aa": val["average_accuracy"], "val_kappa": val["kappa"]}
        state["history"].append(record)
        if val[key] > state["best_score"]:
            state.update(best_score=val[key], best_epoch=epoch + 1, best_model=copy.deepcopy(model.state_dict()), stale=0)
        else:
            state["stale"] += 1
        state["epoch"] = epoch + 1
        epochs.set_postfix(loss=f"{record['train_loss']:.3f}", val_oa=f"{record['val_oa']:.1f}")
        if ckpt is not None:
            payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "rng": capture_rng_state(), "loop": state}
            save_checkpoint(ckpt, payload, config_record)
    if state["best_model"] is not None:
        model.load_state_dict(state["best_model"])
    model.eval()
    return TrainResult(model, state["history"], state["best_epoch"], time.perf_counter() - start_time)
