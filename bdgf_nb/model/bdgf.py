"""BDGF: diffusion-guided CNN, Mamba and Transformer branches trained by mutual learning
(docs/METHOD.md §3-§4), read top to bottom: ablations of the config (config.py), output, model.

Glossary:
    b: batch size    C: stacked input channels (spectral first)    p: patch side
    K: guide depths = stages per branch    G_k: channels of guide k    d: branch width
    c: classes    e: projection width of the mutual-learning heads g_k

    x (b, C, p, p), guides K x (b, G_k, p, p)
      -> each branch k: features f_k (b, d), logits z_k (b, c)          (step 3)
      -> probabilities: ensemble of softmax(z_k) (b, c)                  (step 4 prediction)
    loss = sum_k CE + mutual terms on z_k and g_k(f_k)                   (step 4)

Parameters draw from torch's global RNG: the caller seeds (`torch.manual_seed`) before building.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.model.branches import CNNBranch, GuidedBranch, MambaBranch, TransformerBranch
from bdgf_nb.model.config import BDGFConfig
from bdgf_nb.model.ensemble import ensemble_probabilities
from bdgf_nb.model.mutual import mutual_learning_loss

# Model ablations (docs/METHOD.md §4): overrides of a base config, applied by `ablation(base, name)`.
# "no_masking" is not here: it is this same model fed the features of a DDPM pretrained with
# masking="none", which the pipeline handles.
ABLATIONS: dict[str, dict[str, Any]] = {
    "bdgf": {},
    "no_guidance": {"guidance": False},
    # no guidance, widened to BDGF's parameter count (`equal_size_width`, applied by the pipeline)
    "no_guidance_equal_size": {"guidance": False},
    "no_mutual": {"mutual": False},
    "cnn_only": {"branches": ("cnn",)},
    "mamba_only": {"branches": ("mamba",)},
    "transformer_only": {"branches": ("transformer",)},
}


def ablation(base: BDGFConfig, name: str) -> BDGFConfig:
    """The config of ablation `name`: `base` with that ablation's overrides."""
    expect(
        name in ABLATIONS,
        ConfigError,
        f"unknown ablation {name!r}, expected one of {list(ABLATIONS)} (no_masking: change the DDPM's masking instead)",
    )
    return dataclasses.replace(base, **ABLATIONS[name])


def equal_size_width(
    guided: BDGFConfig, channel_groups: dict[str, int], guide_channels: Sequence[int], n_classes: int
) -> int:
    """The width at which the model WITHOUT guidance has as many parameters as `guided` with it.

    "no_guidance_equal_size" trains at this width, so a gain of guidance over it cannot be mere
    size. Widths step by lcm(heads, attention_groups) (both must divide the width); of the two
    widths around the guided model's parameter count, the closer one is returned."""
    target = BDGF(guided, channel_groups, guide_channels, n_classes).n_parameters
    step = int(np.lcm(guided.heads, guided.attention_groups))

    def size(width: int) -> int:
        return BDGF(
            dataclasses.replace(guided, guidance=False, width=width), channel_groups, [], n_classes
        ).n_parameters

    width = max(step, guided.width - guided.width % step)
    while size(width) < target:
        width += step
    below = width - step
    return below if below >= step and target - size(below) < size(width) - target else width


@dataclass
class BDGFOutput:
    """logits / features / projections: one (b, c) / (b, d) / (b, e) tensor per branch, in
    `branches` order (projections g_k(f_k) empty when the cosine term is off);
    probabilities: (b, c) ensemble prediction."""

    logits: list[torch.Tensor]
    features: list[torch.Tensor]
    probabilities: torch.Tensor
    branches: tuple[str, ...]
    projections: list[torch.Tensor] = field(default_factory=list)


