"""The three guided branches of BDGF (docs/METHOD.md §3): CNN, Mamba and Transformer.

Glossary:
    b: batch size    C: stacked input channels (spectral first)    p: patch side (odd, >= 1)
    K: stages = guide depths    G_k: channels of guide k    d: branch width
    l: Mamba sequence length (band-group tokens + one token per auxiliary modality)
    n: Transformer tokens (class token + p*p pixel tokens)

Every branch maps `x (b, C, p, p)` and `guides` (K maps (b, G_k, p, p), fine to coarse, already
cropped to the patch) to `(features (b, d), logits (b, n_classes))`. Stage k is followed by its
guidance module fed guide k, so shallow stages see the fine, full-resolution decoder level and
deep stages the coarse ones (hierarchical guidance).

A branch built with `guidance=False` ignores any guides it is given (the "no guidance" ablation
runs on the same datasets); one built without guide channels (`guide_channels=()`, no diffusion
features, e.g. pixel scenes) runs unguided and expects `guides == []`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.model.config import BDGFConfig
from bdgf_nb.model.guidance import (
    Attention,
    CrossAttention,
    FeatureFusion,
    GroupChannelAttention,
    centre_region,
    check_guides,
    group_norm,
)
from bdgf_nb.model.mamba import ResidualMambaLayer


class GuidedBranch(nn.Module):
    """Shared plumbing: input and guide checks, the classifier head. Subclasses implement
    `encode(x, guides) -> (b, d)` with `guides` one entry per stage (None when unguided)."""

    def __init__(self, in_channels: int, n_classes: int, cfg: BDGFConfig, guide_channels: Sequence[int]) -> None:
        super().__init__()
        name = type(self).__name__
        width, stages, guidance = cfg.width, cfg.stages, cfg.guidance  # validated in BDGFConfig
        expect(in_channels >= 1, ConfigError, f"{name}: in_channels must be >= 1, found {in_channels}")
        expect(n_classes >= 2, ConfigError, f"{name}: n_classes must be >= 2, found {n_classes}")
        expect(
            len(guide_channels) in (0, stages),
            ConfigError,
            f"{name}: guide_channels must list one channel count per stage ({stages}) "
            f"or be empty, found {list(guide_channels)}",
        )
        expect(
            all(g >= 1 for g in guide_channels),
            ConfigError,
            f"{name}: guide channels must be >= 1, found {list(guide_channels)}",
        )
        self.in_channels, self.stages, self.width = in_channels, stages, width
        self.ignores_guides = not guidance
        self.guided = guidance and len(guide_channels) > 0
        self.guide_channels = tuple(int(g) for g in guide_channels) if self.guided else ()
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(width, n_classes))

    def stage_guides(self, x: torch.Tensor, guides: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
        """Check x and guides; one guide (or None) per stage."""
        name = type(self).__name__
        expect(
            x.ndim == 4 and x.shape[1] == self.in_channels and x.shape[2] == x.shape[3],
            DataError,
            f"{name}: expected x of shape (b, C={self.in_channels}, p, p), found {tuple(x.shape)}",
        )
        if self.ignores_guides:
            return [None] * self.stages
        if not self.guided:
            expect(
                len(guides) == 0,
                DataError,
                f"{name}: built without diffusion features (guide_channels=[]), expected 0 guides, found {len(guides)}",
            )
            return [None] * self.stages
        check_guides(guides, self.guide_channels, x, name)
        return list(guides)

    def guide_width(self, k: int) -> int:
        """G_k for building stage k's guidance module (1 when unguided: the module is disabled)."""
        return self.guide_channels[k] if self.guided else 1

    def encode(self, x: torch.Tensor, guides: list[torch.Tensor | None]) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, guides: Sequence[torch.Tensor] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        """x (b, C, p, p), guides K x (b, G_k, p, p) -> features (b, d), logits (b, n_classes)."""
        features = self.encode(x, self.stage_guides(x, guides))
        return features, self.head(features)


# --------------------------------------------------------------------------------------------
# CNN branch: spatial patch, feature-fusion guidance.
# --------------------------------------------------------------------------------------------


