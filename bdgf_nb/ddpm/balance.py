"""How balanced is the learned distribution? Cross-modal reliance (docs/METHOD.md §1).

Reliance on modality m = how much the denoiser uses m to denoise the OTHER modalities:

    reliance_m = mean_{j != m} (L_j(m swapped) - L_j(intact)) / L_j(intact),

with L_j the epsilon MSE of modality j (mean over its channels and pixels), measured on a fixed
held-out batch with fixed noise and fixed timesteps. "m swapped": modality m's clean channels are
taken from ANOTHER patch of the batch (a fixed cyclic shift by one), then noised with the same
noise and timestep, so the others' targets are unchanged and m's input stays in-distribution but
carries no information about this patch (permutation importance). We do not hide m with the mask
embedding here: a model trained with masking="none" has never seen it, so its response would
measure an out-of-distribution input rather than reliance, and the modes would not compare.
0 = m is ignored; 0.5 = the others' loss rises by 50 % without m's information.

Balance index = normalised entropy of the reliance shares s_m = max(reliance_m, 0) / sum:
H(s) / log(M), 1 = every modality is relied on equally, 0 = one modality carries all reliance;
NaN when no modality is relied on at all (e.g. an untrained model). A single modality -> NaN.

Dominance gap = max_m |reliance_m - mean_{j != m} reliance_j| (two modalities: |r_hsi - r_lidar|),
0 = balanced. We report both because the index saturates: measured on the synthetic scene and
Houston 2018, a denoiser barely uses a 1-channel DSM to denoise 64 HSI bands whatever the
training (reliance_lidar ~ 0), so the index sits at 0 while the gap still shows how far the HSI
dominance has been reduced. Caveat for the reader: the gap also shrinks when the model simply
relies less on HSI, which is what masking HSI does; it is not proof of "more LiDAR".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from bdgf_nb.ddpm.diffusion import GaussianDiffusion


@dataclass
class EvalBatch:
    """A fixed held-out batch: x0 (b, C, p, p), t (b,), noise like x0."""

    x0: torch.Tensor
    t: torch.Tensor
    noise: torch.Tensor

    @classmethod
    def draw(cls, x0: torch.Tensor, T: int, seed: int) -> EvalBatch:
        generator = torch.Generator().manual_seed(seed)
        t = torch.randint(0, T, (x0.shape[0],), generator=generator)
        return cls(x0, t, torch.randn(x0.shape, generator=generator))


@dataclass
class BalanceReport:
    """loss: name -> L_m with nothing hidden; reliance: name -> reliance_m; index in [0, 1]."""

    loss: dict[str, float]
    reliance: dict[str, float]
    index: float

    @property
    def dominance_gap(self) -> float:
        return dominance_gap(list(self.reliance.values()))

    def as_record(self) -> dict[str, float]:
        """Flat dict for the history: eval_loss_<m>, reliance_<m>, balance."""
        out = {f"eval_loss_{k}": v for k, v in self.loss.items()}
        out.update({f"reliance_{k}": v for k, v in self.reliance.items()})
        out["balance"] = self.index
        out["dominance_gap"] = self.dominance_gap
        return out


def balance_index(reliance: list[float]) -> float:
    """Normalised entropy of the positive reliance shares (see module docstring)."""
    positive = [max(r, 0.0) for r in reliance]
    total = sum(positive)
    if len(reliance) < 2 or total <= 0.0:
        return float("nan")
    shares = [r / total for r in positive if r > 0]
    return max(0.0, -sum(s * math.log(s) for s in shares) / math.log(len(reliance)))


def dominance_gap(reliance: list[float]) -> float:
    """max_m |r_m - mean of the others' r|; 0 = balanced, NaN for fewer than two modalities."""
    if len(reliance) < 2:
        return float("nan")
    M = len(reliance)
    return max(abs(r - (sum(reliance) - r) / (M - 1)) for r in reliance)


@torch.no_grad()
def measure_balance(diffusion: GaussianDiffusion, batch: EvalBatch, batch_size: int = 256) -> BalanceReport:
    """Per-modality losses and cross-modal reliance of `diffusion` on the fixed `batch`."""
    names = list(diffusion.channel_groups)
    M, n = len(names), batch.x0.shape[0]
    was_training = diffusion.training
    diffusion.eval()

    bounds = torch.tensor([0, *diffusion.channel_groups.values()]).cumsum(0).tolist()

    def losses(swapped: int | None) -> torch.Tensor:
        x0_all = batch.x0
        if swapped is not None:
            x0_all = x0_all.clone()
            channels = slice(bounds[swapped], bounds[swapped + 1])
            x0_all[:, channels] = batch.x0.roll(1, dims=0)[:, channels]
        total = torch.zeros(M, dtype=torch.float64)
        for start in range(0, n, batch_size):
            x0, t, noise = (a[start : start + batch_size] for a in (x0_all, batch.t, batch.noise))
            eps_hat = diffusion.denoiser(diffusion.q_sample(x0, t, noise), t)
            total += diffusion.modality_errors(eps_hat, noise).double().sum(dim=0).cpu()
        return total / n

    full = losses(None)
    reliance = []
    for m in range(M):
        swapped = losses(m)
        rises = [float((swapped[j] - full[j]) / full[j]) for j in range(M) if j != m]
        reliance.append(sum(rises) / len(rises) if rises else float("nan"))
    diffusion.train(was_training)
    return BalanceReport(
        loss={name: float(full[m]) for m, name in enumerate(names)},
        reliance=dict(zip(names, reliance, strict=True)),
        index=balance_index(reliance),
    )
