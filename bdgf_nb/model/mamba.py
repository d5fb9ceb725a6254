"""Mamba block (Gu & Dao 2023, Fig. 3 and Algorithm 2) for the spectral branch (docs/METHOD.md §3).

Glossary (mamba-minimal style):
    b: batch size    l: sequence length (band groups)    d_model: token width
    d: d_inner = expand * d_model    n: d_state    r: dt_rank

    x (b, l, d_model) -> in_proj -> [x, z] (b, l, d) each
    x -> causal depthwise conv1d (kernel d_conv) -> SiLU
    x -> x_proj -> [dt (r), B (n), C (n)] per token (the "selective", input-dependent part)
    y = selective_scan(x, dt_proj(dt), A = -exp(A_log), B, C, D, z, softplus(. + dt bias))
    y -> out_proj -> (b, l, d_model)

Initialisation follows state-spaces/mamba (`mamba_simple.Mamba`): S4D-real A = -(1..n) per
channel, D = 1, dt bias = softplus^-1 of dt drawn log-uniformly in [dt_min, dt_max]. Parameters
draw from torch's global RNG: call `torch.manual_seed(seed)` before building for a fixed init.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from bdgf_nb.config_checks import check_fields
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.model.scan import BACKENDS, selective_scan

try:
    from causal_conv1d import causal_conv1d_fn
except ImportError:
    causal_conv1d_fn = None


def causal_depthwise_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """y_t = bias + sum_k w_k x_{t - (w - 1) + k}, x (b, d, l), weight (d, 1, w) -> (b, d, l): the
    causal half of nn.Conv1d(padding=w - 1), as w shifted multiply-adds. At the Mamba branch's
    lengths (6-17 tokens) oneDNN's depthwise conv is mostly overhead: this form measured ~2x
    faster forward and ~1.7x forward+backward (docs/BENCH.md)."""
    w, length = weight.shape[-1], x.shape[-1]
    padded = F.pad(x, (w - 1, 0))
    taps = weight[:, 0]  # (d, w)
    y = padded[..., :length] * taps[:, :1]
    for k in range(1, w):
        y = y + padded[..., k : k + length] * taps[:, k : k + 1]
    return y if bias is None else y + bias[:, None]


@dataclass
class MambaConfig:
    d_model: int
    d_state: int = 16  # n (docs/METHOD.md §7: MambaHSI's default)
    d_conv: int = 4
    expand: int = 2
    dt_rank: int | str = "auto"  # "auto" -> ceil(d_model / 16)
    dt_min: float = 0.001
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4
    conv_bias: bool = True
    bias: bool = False  # in_proj / out_proj
    norm: str = "rmsnorm"  # ResidualMambaLayer: "rmsnorm" | "layernorm"
    backend: str = "auto"  # selective_scan backend, see scan.py
    d_inner: int = field(init=False)  # derived: expand * d_model

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("d_model", "d_state", "d_conv", "expand"):
            value = getattr(self, name)
            expect(isinstance(value, int) and value >= 1, ConfigError, f"{name} must be an int >= 1, found {value!r}")
        if self.dt_rank == "auto":
            self.dt_rank = math.ceil(self.d_model / 16)
        expect(
            isinstance(self.dt_rank, int) and self.dt_rank >= 1,
            ConfigError,
            f"dt_rank must be 'auto' or an int >= 1, found {self.dt_rank!r}",
        )
        expect(
            0 < self.dt_min <= self.dt_max,
            ConfigError,
            f"dt_min and dt_max must satisfy 0 < dt_min <= dt_max, found dt_min={self.dt_min}, dt_max={self.dt_max}",
        )
        expect(self.dt_init_floor > 0, ConfigError, f"dt_init_floor must be > 0, found {self.dt_init_floor}")
        expect(
            self.norm in ("rmsnorm", "layernorm"),
            ConfigError,
            f"norm must be one of ['rmsnorm', 'layernorm'], found {self.norm!r}",
        )
        expect(
            self.backend in BACKENDS, ConfigError, f"backend must be one of {list(BACKENDS)}, found {self.backend!r}"
        )
        self.d_inner = self.expand * self.d_model

    @property
    def rank(self) -> int:
        """dt_rank as an int (resolved from "auto" in __post_init__)."""
        assert isinstance(self.dt_rank, int)
        return self.dt_rank


class MambaBlock(nn.Module):
    """One selective-SSM block: (b, l, d_model) -> (b, l, d_model), causal along l."""

    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.in_proj = nn.Linear(c.d_model, 2 * c.d_inner, bias=c.bias)
        # Depthwise conv padded d_conv - 1 on both sides; keeping the first l outputs makes it causal.
        self.conv1d = nn.Conv1d(
            c.d_inner, c.d_inner, c.d_conv, groups=c.d_inner, padding=c.d_conv - 1, bias=c.conv_bias
        )
        self.x_proj = nn.Linear(c.d_inner, c.rank + 2 * c.d_state, bias=False)
        self.dt_proj = nn.Linear(c.rank, c.d_inner, bias=True)
        self._init_dt()
        A = repeat(torch.arange(1, c.d_state + 1, dtype=torch.float32), "n -> d n", d=c.d_inner)
        self.A_log = nn.Parameter(torch.log(A))  # S4D-real: A = -(1, 2, ..., n)
        self.D = nn.Parameter(torch.ones(c.d_inner))
        self.out_proj = nn.Linear(c.d_inner, c.d_model, bias=c.bias)

    def _init_dt(self) -> None:
        """dt_proj as in mamba_simple: weight ~ U(+-r^-0.5); bias = softplus^-1(dt), dt
        log-uniform in [dt_min, dt_max], so softplus(bias) starts inside that range."""
        c = self.config
        std = c.rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        log_dt = torch.rand(c.d_inner) * (math.log(c.dt_max) - math.log(c.dt_min)) + math.log(c.dt_min)
        dt = torch.exp(log_dt).clamp(min=c.dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        """Causal depthwise conv + SiLU, (b, d, l) -> (b, d, l)."""
        if causal_conv1d_fn is not None and x.is_cuda:
            weight = rearrange(self.conv1d.weight, "d 1 w -> d w")
            return causal_conv1d_fn(x.contiguous(), weight, self.conv1d.bias, activation="silu")
        return F.silu(causal_depthwise_conv(x, self.conv1d.weight, self.conv1d.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, l, d_model) -> (b, l, d_model)."""
        c = self.config
        expect(
            x.dim() == 3 and x.shape[-1] == c.d_model,
            DataError,
            f"MambaBlock input must be (b, l, d_model={c.d_model}), found shape {tuple(x.shape)}",
        )
        xz = rearrange(self.in_proj(x), "b l e -> b e l")  # e = 2 * d_inner
        x, z = xz.chunk(2, dim=1)  # (b, d, l) each
        x = self._conv(x)
        x_dbl = self.x_proj(rearrange(x, "b d l -> b l d"))  # (b, l, r + 2n)
        dt, B, C = torch.split(x_dbl, [c.rank, c.d_state, c.d_state], dim=-1)
        delta = rearrange(dt @ self.dt_proj.weight.T, "b l d -> b d l")  # bias goes in as delta_bias
        B = rearrange(B, "b l n -> b n l").contiguous()
        C = rearrange(C, "b l n -> b n l").contiguous()
        A = -torch.exp(self.A_log.float())  # (d, n), negative real: a stable, decaying state
        y = selective_scan(
            x, delta, A, B, C, self.D.float(), z, self.dt_proj.bias.float(), delta_softplus=True, backend=c.backend
        )
        return self.out_proj(rearrange(y, "b d l -> b l d"))


class ResidualMambaLayer(nn.Module):
    """Pre-norm residual wrapper for stacking: x + MambaBlock(norm(x)), (b, l, d_model)."""

    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.norm: nn.Module = nn.RMSNorm(config.d_model) if config.norm == "rmsnorm" else nn.LayerNorm(config.d_model)
        self.mixer = MambaBlock(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))
