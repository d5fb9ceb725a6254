"""Pretraining loop of the masked multimodal DDPM (docs/METHOD.md §1).

One epoch is `ddpm_step` over shuffled batches (AdamW, gradient clipping, a constant rate or
warm-up + cosine decay), with an optional EMA of the weights and adaptive modality masking fed
by the per-modality losses, then the balance measure; the shared skeleton (loop.py) adds the
progress bar and an atomic checkpoint at the end of every epoch. Every random draw (data order,
masks, timesteps, noise) comes from one seeded `torch.Generator` saved in the checkpoint, so an
interrupted run resumed from its last checkpoint ends with exactly the weights of an
uninterrupted run.

A fixed held-out slice of the patches (`balance_samples`, drawn with the seed) is never trained
on; the balance measure (balance.py) runs on it with fixed noise and timesteps.

Devices and processes (distributed.py): training runs on `pick_device()` (CUDA when present,
bf16 autocast there) and under torchrun on one process per device with DDP. Every rank draws the
global batch's random tensors and keeps its shard of the rows, the loss is normalised by the
global batch's visible counts, and the per-modality losses the masker sees are summed across
ranks, so N processes follow the single-process run (up to float summation order). Rank 0 alone
shows progress and writes checkpoints. The returned model is on the CPU.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from bdgf_nb.config_checks import check_fields
from bdgf_nb.ddpm.balance import EvalBatch, measure_balance
from bdgf_nb.ddpm.diffusion import DiffusionConfig, DiffusionLoss, GaussianDiffusion
from bdgf_nb.ddpm.feature_balance import patch_feature_r2
from bdgf_nb.ddpm.masking import MaskingConfig, ModalityMasker
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.device import adamw, autocast, pick_device
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.memory import check_memory, training_bytes
from bdgf_nb.train import distributed as ddp
from bdgf_nb.train.loop import LoopConfig, Parts, lr_at, optimizer_step, run_epochs


@dataclass
class PretrainConfig:
    """`unet.in_channels` / `unet.modality_channels` are filled from the data by `pretrain`."""

    epochs: int = 50
    batch_size: int = 128
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.0  # 0 = off; else EMA of the weights per step, returned and checkpointed
    lr_schedule: str = "constant"  # "constant" | "cosine": linear warm-up, then cosine decay (train.loop.lr_at)
    warmup_fraction: float = 0.05  # share of all steps warmed up over, with lr_schedule="cosine"
    seed: int = 0
    balance_samples: int = 256  # held-out patches for the balance measure (at most N // 5)
    log_every: int = 1  # epochs between balance measurements (the last epoch always measured)
    feature_timesteps: tuple[int, ...] = (5, 50, 200)  # where the balance measure reads features (FeatureConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        expect(self.epochs >= 1, ConfigError, f"epochs must be >= 1, found {self.epochs}")
        expect(self.batch_size >= 1, ConfigError, f"batch_size must be >= 1, found {self.batch_size}")
        expect(self.lr > 0, ConfigError, f"lr must be > 0, found {self.lr}")
        expect(self.weight_decay >= 0, ConfigError, f"weight_decay must be >= 0, found {self.weight_decay}")
        expect(self.grad_clip > 0, ConfigError, f"grad_clip must be > 0, found {self.grad_clip}")
        expect(0.0 <= self.ema_decay < 1.0, ConfigError, f"ema_decay must be in [0, 1), found {self.ema_decay}")
        expect(
            self.lr_schedule in ("constant", "cosine"),
            ConfigError,
            f"lr_schedule must be one of ['constant', 'cosine'], found {self.lr_schedule!r}",
        )
        expect(
            0.0 <= self.warmup_fraction < 1.0,
            ConfigError,
            f"warmup_fraction must be in [0, 1), found {self.warmup_fraction}",
        )
        expect(self.balance_samples >= 1, ConfigError, f"balance_samples must be >= 1, found {self.balance_samples}")
        expect(self.log_every >= 1, ConfigError, f"log_every must be >= 1, found {self.log_every}")
        self.feature_timesteps = tuple(int(t) for t in self.feature_timesteps)
        expect(
            len(self.feature_timesteps) >= 1 and min(self.feature_timesteps) >= 0,
            ConfigError,
            f"feature_timesteps must be non-empty and >= 0, found {self.feature_timesteps}",
        )
        expect(
            max(self.feature_timesteps) < self.diffusion.T,
            ConfigError,
            f"feature_timesteps must be < diffusion.T={self.diffusion.T}, found {self.feature_timesteps}",
        )


@dataclass
class PretrainResult:
    """diffusion: trained model in eval mode (EMA weights if used); history: one dict per epoch
    {epoch, loss, loss_<m>, hidden_loss_<m> (x0 loss where m was hidden), p_mask_<m> (mean over the
    epoch's steps), and when measured eval_loss_<m>, reliance_<m>, balance, dominance_gap,
    patch_r2_<m> (feature R^2 on the held-out patches)}."""

    diffusion: GaussianDiffusion
    history: list[dict[str, float]]
    seconds: float


def build_diffusion(cfg: PretrainConfig, channel_groups: dict[str, int]) -> GaussianDiffusion:
    """The model `pretrain` trains, with the channel layout of `channel_groups`."""
    unet_cfg = replace(
        cfg.unet, in_channels=sum(channel_groups.values()), modality_channels=tuple(channel_groups.values())
    )
    return GaussianDiffusion(DenoiserUNet(unet_cfg), cfg.diffusion, channel_groups)


def held_out_patches(n_patches: int, cfg: PretrainConfig) -> int:
    """How many of the n patches `pretrain` holds out for the balance measures (at most N // 5)."""
    return min(cfg.balance_samples, n_patches // 5)


def steps_per_epoch(n_patches: int, cfg: PretrainConfig) -> int:
    """Optimiser steps of one pretraining epoch on n patches (the held-out ones excluded): what
    the masking panel needs to replay a run's schedule step by step."""
    return math.ceil((n_patches - held_out_patches(n_patches, cfg)) / cfg.batch_size)


def _data_fingerprint(x0: torch.Tensor) -> dict[str, Any]:
    return {"shape": list(x0.shape), "sha256": hashlib.sha256(x0.contiguous().numpy().tobytes()).hexdigest()[:16]}


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1.0 - decay)


def pretrain(
    x0: torch.Tensor,
    channel_groups: dict[str, int],
    cfg: PretrainConfig,
    checkpoint_path: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    stop_after_epoch: int | None = None,
    device: str | torch.device | None = None,
) -> PretrainResult:
    """Train the masked multimodal DDPM on standardised patches x0 (N, C, p, p).

    channel_groups: modality name -> channels, in channel order (spectral first, >= 1 modality).
    With `checkpoint_path` and `resume`, a checkpoint of the same config and data found there is
    resumed exactly (CheckpointError naming the differing fields otherwise; a damaged file is set
    aside with a warning and training starts afresh). ResourceError up front when the estimated
    training memory (memory.training_bytes) exceeds what is free.
    `stop_after_epoch` ends the run early (as an interruption would; used to test resume).
    `device`: None = `distributed.pick_device()`."""
    expect(
        x0.ndim == 4 and x0.dtype == torch.float32,
        DataError,
        f"x0 must be float32 (N, C, p, p), found {x0.dtype} {tuple(x0.shape)}",
    )
    expect(
        sum(channel_groups.values()) == x0.shape[1],
        DataError,
        f"channel_groups {dict(channel_groups)} sum to {sum(channel_groups.values())} channels, x0 has {x0.shape[1]}",
    )
    bad = int((~torch.isfinite(x0)).sum())
    expect(bad == 0, DataError, f"x0 must hold finite values, found {bad} NaN or inf of {x0.numel()}")
    n_eval = held_out_patches(x0.shape[0], cfg)
    expect(
        n_eval >= 1 and x0.shape[0] - n_eval >= 1,
        DataError,
        f"need at least 5 patches (held-out balance batch + training), found {x0.shape[0]}",
    )
    names = list(channel_groups)
    dev = pick_device(device)
    torch.manual_seed(cfg.seed)  # weight init and dropout
    diffusion = build_diffusion(cfg, channel_groups).to(dev)
    probe = x0[:2].to(dev)  # memory estimate from a 2-patch forward (no grad: draws no random numbers)
    needed = training_bytes(
        diffusion.denoiser,
        lambda: diffusion.denoiser(probe, torch.zeros(len(probe), dtype=torch.long, device=dev)),
        len(probe),
        cfg.batch_size,
        weight_copies=5 if cfg.ema_decay > 0 else 4,
    )
    check_memory(
        needed,
        f"pretraining the DDPM (batch {cfg.batch_size} of {tuple(x0.shape[1:])} patches)",
        hint="lower batch_size or unet.base_width",
        device=dev,
    )
    ema = copy.deepcopy(diffusion).requires_grad_(False) if cfg.ema_decay > 0 else None
    optimizer = adamw(diffusion.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    split = torch.randperm(x0.shape[0], generator=torch.Generator().manual_seed(cfg.seed + 1))
    train_x = x0[split[n_eval:]]
    drawn = EvalBatch.draw(x0[split[:n_eval]], cfg.diffusion.T, seed=cfg.seed + 2)
    eval_batch = EvalBatch(drawn.x0.to(dev), drawn.t.to(dev), drawn.noise.to(dev))
    steps = steps_per_epoch(x0.shape[0], cfg)
    masker = ModalityMasker(cfg.masking, len(names), cfg.epochs * steps)
    total_steps = cfg.epochs * steps
    warmup_steps = max(1, round(cfg.warmup_fraction * total_steps))
    record = {"pretrain": asdict(cfg), "channel_groups": dict(channel_groups), "data": _data_fingerprint(x0)}
    net, part = ddp.wrap(diffusion), ddp.shard()

    def train_epoch(epoch: int) -> dict[str, float]:
        diffusion.train()
        sums, counts, total_loss = torch.zeros(len(names), dtype=torch.float64), torch.zeros(len(names)), 0.0
        hidden_sums, hidden_seen = torch.zeros(len(names), dtype=torch.float64), torch.zeros(len(names))
        prob_sums = [0.0] * len(names)  # mean over the epoch's steps of p_mask(m)
        for i, index in enumerate(torch.randperm(train_x.shape[0], generator=generator).split(cfg.batch_size)):
            b = index.shape[0]
            if cfg.lr_schedule == "cosine":  # a function of the step alone, so a resumed run follows it exactly
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(epoch * steps + i, total_steps, warmup_steps, cfg.lr)
            prob_sums = [a + p for a, p in zip(prob_sums, masker.probabilities, strict=True)]
            # Random tensors of the whole (global) batch, then this rank's rows of each.
            mask = masker.sample(b, generator)
            t = torch.randint(0, cfg.diffusion.T, (b,), generator=generator)
            noise = torch.randn((b, *train_x.shape[1:]), generator=generator)
            if not ddp.usable(b):
                continue
            visible, hidden = (~mask).sum(dim=0), mask.sum(dim=0)
            out = ddpm_step(
                net,
                diffusion,
                train_x[index[part]],
                mask[part],
                t[part],
                noise[part],
                (visible, hidden),
                optimizer,
                cfg,
            )
            if ema is not None:
                _ema_update(ema, diffusion, cfg.ema_decay)
            # Each rank's per-modality loss is its share of the global batch's: sum the shares.
            seen, hid = visible > 0, hidden > 0
            shares = torch.cat(
                [
                    out.per_modality.float().nan_to_num(),
                    out.hidden_per_modality.float().nan_to_num(),
                    out.total.detach().float()[None],
                ]
            )
            summed = ddp.all_reduce_sum(shares).cpu()
            M = len(names)
            per_modality = torch.where(seen, summed[:M], float("nan"))
            masker.update(per_modality)
            sums[seen] += per_modality[seen].double() * visible[seen]
            counts += visible
            hidden_sums[hid] += summed[M : 2 * M][hid].double() * hidden[hid]
            hidden_seen += hidden
            total_loss += float(summed[-1]) * b
        row: dict[str, float] = {"epoch": epoch + 1, "loss": total_loss / train_x.shape[0]}
        row.update(
            {f"loss_{k}": float(sums[m] / counts[m]) if counts[m] else float("nan") for m, k in enumerate(names)}
        )
        if cfg.diffusion.hidden_target == "x0":  # how well each hidden modality was predicted from the others
            row.update(
                {
                    f"hidden_loss_{k}": float(hidden_sums[m] / hidden_seen[m]) if hidden_seen[m] else float("nan")
                    for m, k in enumerate(names)
                }
            )
        row.update({f"p_mask_{k}": prob_sums[m] / steps for m, k in enumerate(names)})
        if (epoch + 1) % cfg.log_every == 0 or epoch + 1 == cfg.epochs:
            model = ema if ema is not None else diffusion
            report = measure_balance(model, eval_batch)
            masker.observe_reliance(list(report.reliance.values()))
            row.update(report.as_record())
            if len(names) >= 2:  # what the features carry of each modality (the "feature" signal)
                r2 = patch_feature_r2(model, eval_batch.x0, cfg.feature_timesteps, seed=cfg.seed + 3)
                masker.observe_feature_r2(list(r2.values()))
                row.update({f"patch_r2_{k}": v for k, v in r2.items()})
        return row

    extras: dict[str, Any] = {"masker": masker} | ({"ema": ema} if ema is not None else {})
    state = run_epochs(
        train_epoch,
        Parts(diffusion, optimizer, generator, extras),
        LoopConfig(cfg.epochs, desc="pretrain DDPM"),
        checkpoint_path,
        record,
        progress=progress,
        resume=resume,
        stop_after_epoch=stop_after_epoch,
        postfix=lambda row: {"loss": f"{row['loss']:.4f}", "balance": f"{row.get('balance', float('nan')):.2f}"},
    )
    final = (ema if ema is not None else diffusion).cpu()
    final.eval()
    return PretrainResult(final, state.history, state.seconds)


def ddpm_step(
    net: torch.nn.Module,
    diffusion: GaussianDiffusion,
    x0: torch.Tensor,
    mask: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    counts: tuple[torch.Tensor, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    cfg: PretrainConfig,
) -> DiffusionLoss:
    """One masked-DDPM update (the step `bdgf-bench` times): the loss of this rank's rows (`net`:
    the DDP wrapper or the model) normalised by the global batch's (visible, hidden) counts per
    modality, scaled by the world size because DDP averages gradients over ranks, then the shared
    optimizer step."""
    dev = next(diffusion.parameters()).device
    visible, hidden = counts
    with autocast(dev):
        out = net(x0.to(dev), mask.to(dev), t=t.to(dev), noise=noise.to(dev), counts=visible, hidden_counts=hidden)
    optimizer_step(out.total * ddp.world_size(), diffusion.parameters(), optimizer, cfg.grad_clip)
    return out