class ConvStage(nn.Module):
    """Residual 3x3 block at fixed resolution: GELU(h + norm(conv(GELU(norm(conv(h)))))).
    Padding keeps p x p (no downsampling: patches are small and p may be 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            group_norm(channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            group_norm(channels),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(h + self.body(h))


class CNNBranch(GuidedBranch):
    """Stem (1x1 spectral mixing + 3x3), K ConvStages each followed by FeatureFusion with guide k,
    global average pool -> (b, d)."""

    def __init__(self, in_channels: int, n_classes: int, cfg: BDGFConfig, guide_channels: Sequence[int] = ()) -> None:
        super().__init__(in_channels, n_classes, cfg, guide_channels)
        width, stages = cfg.width, cfg.stages
        # 1x1 first: mixing 100+ spectral channels costs 9x less than a 3x3 on the raw input.
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 1, bias=False),
            group_norm(width),
            nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            group_norm(width),
            nn.GELU(),
        )
        self.blocks = nn.ModuleList([ConvStage(width) for _ in range(stages)])
        self.fusions = nn.ModuleList(
            [FeatureFusion(width, self.guide_width(k), enabled=self.guided) for k in range(stages)]
        )

    def encode(self, x: torch.Tensor, guides: list[torch.Tensor | None]) -> torch.Tensor:
        h = self.stem(x)  # (b, d, p, p)
        for block, fusion, g in zip(self.blocks, self.fusions, guides, strict=True):
            h = fusion(block(h), g)  # docs/METHOD.md §3: stage k, then feature fusion with guide k
        return h.mean(dim=(-2, -1))


# --------------------------------------------------------------------------------------------
# Mamba branch: centre-region spectrum as a sequence, group-channel-attention guidance.
# --------------------------------------------------------------------------------------------


def resolve_band_group(band_group: int | str, spectral_bands: int, max_tokens: int = 16) -> int:
    """Bands per spectral token: an int, or "auto" = ceil(B / 16), i.e. at most 16 spectral
    tokens (144 HSI bands -> 9 per token, 5 PCA components -> 1 per token)."""
    if band_group == "auto":
        return max(1, math.ceil(spectral_bands / max_tokens))
    expect(
        isinstance(band_group, int) and band_group >= 1,
        ConfigError,
        f"band_group must be 'auto' or an int >= 1, found {band_group!r}",
    )
    assert isinstance(band_group, int)
    return band_group


class SpectralTokens(nn.Module):
    """Centre spectrum (b, C) -> tokens (b, l, d): the spectral modality in groups of `band_group`
    bands (last group zero-padded), each linearly embedded; one token per auxiliary modality
    (lidar, sar, ...) placed after the spectrum, so the causal scan reads them with the whole
    spectrum already in its state; plus a learned position embedding."""

    def __init__(self, channel_groups: dict[str, int], width: int, band_group: int | str = "auto") -> None:
        super().__init__()
        expect(
            len(channel_groups) >= 1 and all(c >= 1 for c in channel_groups.values()),
            ConfigError,
            f"channel_groups must name >= 1 modality with >= 1 channel each, found {channel_groups}",
        )
        sizes = list(channel_groups.values())
        self.sizes = sizes
        self.band_group = resolve_band_group(band_group, sizes[0])
        self.n_spectral = math.ceil(sizes[0] / self.band_group)
        self.embed = nn.Linear(self.band_group, width)
        self.aux = nn.ModuleList([nn.Linear(c, width) for c in sizes[1:]])
        self.pos = nn.Parameter(torch.zeros(self.n_spectral + len(sizes) - 1, width))
        nn.init.trunc_normal_(self.pos, std=0.02)

    @property
    def length(self) -> int:
        return int(self.pos.shape[0])

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        """(b, C) -> (b, l, d)."""
        parts = torch.split(spectrum, self.sizes, dim=1)
        bands = F.pad(parts[0], (0, self.n_spectral * self.band_group - self.sizes[0]))
        tokens = [self.embed(rearrange(bands, "b (l g) -> b l g", g=self.band_group))]
        tokens += [embed(part)[:, None] for embed, part in zip(self.aux, parts[1:], strict=True)]
        return torch.cat(tokens, dim=1) + self.pos


class MambaBranch(GuidedBranch):
    """Centre-region spectrum -> SpectralTokens -> K ResidualMambaLayers, each followed by
    GroupChannelAttention with guide k pooled at the patch centre -> mean over tokens + norm."""

    def __init__(
        self, channel_groups: dict[str, int], n_classes: int, cfg: BDGFConfig, guide_channels: Sequence[int] = ()
    ) -> None:
        super().__init__(sum(channel_groups.values()), n_classes, cfg, guide_channels)
        width, stages = cfg.width, cfg.stages
        self.tokens = SpectralTokens(channel_groups, width, cfg.band_group)
        self.layers = nn.ModuleList([ResidualMambaLayer(cfg.mamba()) for _ in range(stages)])
        self.attention = nn.ModuleList(
            [
                GroupChannelAttention(
                    width, self.guide_width(k), cfg.attention_groups, cfg.reduction, enabled=self.guided
                )
                for k in range(stages)
            ]
        )
        self.norm = nn.LayerNorm(width)

    def encode(self, x: torch.Tensor, guides: list[torch.Tensor | None]) -> torch.Tensor:
        h = self.tokens(centre_region(x))  # (b, l, d)
        for layer, attention, g in zip(self.layers, self.attention, guides, strict=True):
            # docs/METHOD.md §3: Mamba stage k, then group channel attention from guide k at the centre
            h = attention(layer(h), None if g is None else centre_region(g))
        return self.norm(h.mean(dim=1))


# --------------------------------------------------------------------------------------------
# Transformer branch: pixel tokens of the patch, cross-attention guidance.
# --------------------------------------------------------------------------------------------


class EncoderLayer(nn.Module):
    """Pre-norm Transformer encoder layer, (b, n, d) -> (b, n, d):
    h = h + Attention(norm(h), norm(h)); h = h + MLP(norm(h))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, h: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """queries: keep only the first `queries` tokens' outputs (b, queries, d). Each token's
        output reads every token but is computed on its own, so the kept rows equal those of the
        full layer; the last stage of TransformerBranch needs only the class token."""
        n = self.norm1(h)
        if queries is not None:
            h, q = h[:, :queries], n[:, :queries]
        else:
            q = n
        h = h + self.attn(q, n)
        return h + self.mlp(self.norm2(h))


