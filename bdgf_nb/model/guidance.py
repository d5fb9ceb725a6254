"""How diffusion features guide each branch (docs/METHOD.md §3): one module per branch type.

Glossary:
    b: batch size    c: branch channels (CNN)    p: patch side    G: guide channels (G_k)
    l: sequence length (Mamba tokens)    d: token width    n: number of branch tokens

- `FeatureFusion` (CNN): concat the guide map to the feature map, 1x1 conv back to c, residual.
- `GroupChannelAttention` (Mamba): the guide pooled at the patch centre and the mean-pooled
  sequence give per-group squeeze-excitation gates on the d channels of the sequence state.
- `CrossAttention` (Transformer): branch tokens query the guide map's p*p pixel tokens.

Every module takes `enabled`: a disabled module builds no parameters and returns the branch
input unchanged without looking at the guide, so "no guidance" ablations cost nothing and
count no unused weights. The guide is normalised inside each module: decoder activations of a
DDPM have no fixed scale, and the branch should not have to learn it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from bdgf_nb.errors import ConfigError, DataError, expect


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups: batch-size independent, so it also trains on 1x1 patches
    with a last batch of one sample (where BatchNorm fails)."""
    return nn.GroupNorm(math.gcd(8, channels), channels)


def centre_region(x: torch.Tensor) -> torch.Tensor:
    """(b, C, p, p) -> (b, C): mean over the central 3x3 pixels, or the whole patch when p < 3
    (the pixel being classified plus its nearest neighbours; docs/METHOD.md §3, Mamba branch)."""
    p = x.shape[-1]
    if p < 3:
        return x.mean(dim=(-2, -1))
    r = p // 2
    return x[..., r - 1 : r + 2, r - 1 : r + 2].mean(dim=(-2, -1))


def check_guides(guides: Sequence[torch.Tensor], guide_channels: Sequence[int], x: torch.Tensor, owner: str) -> None:
    """Raise DataError unless `guides` are K = len(guide_channels) maps (b, G_k, p, p) matching
    x (b, C, p, p): one guide per stage, with the channels the modules were built for."""
    expect(
        len(guides) == len(guide_channels),
        DataError,
        f"{owner}: expected {len(guide_channels)} guides "
        f"(one per stage, channels {list(guide_channels)}), found {len(guides)}",
    )
    b, p = x.shape[0], x.shape[-1]
    for k, (g, channels) in enumerate(zip(guides, guide_channels, strict=True)):
        expected = (b, channels, p, p)
        expect(
            tuple(g.shape) == expected,
            DataError,
            f"{owner}: guide {k} expected shape (b, G_k, p, p) = {expected}, found {tuple(g.shape)}",
        )


