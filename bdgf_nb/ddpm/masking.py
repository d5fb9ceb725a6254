"""Adaptive modality masking as a closed loop (docs/METHOD.md §1).

The denoiser's measured balance sets how often each modality is hidden, and hiding a modality
changes the balance measured next: a feedback loop. Three pieces:

1. A bounded imbalance signal e_m. From the dominance d_m of modality m (`signal`):
   - "reliance": d_m = cross-modal reliance on m (balance.py: how much the denoiser uses
     m to denoise the others), measured once per epoch on a held-out batch;
   - "feature" (default): d_m = R^2_m, how well the frozen features, read as the branches will read them,
     reconstruct m on the held-out batch (feature_balance.patch_feature_r2): the over-carried
     modality is hidden more, so the denoiser must carry it from the others' inputs, and the
     rule turns round when the R^2 order flips;
   - "loss": d_m = 1 / r_m with r_m = EMA(L_m) / L_m(start) (smaller r = learned faster =
     dominant; the OGM-GE-style learning-progress signal), L_m(start) the mean of the first
     `start_window` losses of m;
   the normalised shares and the imbalance are

       s_m = (max(d_m, 0) + eps) / sum_j (max(d_j, 0) + eps),     e_m = s_m - 1 / M,

   with eps = `reliance_eps` for reliance (a reliance below eps counts as "not relied on"; it keeps
   s defined when every reliance is ~0) and 0 for the loss and feature signals. e_m lies in [-1/M, 1 - 1/M]:
   no ratio that explodes when one modality's reliance is ~0, no saturating fallback.
2. A set point: balanced shares, e_m = 0. The target probability is proportional to the error,

       p*_m = p0 + gain * e_m,

   so the dominant modality is hidden more than p0, the weak one less (down to 0), and a balanced
   model is hidden at the base rate p0.
3. A first-order lag: after the warm-up (the first `warmup_fraction` of the training steps, all
   p_m = p0), every training step moves p towards its target,

       p_m <- clip(p_m + k * (p*_m - p_m), 0, p_max),    k = min(1, 1 / (tau * total_steps)),

   i.e. dp/dtau' = (p* - p) / tau in units of training progress tau' = step / total_steps.
   p therefore rises while m dominates and falls again once the measured imbalance goes away.

Modes: "none" (p = 0), "random" (p = random_p for each modality), "random_matched" (p = matched_p
for each modality: the control for the claim "adaptive beats random", at the adaptive run's own
mean masking rate, see `matched_rate`), "adaptive" (above).
Sampling hides at most ONE modality per sample (categorical over [m_1 .. m_M, none]), so no
sample ever loses all its modalities (with one modality nothing is hidden). The marginal
probability of hiding m is exactly p_m when sum_m p_m <= 1 (always for two modalities with
p_max <= 0.5); otherwise all p_m are scaled down by their sum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bdgf_nb.config_checks import check_fields
from bdgf_nb.errors import ConfigError, DataError, expect

MODES = ("none", "random", "random_matched", "adaptive")
SIGNALS = ("reliance", "loss", "feature")


@dataclass
class MaskingConfig:
    mode: str = "adaptive"
    p0: float = 0.1  # base rate: warm-up, and the rate of a balanced model
    p_max: float = 0.5  # upper bound of any p_m
    gain: float = (
        0.8  # p* = p0 + gain * e; 0.8 = (p_max - p0) / (1 - 1/2): one of two modalities carrying everything -> p_max
    )
    tau: float = 0.1  # time constant of the loop, in fractions of the training steps (0 = jump to the target)
    reliance_eps: float = 0.02  # reliance below this counts as none (a 2 % loss rise); keeps shares defined at 0
    warmup_fraction: float = 0.1
    ema: float = 0.9  # EMA of the per-modality losses ("loss" signal)
    random_p: float = 0.25  # mode "random"
    matched_p: float | None = None  # mode "random_matched": the adaptive run's `matched_rate(history, names)`
    start_window: int = 10
    signal: str = "feature"  # "feature" | "reliance" | "loss" (module docstring; docs/METHOD.md §1, why "feature")

    def __post_init__(self) -> None:
        check_fields(self)
        expect(self.signal in SIGNALS, ConfigError, f"signal must be one of {list(SIGNALS)}, found {self.signal!r}")
        expect(self.mode in MODES, ConfigError, f"mode must be one of {list(MODES)}, found {self.mode!r}")
        expect(0.0 <= self.p_max <= 1.0, ConfigError, f"p_max must be in [0, 1], found {self.p_max}")
        expect(0.0 <= self.p0 <= self.p_max, ConfigError, f"p0 must be in [0, p_max={self.p_max}], found {self.p0}")
        expect(self.gain >= 0.0, ConfigError, f"gain must be >= 0, found {self.gain}")
        expect(self.tau >= 0.0, ConfigError, f"tau must be >= 0, found {self.tau}")
        expect(self.reliance_eps > 0.0, ConfigError, f"reliance_eps must be > 0, found {self.reliance_eps}")
        expect(
            0.0 <= self.warmup_fraction <= 1.0,
            ConfigError,
            f"warmup_fraction must be in [0, 1], found {self.warmup_fraction}",
        )
        expect(0.0 <= self.ema < 1.0, ConfigError, f"ema must be in [0, 1), found {self.ema}")
        expect(
            0.0 <= self.random_p <= self.p_max,
            ConfigError,
            f"random_p must be in [0, p_max={self.p_max}], found {self.random_p}",
        )
        expect(
            self.mode != "random_matched" or self.matched_p is not None,
            ConfigError,
            "matched_p must be set for mode 'random_matched' "
            "(the adaptive run's matched_rate(history, names)), found None",
        )
        expect(
            self.matched_p is None or 0.0 <= self.matched_p <= self.p_max,
            ConfigError,
            f"matched_p must be in [0, p_max={self.p_max}], found {self.matched_p}",
        )
        expect(self.start_window >= 1, ConfigError, f"start_window must be >= 1, found {self.start_window}")


def imbalance(dominance: Sequence[float], eps: float = 0.0) -> list[float]:
    """e_m = s_m - 1/M with s_m = (max(d_m, 0) + eps) / sum_j (max(d_j, 0) + eps), in [-1/M, 1 - 1/M].

    0 for every m when nothing dominates (all d_m <= 0 and eps = 0) or M < 2."""
    M = len(dominance)
    d = [max(float(v), 0.0) + eps for v in dominance]
    total = sum(d)
    if M < 2 or total <= 0.0 or not math.isfinite(total):
        return [0.0] * M
    return [v / total - 1.0 / M for v in d]


def matched_rate(history: Sequence[Mapping[str, float]], names: Sequence[str]) -> float:
    """The mean masking probability of a finished run, for mode "random_matched".

    history: the pretraining history (one row per epoch, `p_mask_<m>` = the epoch's mean over
    steps); the mean over epochs and modalities. Random masking at this p hides, in expectation,
    as many (sample, modality) pairs as the run did: the same masking budget, spent blindly."""
    expect(
        len(history) >= 1 and len(names) >= 1,
        DataError,
        f"matched_rate needs >= 1 epoch and >= 1 modality, found {len(history)} and {len(names)}",
    )
    missing = [f"p_mask_{m}" for m in names if f"p_mask_{m}" not in history[0]]
    expect(not missing, DataError, f"history rows lack {missing}; found keys {sorted(history[0])}")
    return sum(float(row[f"p_mask_{m}"]) for row in history for m in names) / (len(history) * len(names))


class ModalityMasker:
    """Draws which modality each sample hides and steers the probabilities to balance.

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
        self.feature_r2: list[float] | None = None
        self.p = [cfg.p0] * n_modalities  # adaptive state: the current p_m

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
    def imbalance(self) -> list[float]:
        """e_m > 0: modality m carries more than its share 1/M (0 while the signal is unknown)."""
        if self.cfg.signal == "reliance":
            return imbalance(self.reliance, self.cfg.reliance_eps) if self.reliance is not None else [0.0] * self.n
        if self.cfg.signal == "feature":
            return imbalance(self.feature_r2) if self.feature_r2 is not None else [0.0] * self.n
        return imbalance([1.0 / max(r, 1e-12) for r in self.ratios])

    @property
    def probabilities(self) -> list[float]:
        """Probability of hiding each modality, in [0, p_max]."""
        cfg = self.cfg
        if self.n < 2 or cfg.mode == "none":
            return [0.0] * self.n
        if cfg.mode == "random":
            return [cfg.random_p] * self.n
        if cfg.mode == "random_matched":
            return [float(cfg.matched_p)] * self.n  # type: ignore[arg-type]  # set: checked in MaskingConfig
        return list(self.p)

    def observe_reliance(self, reliance: Sequence[float]) -> None:
        """Latest cross-modal reliance per modality (NaN entries are ignored)."""
        values = [float(v) for v in reliance]
        expect(len(values) == self.n, ConfigError, f"expected {self.n} reliance values, found {len(values)}")
        if not any(math.isnan(v) for v in values):
            self.reliance = values

    def observe_feature_r2(self, r2: Sequence[float]) -> None:
        """Latest feature R^2 per modality (signal "feature"; NaN entries are ignored)."""
        values = [float(v) for v in r2]
        expect(len(values) == self.n, ConfigError, f"expected {self.n} feature R^2 values, found {len(values)}")
        if not any(math.isnan(v) for v in values):
            self.feature_r2 = values

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
        """One training step: its per-modality losses (NaN = modality not visible: skipped), then
        one step of the control loop (module docstring, 3.) once the warm-up is over."""
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
        if self.step >= self.warmup_steps:
            cfg = self.cfg
            k = min(1.0, 1.0 / (cfg.tau * self.total_steps)) if cfg.tau > 0 else 1.0
            targets = [cfg.p0 + cfg.gain * e for e in self.imbalance]  # p*_m = p0 + gain * e_m
            self.p = [min(max(p + k * (target - p), 0.0), cfg.p_max) for p, target in zip(self.p, targets, strict=True)]
        self.step += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "ema": list(self.ema),
            "start_sum": list(self.start_sum),
            "start_count": list(self.start_count),
            "reliance": self.reliance,
            "feature_r2": self.feature_r2,
            "p": list(self.p),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expect(
            len(state["ema"]) == self.n,
            ConfigError,
            f"masker state holds {len(state['ema'])} modalities, expected {self.n}",
        )
        self.step = int(state["step"])
        self.ema = list(state["ema"])
        self.start_sum = list(state["start_sum"])
        self.start_count = list(state["start_count"])
        self.reliance = None if state.get("reliance") is None else list(state["reliance"])
        self.feature_r2 = None if state.get("feature_r2") is None else list(state["feature_r2"])
        self.p = [float(v) for v in state.get("p", [self.cfg.p0] * self.n)]
