"""Gaussian diffusion around the denoiser (docs/METHOD.md §1): schedule, q_sample, loss, sampling.

Timesteps are 0-based: t = 0 .. T-1 here is DDPM's t = 1 .. T. Equations cite Ho et al. 2020
(DDPM), Nichol & Dhariwal 2021 (cosine schedule) and Song et al. 2021 (DDIM).

The loss is a per-modality mean (docs/METHOD.md §1, eqs. (5) and (5b)): each squared error is
averaged over its modality's own channels and pixels, then over the modalities, so 144 HSI
channels do not outvote one LiDAR channel. A visible modality is scored on the noise it must
predict (epsilon MSE). A hidden modality cannot be: its x_t never reaches the network, so its
noise is unknowable. With `hidden_target="x0"` (default) the network's output on the hidden
channels is read as the hidden modality's clean signal and scored against x0, as a masked
autoencoder scores what it hid: masking then teaches the denoiser to predict one modality from
the others. `hidden_target="none"` drops the hidden modality's term (the former loss, for
comparison): hiding m then only trains the others to be denoised without m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from bdgf_nb.config_checks import check_fields
from bdgf_nb.ddpm.unet import DenoiserUNet
from bdgf_nb.errors import ConfigError, expect

HIDDEN_TARGETS = ("x0", "none")


@dataclass
class DiffusionConfig:
    T: int = 1000
    schedule: str = "cosine"  # "linear" | "cosine"
    hidden_target: str = "x0"  # a hidden modality's output is trained towards: "x0" (its clean signal) | "none"

    def __post_init__(self) -> None:
        check_fields(self)
        expect(self.T >= 2, ConfigError, f"T must be >= 2, found {self.T}")
        expect(
            self.hidden_target in HIDDEN_TARGETS,
            ConfigError,
            f"hidden_target must be one of {list(HIDDEN_TARGETS)}, found {self.hidden_target!r}",
        )
        expect(
            self.schedule in ("linear", "cosine"),
            ConfigError,
            f"schedule must be one of ['linear', 'cosine'], found {self.schedule!r}",
        )


def beta_schedule(kind: str, T: int) -> torch.Tensor:
    """betas (T,) float64. linear: Ho et al. 1e-4..0.02 rescaled by 1000/T (iDDPM); cosine:
    alpha_bar(t) = cos^2((t/T + s)/(1 + s) * pi/2), s = 0.008, betas clipped at 0.999 (iDDPM eq. 17)."""
    expect(kind in ("linear", "cosine"), ConfigError, f"schedule must be one of ['linear', 'cosine'], found {kind!r}")
    if kind == "linear":
        scale = 1000.0 / T
        return torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64)
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    alpha_bar = torch.cos((steps + 0.008) / 1.008 * math.pi / 2) ** 2
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)


def extract(a: torch.Tensor, t: torch.Tensor, x_shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """a (T,) gathered at t (b,) -> (b, 1, 1, ...) broadcastable to x_shape."""
    return a.gather(0, t.to(a.device)).reshape(t.shape[0], *((1,) * (len(x_shape) - 1)))


@dataclass
class DiffusionLoss:
    """total: scalar to backpropagate; per_modality (M,) detached mean epsilon loss of each
    modality over the samples where it is visible (NaN where hidden in every sample); visible (M,)
    counts; hidden_per_modality (M,) detached mean x0 loss of each modality over the samples where
    it is hidden (NaN where never hidden, or with `hidden_target="none"`); hidden (M,) counts."""

    total: torch.Tensor
    per_modality: torch.Tensor
    visible: torch.Tensor
    hidden_per_modality: torch.Tensor
    hidden: torch.Tensor


class GaussianDiffusion(nn.Module):
    """Owns the schedule (fp32 buffers computed in float64) and the denoiser.

    channel_groups: modality name -> channels, in stacked order; must match the denoiser."""

    betas: torch.Tensor  # (T,) fp32 buffers, computed in float64
    alpha_bar: torch.Tensor
    sqrt_alpha_bar: torch.Tensor
    sqrt_one_minus_alpha_bar: torch.Tensor

    def __init__(self, denoiser: DenoiserUNet, cfg: DiffusionConfig, channel_groups: dict[str, int]) -> None:
        super().__init__()
        expect(
            tuple(channel_groups.values()) == denoiser.cfg.modality_channels,
            ConfigError,
            f"channel_groups {dict(channel_groups)} do not match the "
            f"denoiser's modality_channels {denoiser.cfg.modality_channels}",
        )
        self.denoiser, self.cfg, self.channel_groups = denoiser, cfg, dict(channel_groups)
        betas = beta_schedule(cfg.schedule, cfg.T)
        alpha_bar = torch.cumprod(1 - betas, dim=0)
        for name, value in {
            "betas": betas,
            "alpha_bar": alpha_bar,
            "sqrt_alpha_bar": alpha_bar.sqrt(),
            "sqrt_one_minus_alpha_bar": (1 - alpha_bar).sqrt(),
        }.items():
            self.register_buffer(name, value.float(), persistent=False)

    @property
    def T(self) -> int:
        return self.cfg.T

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (DDPM eq. 4)."""
        return (
            extract(self.sqrt_alpha_bar, t, x0.shape) * x0 + extract(self.sqrt_one_minus_alpha_bar, t, x0.shape) * noise
        )

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) (DDPM eq. 4 inverted)."""
        return (x_t - extract(self.sqrt_one_minus_alpha_bar, t, x_t.shape) * eps) / extract(
            self.sqrt_alpha_bar, t, x_t.shape
        )

    def modality_errors(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Squared error averaged over each modality's channels and pixels: (b, C, h, w) -> (b, M)."""
        per_channel = (prediction - target).pow(2).mean(dim=(2, 3))
        return torch.stack(
            [chunk.mean(dim=1) for chunk in per_channel.split(list(self.channel_groups.values()), dim=1)], dim=1
        )

    def forward(
        self,
        x0: torch.Tensor,
        modality_mask: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        counts: torch.Tensor | None = None,
        hidden_counts: torch.Tensor | None = None,
    ) -> DiffusionLoss:
        """The masked multimodal loss (docs/METHOD.md eqs. (5), (5b)). With out = eps_theta(x~_t, t),
        v_im = 1 - h_im, e_im the epsilon MSE of modality m in sample i and e~_im = MSE(out_im, x0_im)
        its clean-signal MSE, each averaged over m's channels and pixels:

            "x0":   L_m = sum_i (v_im e_im + h_im e~_im) / max(n_m + k_m, 1),   L = mean_m L_m      (5b)
            "none": L_m = sum_i v_im e_im / max(n_m, 1),   L = mean over m with n_m > 0 of L_m      (5)

        n_m / k_m: the samples where m is visible / hidden. With nothing hidden both are the
        simplified DDPM loss ||eps - eps_theta(x_t, t)||^2 (DDPM eq. 14), per modality.

        x0 (b, C, p, p); modality_mask (b, M) bool, True = hidden; t (b,) and noise like x0 are
        drawn from `generator` when not given. counts / hidden_counts (M,): n_m / k_m the sums are
        divided by (default: this batch's); data-parallel pretraining passes the global batch's,
        so that the ranks' losses add up to the global batch's loss."""
        b, M = x0.shape[0], len(self.channel_groups)
        if t is None:
            t = torch.randint(0, self.T, (b,), generator=generator).to(x0.device)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        hidden = (
            torch.zeros(b, M, dtype=torch.bool, device=x0.device) if modality_mask is None else modality_mask.bool()
        )
        out = self.denoiser(self.q_sample(x0, t, noise), t, modality_mask)
        eps_errors = self.modality_errors(out, noise)
        counts = (~hidden).sum(dim=0) if counts is None else counts.to(x0.device)
        hidden_counts = hidden.sum(dim=0) if hidden_counts is None else hidden_counts.to(x0.device)
        eps_sums = (eps_errors * ~hidden).sum(dim=0)
        per_modality = eps_sums / counts.clamp(min=1)
        nan = torch.full_like(per_modality, float("nan"))
        if self.cfg.hidden_target == "x0":
            x0_sums = (self.modality_errors(out, x0) * hidden).sum(dim=0)
            total = ((eps_sums + x0_sums) / (counts + hidden_counts).clamp(min=1)).mean()
            hidden_per_modality = torch.where(hidden_counts > 0, x0_sums.detach() / hidden_counts.clamp(min=1), nan)
        else:
            total = per_modality[counts > 0].mean()
            hidden_per_modality = nan
        per_modality_detached = torch.where(counts > 0, per_modality.detach(), nan)
        return DiffusionLoss(total, per_modality_detached, counts, hidden_per_modality, hidden_counts)

    def noised_input(
        self, x0: torch.Tensor, t: torch.Tensor, modality_mask: torch.Tensor | None, noise: torch.Tensor
    ) -> torch.Tensor:
        """x_t as the denoiser sees it: noised, hidden entries replaced by the mask embedding."""
        return self.denoiser.apply_mask(self.q_sample(x0, t, noise), modality_mask)

    @torch.no_grad()
    def reconstruct(
        self, x0: torch.Tensor, t: torch.Tensor | int, modality_mask: torch.Tensor | None, noise: torch.Tensor
    ) -> torch.Tensor:
        """One-step x0_hat from x_t (for the widget): noise, hide, predict. Visible entries invert
        eq. 4 from the predicted noise; hidden ones are the output itself, the clean signal the
        denoiser predicts from the visible modalities (with `hidden_target="x0"`; with "none" they
        too invert eq. 4, from the mask embedding, as the model was trained)."""
        t = torch.full((x0.shape[0],), int(t), dtype=torch.long) if isinstance(t, int) else t
        x_t = self.noised_input(x0, t, modality_mask, noise)
        out = self.denoiser(x_t, t, modality_mask)
        x0_hat = self.predict_x0(x_t, t, out)
        if modality_mask is None or self.cfg.hidden_target == "none":
            return x0_hat
        return torch.where(self.denoiser.hidden_channels(modality_mask), out, x0_hat)

    @torch.no_grad()
    def sample(
        self, shape: tuple[int, ...], steps: int = 50, eta: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """DDIM sampler on `steps` evenly strided timesteps (Song et al. eq. 12; eta = 1 is
        ancestral DDPM-like sampling, eta = 0 deterministic). Returns x0 samples of `shape`."""
        expect(1 <= steps <= self.T, ConfigError, f"steps must be in [1, T={self.T}], found {steps}")
        device = self.betas.device
        x = torch.randn(shape, generator=generator).to(device)
        times = torch.linspace(self.T - 1, 0, steps).round().long().unique_consecutive().tolist()
        for i, step in enumerate(times):
            t = torch.full((shape[0],), step, dtype=torch.long, device=device)
            eps = self.denoiser(x, t)
            x0_hat = self.predict_x0(x, t, eps)
            ab_prev = self.alpha_bar[times[i + 1]] if i + 1 < len(times) else torch.ones((), device=device)
            ab = self.alpha_bar[step]
            sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp(min=0).sqrt()
            x = ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps
            if i + 1 < len(times) and eta > 0:
                x = x + sigma * torch.randn(shape, generator=generator).to(device)
        return x
