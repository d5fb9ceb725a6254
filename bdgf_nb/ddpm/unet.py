"""The denoiser of the masked multimodal DDPM (docs/METHOD.md §1): a small 2-D U-Net.

Glossary: b batch, C stacked channels (spectral first, then auxiliary modalities), p patch side,
M modalities, K = len(channel_mults) decoder levels, G_k channels of decoder level k.

Layout (DDPM / guided-diffusion style, without attention: patches are 11 x 11)::

    x_t --mask embedding--> conv3x3 --> [ResBlock x n, Down]  per level  --> ResBlock x 2 (middle)
        --> [ResBlock x (n + 1) with skip concat, Up] per level, coarse to fine --> GroupNorm,
        SiLU, conv3x3 (zero-initialised) --> eps_hat

Odd patches: with L levels the U-Net downsamples L - 1 times by 2, so inputs are reflect-padded
at the bottom/right to a multiple of 2**(L-1) (11 -> 12 for L = 3) and outputs cropped back.

Hidden modalities (docs/METHOD.md §1, eq. (4)): the hidden channels
of x_t are replaced by a learned per-channel value, so nothing of the hidden modality (signal or
noise) reaches the network. We apply it to x_t (after noising) rather than to x0: either way the
hidden modality carries no information, and this way the mask embedding is not scaled by noise.
A mask may be per sample (b, M) or per pixel (b, M, p, p) (the widget's partial masks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from bdgf_nb.config_checks import check_fields
from bdgf_nb.errors import ConfigError, expect


@dataclass
class UNetConfig:
    """Denoiser size. `modality_channels` = channels per modality in stacked order (spectral
    first); empty means one modality of `in_channels`. `time_embed_dim` 0 -> 4 * base_width."""

    in_channels: int = 1
    base_width: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 2
    time_embed_dim: int = 0
    dropout: float = 0.0
    norm_groups: int = 8
    modality_channels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_fields(self)
        self.channel_mults = tuple(int(m) for m in self.channel_mults)
        self.modality_channels = tuple(int(c) for c in self.modality_channels) or (self.in_channels,)
        expect(self.in_channels >= 1, ConfigError, f"in_channels must be >= 1, found {self.in_channels}")
        expect(
            len(self.channel_mults) >= 1 and min(self.channel_mults) >= 1,
            ConfigError,
            f"channel_mults must be positive ints, found {self.channel_mults}",
        )
        expect(self.num_res_blocks >= 1, ConfigError, f"num_res_blocks must be >= 1, found {self.num_res_blocks}")
        expect(
            self.time_embed_dim >= 0,
            ConfigError,
            f"time_embed_dim must be >= 0 (0 = 4 * base_width), found {self.time_embed_dim}",
        )
        expect(0.0 <= self.dropout < 1.0, ConfigError, f"dropout must be in [0, 1), found {self.dropout}")
        expect(
            self.base_width >= 1 and self.norm_groups >= 1 and self.base_width % self.norm_groups == 0,
            ConfigError,
            f"base_width must be a positive multiple of norm_groups={self.norm_groups}, found {self.base_width}",
        )
        expect(
            sum(self.modality_channels) == self.in_channels and min(self.modality_channels) >= 1,
            ConfigError,
            f"modality_channels must be positive and sum to in_channels={self.in_channels}, "
            f"found {self.modality_channels}",
        )
        if self.time_embed_dim == 0:
            self.time_embed_dim = 4 * self.base_width

    @property
    def n_modalities(self) -> int:
        return len(self.modality_channels)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Transformer / DDPM): (b,) -> (b, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    return F.pad(emb, (0, dim % 2))


def _zero(conv: nn.Conv2d) -> None:
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, + time embedding, GroupNorm -> SiLU -> dropout -> conv, + skip."""

    def __init__(self, c_in: int, c_out: int, t_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(math.gcd(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(math.gcd(groups, c_out), c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        _zero(self.conv2)  # each block starts as the identity (guided-diffusion)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class DenoiserUNet(nn.Module):
    """eps_theta(x_t, t, mask): predicts the noise of x_t (DDPM eq. 14's eps_theta).

    forward: x_t (b, C, p, p), t (b,) int64, modality_mask None | (b, M) | (b, M, p, p) bool
    (True = hidden) -> eps_hat (b, C, p, p)."""

    channel_modality: torch.Tensor  # (C,) modality index of each channel

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.base_width * m for m in cfg.channel_mults]
        t_dim, groups, n = cfg.time_embed_dim, cfg.norm_groups, cfg.num_res_blocks
        self.mask_embedding = nn.Parameter(torch.zeros(cfg.in_channels))
        self.register_buffer(
            "channel_modality",
            torch.repeat_interleave(torch.arange(cfg.n_modalities), torch.tensor(cfg.modality_channels)),
            persistent=False,
        )
        self.time_mlp = nn.Sequential(nn.Linear(cfg.base_width, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.stem = nn.Conv2d(cfg.in_channels, widths[0], 3, padding=1)
        # Encoder: remember the width of every skip it emits (stem, each block, each downsample).
        self.down_blocks, self.downsamples = nn.ModuleList(), nn.ModuleList()
        skips, ch = [widths[0]], widths[0]
        for level, width in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(n):
                blocks.append(ResBlock(ch, width, t_dim, groups, cfg.dropout))
                ch = width
                skips.append(ch)
            self.down_blocks.append(blocks)
            if level < len(widths) - 1:
                self.downsamples.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.middle = nn.ModuleList([ResBlock(ch, ch, t_dim, groups, cfg.dropout) for _ in range(2)])
        # Decoder, coarse to fine: n + 1 blocks per level, each consuming one skip.
        self.up_blocks, self.upsamples = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            blocks = nn.ModuleList()
            for _ in range(n + 1):
                blocks.append(ResBlock(ch + skips.pop(), widths[level], t_dim, groups, cfg.dropout))
                ch = widths[level]
            self.up_blocks.append(blocks)
            if level > 0:
                self.upsamples.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out_norm = nn.GroupNorm(math.gcd(groups, ch), ch)
        self.out_conv = nn.Conv2d(ch, cfg.in_channels, 3, padding=1)
        _zero(self.out_conv)  # eps_hat = 0 at init: the loss starts at E[eps^2] = 1
        self.feature_channels = tuple(widths)  # G_k of forward_features, fine to coarse

    def apply_mask(self, x: torch.Tensor, modality_mask: torch.Tensor | None) -> torch.Tensor:
        """Replace hidden entries by the learned mask embedding: (b, C, h, w) -> (b, C, h, w)."""
        if modality_mask is None:
            return x
        hidden = self.hidden_channels(modality_mask)
        return torch.where(hidden, self.mask_embedding.to(x.dtype)[None, :, None, None], x)

    def hidden_channels(self, modality_mask: torch.Tensor) -> torch.Tensor:
        """A (b, M) or (b, M, h, w) modality mask spread over the channels: (b, C, 1|h, 1|w) bool."""
        mask = modality_mask.to(torch.bool)
        if mask.ndim == 2:
            mask = mask[:, :, None, None]
        expect(
            mask.ndim == 4 and mask.shape[1] == self.cfg.n_modalities,
            ConfigError,
            f"modality_mask must be (b, {self.cfg.n_modalities}) "
            f"or (b, {self.cfg.n_modalities}, h, w), found {tuple(modality_mask.shape)}",
        )
        return mask[:, self.channel_modality]  # each channel follows its modality

    def _decode(
        self, x_t: torch.Tensor, t: torch.Tensor, modality_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the U-Net on the padded input; returns the padded output and the decoder maps
        (coarse to fine, at their own resolutions)."""
        levels = len(self.cfg.channel_mults)
        multiple = 2 ** (levels - 1)
        h, w = x_t.shape[-2:]
        pad_h, pad_w = (-h) % multiple, (-w) % multiple
        x = self.apply_mask(x_t, modality_mask)
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        temb = self.time_mlp(timestep_embedding(t.to(x.device).expand(x.shape[0]), self.cfg.base_width))
        hs = [self.stem(x)]
        for level, blocks in enumerate(self.down_blocks):
            for block in cast(nn.ModuleList, blocks):
                hs.append(block(hs[-1], temb))
            if level < len(self.downsamples):
                hs.append(self.downsamples[level](hs[-1]))
        h_ = hs[-1]
        for block in self.middle:
            h_ = block(h_, temb)
        maps = []
        for i, blocks in enumerate(self.up_blocks):
            for block in cast(nn.ModuleList, blocks):
                h_ = block(torch.cat([h_, hs.pop()], dim=1), temb)
            maps.append(h_)
            if i < len(self.upsamples):
                h_ = self.upsamples[i](F.interpolate(h_, scale_factor=2.0, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h_))), maps

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, modality_mask: torch.Tensor | None = None) -> torch.Tensor:
        out, _ = self._decode(x_t, t, modality_mask)
        return out[..., : x_t.shape[-2], : x_t.shape[-1]]

    def forward_features(
        self, x_t: torch.Tensor, t: torch.Tensor, modality_mask: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Decoder features (docs/METHOD.md §2): K maps ordered FINE TO COARSE (k = 0 is the
        full-resolution last decoder level, for the branches' shallow stages), each bilinearly
        upsampled to the padded input size and cropped to the input: (b, G_k, h, w)."""
        _, maps = self._decode(x_t, t, modality_mask)
        h, w = x_t.shape[-2:]
        size = maps[-1].shape[-2:]
        full = [
            m if m.shape[-2:] == size else F.interpolate(m, size=size, mode="bilinear", align_corners=False)
            for m in reversed(maps)
        ]
        return [m[..., :h, :w] for m in full]