class TransformerBranch(GuidedBranch):
    """Pixel tokens (p*p, each the C channels embedded to d) + class token + learned position;
    K pre-norm encoder layers (self-attention + MLP), each followed by CrossAttention to guide k;
    the normalised class token -> (b, d).

    `cross_queries` picks the tokens that query the guide: "cls" (the class token, as MFT's
    single CLS token attends to the other modality's patch tokens; pixel tokens then read the
    guidance from it in the next self-attention) or "all" (every token). "cls" costs ~45% less:
    a 122 x 121 attention per stage is most of this branch's time on CPU.

    The position table covers `max_patch` x `max_patch` pixels; a smaller odd patch uses its
    centre, so positions mean "offset from the classified pixel" for every patch size."""

    def __init__(self, in_channels: int, n_classes: int, cfg: BDGFConfig, guide_channels: Sequence[int] = ()) -> None:
        super().__init__(in_channels, n_classes, cfg, guide_channels)
        width, stages, heads, max_patch = cfg.width, cfg.stages, cfg.heads, cfg.max_patch
        self.cross_queries = cfg.cross_queries
        self.embed = nn.Linear(in_channels, width)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.zeros(max_patch, max_patch, width))
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.max_patch = max_patch
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList([EncoderLayer(width, heads, cfg.mlp_ratio) for _ in range(stages)])
        self.cross = nn.ModuleList(
            [CrossAttention(width, self.guide_width(k), heads, enabled=self.guided) for k in range(stages)]
        )
        self.norm = nn.LayerNorm(width)

    def positions(self, p: int) -> torch.Tensor:
        """(p*p, d): the centre p x p of the position table."""
        expect(
            p <= self.max_patch and p % 2 == 1,
            DataError,
            f"TransformerBranch: patch side must be odd and <= max_patch={self.max_patch}, found {p}",
        )
        o = (self.max_patch - p) // 2
        return rearrange(self.pos[o : o + p, o : o + p], "p q d -> (p q) d")

    def encode(self, x: torch.Tensor, guides: list[torch.Tensor | None]) -> torch.Tensor:
        pos = self.positions(x.shape[-1])
        tokens = self.embed(rearrange(x, "b C p q -> b (p q) C")) + pos  # (b, p*p, d)
        h = self.dropout(torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1))  # (b, n, d)
        for k, (layer, cross, g) in enumerate(zip(self.layers, self.cross, guides, strict=True)):
            # Only the class token leaves the last stage (cross-attention, like self-attention,
            # computes each query's row on its own): ~1/K of the branch's work saved, same output.
            last = k == self.stages - 1
            h = layer(h, queries=1 if last else None)
            if g is None:
                continue
            # docs/METHOD.md §3: encoder layer k, then cross-attention to guide k
            h = (
                cross(h, g, pos)
                if self.cross_queries == "all" or last
                else torch.cat([cross(h[:, :1], g, pos), h[:, 1:]], dim=1)
            )
        return self.norm(h[:, 0])