class FeatureFusion(nn.Module):
    """CNN guidance: h + act(norm(conv1x1([h, norm(g)]))), (b, c, p, p) -> (b, c, p, p)."""

    def __init__(self, channels: int, guide_channels: int, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled
        if enabled:
            self.guide_norm = nn.GroupNorm(1, guide_channels)  # per-sample scale of the guide map
            self.fuse = nn.Sequential(
                nn.Conv2d(channels + guide_channels, channels, 1, bias=False), group_norm(channels), nn.GELU()
            )

    def forward(self, h: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """h (b, c, p, p), g (b, G, p, p) -> (b, c, p, p)."""
        if not self.enabled:
            return h
        expect(g is not None, DataError, "FeatureFusion is enabled but got no guide")
        assert g is not None
        # conv1x1([h, g']) = W_h h + W_g g': two convs on the weight's halves, no concatenated copy
        conv, rest = self.fuse[0], self.fuse[1:]
        assert isinstance(conv, nn.Conv2d)
        c = h.shape[1]
        mixed = F.conv2d(h, conv.weight[:, :c]) + F.conv2d(self.guide_norm(g), conv.weight[:, c:])
        return h + rest(mixed)


class GroupChannelAttention(nn.Module):
    """Mamba guidance: h * sigmoid(gates), one squeeze-excitation per channel group.

    Group i of the d channels gets gates from its own slice of the mean-pooled sequence and its
    own slice of the projected guide (a grouped 1x1 bottleneck of width 2d/groups/reduction), so
    each group of the state is steered separately (docs/METHOD.md §3: 4 groups, reduction 4)."""

    def __init__(
        self, channels: int, guide_channels: int, groups: int = 4, reduction: int = 4, enabled: bool = True
    ) -> None:
        super().__init__()
        expect(
            groups >= 1 and channels % groups == 0,
            ConfigError,
            f"GroupChannelAttention: channels ({channels}) must be divisible by groups ({groups})",
        )
        expect(reduction >= 1, ConfigError, f"GroupChannelAttention: reduction must be >= 1, found {reduction}")
        self.enabled, self.groups = enabled, groups
        if enabled:
            hidden = groups * max(1, 2 * (channels // groups) // reduction)
            self.guide_proj = nn.Sequential(nn.LayerNorm(guide_channels), nn.Linear(guide_channels, channels))
            self.squeeze = nn.Conv1d(2 * channels, hidden, 1, groups=groups)
            self.excite = nn.Conv1d(hidden, channels, 1, groups=groups)

    def forward(self, h: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        """h (b, l, d), g (b, G) the guide pooled at the patch centre -> (b, l, d)."""
        if not self.enabled:
            return h
        expect(g is not None, DataError, "GroupChannelAttention is enabled but got no guide")
        assert g is not None
        pooled = rearrange(h.mean(dim=1), "b (k c) -> b k c", k=self.groups)  # squeeze over l
        guide = rearrange(self.guide_proj(g), "b (k c) -> b k c", k=self.groups)
        s = rearrange(torch.cat([pooled, guide], dim=-1), "b k c -> b (k c) 1")  # group-major for groups=k convs
        gates = torch.sigmoid(self.excite(F.gelu(self.squeeze(s))))  # (b, d, 1)
        return h * rearrange(gates, "b d 1 -> b 1 d")


class Attention(nn.Module):
    """Multi-head attention of queries x (b, n, d) over a context (b, m, d) -> (b, n, d).

    F.scaled_dot_product_attention runs a fused kernel on CPU too. No dropout on the attention
    weights: it forces the unfused path, measured ~10x slower on 2 CPU cores at b=64, n=122."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        expect(
            heads >= 1 and dim % heads == 0, ConfigError, f"Attention: dim ({dim}) must be divisible by heads ({heads})"
        )
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = rearrange(self.query(x), "b n (h e) -> b h n e", h=self.heads)
        k, v = rearrange(self.key_value(context), "b m (two h e) -> two b h m e", two=2, h=self.heads)
        y = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(e)) v
        return self.out(rearrange(y, "b h n e -> b n (h e)"))


class CrossAttention(nn.Module):
    """Transformer guidance: h + Attention(norm(h), guide tokens), pre-norm residual.

    Guide tokens are the guide map's p*p pixels (normalised, projected to d); an optional
    positional embedding `pos` (p*p, d) tells the queries where each guide token lies."""

    def __init__(self, dim: int, guide_channels: int, heads: int = 8, enabled: bool = True) -> None:
        super().__init__()
        expect(
            heads >= 1 and dim % heads == 0,
            ConfigError,
            f"CrossAttention: dim ({dim}) must be divisible by heads ({heads})",
        )
        self.enabled = enabled
        if enabled:
            self.norm = nn.LayerNorm(dim)
            self.guide_proj = nn.Sequential(nn.LayerNorm(guide_channels), nn.Linear(guide_channels, dim))
            self.attn = Attention(dim, heads)

    def forward(self, h: torch.Tensor, g: torch.Tensor | None, pos: torch.Tensor | None = None) -> torch.Tensor:
        """h (b, n, d) branch tokens, g (b, G, p, p) guide map -> (b, n, d)."""
        if not self.enabled:
            return h
        expect(g is not None, DataError, "CrossAttention is enabled but got no guide")
        assert g is not None
        tokens = self.guide_proj(rearrange(g, "b G p q -> b (p q) G"))  # (b, p*p, d)
        if pos is not None:
            tokens = tokens + pos
        return h + self.attn(self.norm(h), tokens)
