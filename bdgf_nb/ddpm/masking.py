"""Adaptive modality masking (BDGF.md step 1), in the spirit of OGM-GE.

The dominance rho_m of modality m comes from one of two signals (`signal`):
- "reliance" (default): d_m = cross-modal reliance on m (balance.py: how much the denoiser uses
  m to denoise the others), measured each epoch on a held-out batch; rho_m = d_m / mean_{j!=m} d_j.
  This is the quantity the balance plot shows, so masking acts on what it is judged by.
- "loss": a learning-progress ratio r_m = EMA(L_m) / L_m(start) (smaller = learned faster =
  dominant); rho_m = mean_{j != m} r_j / r_m (for two modalities rho_hsi = r_lidar / r_hsi,
  BDGF.md's OGM-GE-style rule). Measured here: on data where one modality is easy to denoise on
  its own but carries little of the other's information (a DSM), this signal and cross-modal
  reliance disagree, so "loss" can hide the wrong modality (see the note in pretrain history).
After the warm-up

    p_mask(m) = p0 + (p_max - p0) * tanh(alpha * relu(rho_m - 1)),

so the dominant modality is hidden more and the weak one is forced to be learned. During the
warm-up (the first `warmup_fraction` of the training steps) every modality is hidden with p0.
L_m(start) is the mean of the first `start_window` observed losses of m.

Modes: "none" (p = 0), "random" (p = random_p for each modality), "adaptive" (above).
Sampling hides at most ONE modality per sample (categorical over [m_1 .. m_M, none]), so no
sample ever loses all its modalities (with one modality nothing is hidden). The marginal
probability of hiding m is exactly p_m when sum_m p_m <= 1 (always for two modalities with
p_max <= 0.5); otherwise all p_m are scaled down by their sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bdgf_nb.errors import ConfigError, check_fields, expect

MODES = ("none", "random", "adaptive")
SIGNALS = ("reliance", "loss")


@dataclass
class MaskingConfig:
    mode: str = "adaptive"
    p0: float = 0.1
    p_max: float = 0.5
    alpha: float = 0.5
    warmup_fraction: float = 0.1
    ema: float = 0.9
    random_p: float = 0.25
    start_window: int = 10
    signal: str = "reliance"  # "reliance" | "loss" (see module docstring)

    def __post_init__(self) -> None:
        check_fields(self)
        expect(self.signal in SIGNALS, ConfigError, f"signal must be one of {list(SIGNALS)}, found {self.signal!r}")
        expect(self.mode in MODES, ConfigError, f"mode must be one of {list(MODES)}, found {self.mode!r}")
        expect(0.0 <= self.p_max <= 1.0, ConfigError, f"p_max must be in [0, 1], found {self.p_max}")
        expect(0.0 <= self.p0 <= self.p_max, ConfigError, f"p0 must be in [0, p_max={self.p_max}], found {self.p0}")
        expect(self.alpha >= 0.0, ConfigError, f"alpha must be >= 0, found {self.alpha}")
        expect(0.0 <= self.warmup_fraction <= 1.0, ConfigError, f"warmup_fraction must be in [0, 1], found {self.warmup_fraction}")
        expect(0.0 <= self.ema < 1.0, ConfigError, f"ema must be in [0, 1), found {self.ema}")
        expect(0.0 <= self.random_p <= self.p_max, ConfigError, f"random_p must be in [0, p_max={self.p_max}], found {self.random_p}")
        expect(self.start_window >= 1, ConfigError, f"start_window must be >= 1, found {self.start_window}")


class ModalityMasker:
    """Draws which modality each sample hides and adapts the probabilities to the losses.

    All state is python floats / ints, so `state_dict()` round-trips exactly."""

    def __init__(self, cfg: MaskingConfig, n_modalities: int, total_steps: int) -> None:
        expect(n_modalities >= 1, ConfigError, f"n_modalities must be >= 1, found {n_modalities}")
        self.cfg, self.n, self.total_steps = cfg, n_modalities, max(1, int(total_steps))
        self.warmup_steps = math.ceil(cfg.warmup_fraction * self.total_steps)
        self.step = 0
        self.ema: list[float | None] = [None] * n_modalities
        self.start_sum = [0.0] * n_modalities
        self.start_count = [0] * n_modalities
        self.reliance: list[float] | None = None

    @property
    def ratios(self) -> list[float]:
        """r_m = EMA(L_m) / L_m(start); 1.0 until both are known."""
        out = []
        for m in range(self.n):
            ema, count = self.ema[m], self.start_count[m]
            start = self.start_sum[m] / count if count else 0.0
            out.append(ema / start if ema is not None and start > 0 else 1.0)
        return out

    @property
    def probabilities(self) -> list[float]:
        """Target probability of hiding each modality, in [0, p_max]."""
        cfg = self.cfg
        if self.n < 2 or cfg.mode == "none":
            return [0.0] * self.n
        if cfg.mode == "random":
            return [cfg.random_p] * self.n
        if self.step < self.warmup_steps:
            return [cfg.p0] * self.n
        return [cfg.p0 + (cfg.p_max - cfg.p0) * math.tanh(cfg.alpha * max(rho - 1.0, 0.0)) for rho in self.dominance]

    @property
    def dominance(self) -> list[float]:
        """rho_m > 1: modality m dominates the others (1.0 while the signal is unknown)."""
        if self.cfg.signal == "reliance":
            if self.reliance is None:
                return [1.0] * self.n
            d = [max(v, 0.0) for v in self.reliance]
            others = [(sum(d) - d[m]) / (self.n - 1) for m in range(self.n)]
            return [d[m] / others[m] if others[m] > 0 else (1.0 if d[m] == 0 else 10.0) for m in range(self.n)]
        r = self.ratios
        return [((sum(r) - r[m]) / (self.n - 1)) / r[m] if r[m] > 0 else 1.0 for m in range(self.n)]

    def observe_reliance(self, reliance: Sequence[float]) -> None:
        """Latest cross-modal reliance per modality (NaN entries are ignored)."""
        values = [float(v) for v in reliance]
        expect(len(values) == self.n, ConfigError, f"expected {self.n} reliance values, found {len(values)}")
        if not any(math.isnan(v) for v in values):
            self.reliance = values

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(b, M) bool, True = hidden; at most one modality per sample."""
        hidden = torch.zeros(batch_size, self.n, dtype=torch.bool)
        probs = self.probabilities
        if sum(probs) == 0.0:
            return hidden
        total = sum(probs)
        scale = 1.0 / total if total > 1.0 else 1.0
        edges = torch.tensor([0.0, *[scale * p for p in probs]], dtype=torch.float64).cumsum(0)
        u = torch.rand(batch_size, generator=generator, dtype=torch.float64)
        choice = torch.searchsorted(edges, u, right=True) - 1  # m where edges[m] <= u < edges[m+1]
        rows = torch.nonzero(choice < self.n).squeeze(1)
        hidden[rows, choice[rows]] = True
        return hidden

    def update(self, per_modality_losses: Sequence[float] | torch.Tensor) -> None:
        """One training step's per-modality losses (NaN = modality not visible: skipped)."""
        losses = [float(v) for v in per_modality_losses]
        expect(len(losses) == self.n, ConfigError, f"expected {self.n} per-modality losses, found {len(losses)}")
        for m, value in enumerate(losses):
            if math.isnan(value):
                continue
            if self.start_count[m] < self.cfg.start_window:
                self.start_sum[m] += value
                self.start_count[m] += 1
            previous = self.ema[m]
            self.ema[m] = value if previous is None else self.cfg.ema * previous + (1 - self.cfg.ema) * value
        self.step += 1

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "ema": list(self.ema), "start_sum": list(self.start_sum), "start_count": list(self.start_count), "reliance": self.reliance}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expect(len(state["ema"]) == self.n, ConfigError, f"masker state holds {len(state['ema'])} modalities, expected {self.n}")
        self.step = int(state["step"])
        self.ema = list(state["ema"])
        self.start_sum = list(state["start_sum"])
        self.start_count = list(state["start_count"])
        self.reliance = None if state.get("reliance") is None else list(state["reliance"])