class BDGF(nn.Module):
    """The branches of `cfg.branches`, their mutual-learning projection heads, the ensemble."""

    ensemble_weights: torch.Tensor | None  # (K,) buffer for ensemble="fitted", else None

    def __init__(
        self, cfg: BDGFConfig, channel_groups: dict[str, int], guide_channels: Sequence[int], n_classes: int
    ) -> None:
        super().__init__()
        expect(
            len(channel_groups) >= 1 and all(int(c) >= 1 for c in channel_groups.values()),
            ConfigError,
            f"channel_groups must name >= 1 modality with >= 1 channel each, found {channel_groups}",
        )
        expect(
            len(guide_channels) in (0, cfg.stages),
            ConfigError,
            f"guide_channels must list one channel count per stage ({cfg.stages}) "
            f"or be empty (no diffusion features), found {list(guide_channels)}",
        )
        self.cfg = cfg
        self.channel_groups = {str(k): int(v) for k, v in channel_groups.items()}
        self.guide_channels = [int(g) for g in guide_channels]
        self.n_classes = n_classes
        self.in_channels = sum(self.channel_groups.values())
        builders = {
            "cnn": lambda: CNNBranch(self.in_channels, n_classes, cfg, self.guide_channels),
            "mamba": lambda: MambaBranch(self.channel_groups, n_classes, cfg, self.guide_channels),
            "transformer": lambda: TransformerBranch(self.in_channels, n_classes, cfg, self.guide_channels),
        }
        self.branches = nn.ModuleDict({name: builders[name]() for name in cfg.branches})
        # Projection heads g_k for the feature-correlation term: only when that term can act.
        m = cfg.mutual_config
        self.projections = nn.ModuleDict()
        if cfg.mutual and len(cfg.branches) > 1 and m.lambda_cos > 0:
            self.projections = nn.ModuleDict(
                {
                    name: nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.GELU(), nn.Linear(cfg.width, m.proj_dim))
                    for name in cfg.branches
                }
            )
        # "fitted" ensemble: per-branch weights, uniform (= "mean") until fitted on validation.
        # A buffer, so the weights travel with the state dict into checkpoints (None otherwise).
        K = len(cfg.branches)
        self.register_buffer("ensemble_weights", torch.full((K,), 1.0 / K) if cfg.ensemble == "fitted" else None)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def config_dict(self) -> dict[str, Any]:
        """Everything that shapes the weights or the loss, JSON-able (train.py checks it on resume).
        The scan backend is left out: every backend computes the same function."""
        config = {k: v for k, v in asdict(self.cfg).items() if k != "scan_backend"}
        return {
            "config": config,
            "channel_groups": dict(self.channel_groups),
            "guide_channels": list(self.guide_channels),
            "n_classes": self.n_classes,
        }

    def forward(self, x: torch.Tensor, guides: Sequence[torch.Tensor] = ()) -> BDGFOutput:
        """x (b, C, p, p), guides K x (b, G_k, p, p) (or [] without diffusion features) -> BDGFOutput."""
        expect(
            x.ndim == 4 and x.shape[1] == self.in_channels,
            DataError,
            f"BDGF: expected x of shape (b, C={self.in_channels}, p, p) "
            f"for channel groups {self.channel_groups}, found {tuple(x.shape)}",
        )
        features, logits = [], []
        for branch in self.branches.values():
            assert isinstance(branch, GuidedBranch)
            f, z = branch(x, guides)  # docs/METHOD.md §3: each branch, guided stage by stage
            features.append(f)
            logits.append(z)
        # g_k(f_k) here, not in loss(): under DDP every parameter must be used inside forward.
        projections = (
            [self.projections[name](f) for name, f in zip(self.branches, features, strict=True)]
            if len(self.projections)
            else []
        )
        probabilities = ensemble_probabilities(
            logits, self.cfg.ensemble, self.ensemble_weights
        )  # docs/METHOD.md §4: prediction
        return BDGFOutput(logits, features, probabilities, tuple(self.branches), projections)

    def set_ensemble_weights(self, weights: Sequence[float] | np.ndarray | torch.Tensor) -> None:
        """Store per-branch ensemble weights (K,), e.g. `fit_ensemble_weights` on validation
        probabilities; they are normalised to sum 1. Only for ensemble="fitted"."""
        expect(
            self.ensemble_weights is not None,
            ConfigError,
            f"set_ensemble_weights needs BDGFConfig.ensemble='fitted', found {self.cfg.ensemble!r}",
        )
        w = torch.as_tensor(np.asarray(weights, dtype=np.float64), dtype=torch.float32).flatten()
        K = len(self.cfg.branches)
        expect(
            w.shape == (K,) and bool(torch.isfinite(w).all()) and bool((w >= 0).all()) and float(w.sum()) > 0,
            DataError,
            f"ensemble weights must be {K} finite non-negative numbers "
            f"(one per branch {list(self.cfg.branches)}) with a positive sum, found {w.tolist()}",
        )
        assert self.ensemble_weights is not None
        self.ensemble_weights.copy_(w / w.sum())

    def loss(self, output: BDGFOutput, y: torch.Tensor, progress: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        """(loss, parts). Mutual learning on: docs/METHOD.md §4, the KL weight warmed up by `progress`
        (step / total steps in [0, 1]; 1.0 = full weight). Off: the sum of per-branch CE."""
        names = list(output.branches)
        if not self.cfg.mutual:  # zero weights: the peer terms are still logged, never trained on
            off = dataclasses.replace(self.cfg.mutual_config, lambda_kl=0.0, lambda_cos=0.0, entropy_matching=False)
            return mutual_learning_loss(output.logits, [], y, off, names, progress)
        return mutual_learning_loss(output.logits, output.projections, y, self.cfg.mutual_config, names, progress)
