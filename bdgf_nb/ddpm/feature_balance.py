"""How much of each modality the frozen diffusion features carry (docs/METHOD.md §1-§2).

Reliance (balance.py) looks inside the denoiser; the branches never see the denoiser, only its
features. So the claim "masking balances the DDPM" is judged here, on the features: for each
modality m, the held-out R^2 of a ridge regression from the features at a pixel to m's
standardised channels at that pixel,

    R^2_m = mean_{c in m} (1 - sum_i (x_ic - x_hat_ic)^2 / sum_i (x_ic - mean_c)^2),   held-out pixels i,

1 = the features determine m, 0 = they carry nothing linear about it (negative: worse than the
mean). Held-out pixels come from spatial blocks (`block` x `block`) never used to fit, so
neighbouring, near-identical pixels do not leak from fit to test. The ridge penalty is chosen by
grouped cross-validation over the same blocks, on the fitting pixels only (leave-one-out would
pick a penalty tuned to memorised neighbours).

Balance = min_m max(R^2_m, 0) / max_m max(R^2_m, 0): 1 = every modality as well represented as
the best one, 0 = one modality absent; NaN when no modality is represented at all.

`patch_feature_r2` is the same measure on a batch of patches during pretraining, where the scene
is not at hand: features read from the denoiser as `features.extract_features` reads them (fixed
noise per timestep, mean over the timesteps, the central block of each patch), fitted on half the
patches and scored on the other half. It feeds the "feature" masking signal (masking.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bdgf_nb.ddpm.diffusion import GaussianDiffusion
from bdgf_nb.ddpm.features import FeatureConfig
from bdgf_nb.errors import ConfigError, DataError, expect


@dataclass
class FeatureBalance:
    """r2: modality name -> held-out R^2_m; n_fit / n_test: pixels used."""

    r2: dict[str, float]
    n_fit: int
    n_test: int

    @property
    def balance(self) -> float:
        carried = [max(v, 0.0) for v in self.r2.values()]
        return min(carried) / max(carried) if len(carried) >= 2 and max(carried) > 0 else float("nan")

    def as_record(self) -> dict[str, float]:
        """Flat dict for a history or table: feature_r2_<m>, feature_balance."""
        return {**{f"feature_r2_{k}": v for k, v in self.r2.items()}, "feature_balance": self.balance}


def feature_balance(
    features: Sequence[np.ndarray],
    image: np.ndarray,
    channel_groups: Mapping[str, int],
    mask: np.ndarray | None = None,
    n_pixels: int = 20000,
    block: int = 16,
    test_fraction: float = 0.3,
    alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0),
    seed: int = 0,
) -> FeatureBalance:
    """features: K maps (G_k, H, W) (what `extract_features` returns); image: (C, H, W) the
    standardised scene the features came from, channels in `channel_groups` order; mask: (H, W)
    bool pixels to use (None = all). At most `n_pixels` pixels are drawn (seeded); a
    `test_fraction` of the `block` x `block` spatial blocks is held out."""
    image = np.asarray(image, dtype=np.float64)
    expect(image.ndim == 3, DataError, f"image must be (C, H, W), found shape {image.shape}")
    C, H, W = image.shape
    expect(
        sum(channel_groups.values()) == C,
        DataError,
        f"channel_groups {dict(channel_groups)} sum to {sum(channel_groups.values())} channels, image has {C}",
    )
    expect(len(features) >= 1, DataError, "feature_balance needs >= 1 feature map, found 0")
    for k, f in enumerate(features):
        expect(
            np.ndim(f) == 3 and np.shape(f)[1:] == (H, W),
            DataError,
            f"feature map {k} must be (G_k, {H}, {W}), found shape {np.shape(f)}",
        )
    expect(
        block >= 1 and n_pixels >= 2, ConfigError, f"block must be >= 1 and n_pixels >= 2, found {block} and {n_pixels}"
    )
    expect(0.0 < test_fraction < 1.0, ConfigError, f"test_fraction must be in (0, 1), found {test_fraction}")
    keep = np.ones((H, W), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    expect(keep.shape == (H, W), DataError, f"mask must be ({H}, {W}), found {keep.shape}")
    rows, cols = np.nonzero(keep)
    rng = np.random.default_rng(seed)
    if len(rows) > n_pixels:
        chosen = rng.choice(len(rows), n_pixels, replace=False)
        rows, cols = rows[chosen], cols[chosen]
    groups = (rows // block) * (W // block + 1) + cols // block
    expect(
        len(np.unique(groups)) >= 2,
        DataError,
        f"need pixels in >= 2 spatial blocks of {block} x {block}, found {len(np.unique(groups))}",
    )
    X = np.concatenate([np.asarray(f, dtype=np.float64)[:, rows, cols] for f in features]).T  # (n, sum G_k)
    Y = image[:, rows, cols].T  # (n, C)
    fit, test = next(GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed).split(X, groups=groups))
    folds = min(5, len(np.unique(groups[fit])))
    expect(
        folds >= 2, DataError, f"need >= 2 spatial blocks among the fitting pixels to choose the penalty, found {folds}"
    )
    search = GridSearchCV(
        make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": list(alphas)}, cv=GroupKFold(folds)
    )
    search.fit(X[fit], Y[fit], groups=groups[fit])
    Y_hat = search.predict(X[test]).reshape(len(test), C)
    bounds = np.cumsum([0, *channel_groups.values()])
    r2 = {}
    for m, name in enumerate(channel_groups):
        truth, guess = Y[test, bounds[m] : bounds[m + 1]], Y_hat[:, bounds[m] : bounds[m + 1]]
        r2[name] = float(r2_score(truth, guess, multioutput="uniform_average"))
        expect(
            math.isfinite(r2[name]),
            DataError,
            f"R^2 of modality {name!r} is not finite (constant channels on the held-out pixels?)",
        )
    return FeatureBalance(r2, len(fit), len(test))


@torch.no_grad()
def patch_feature_r2(
    diffusion: GaussianDiffusion,
    x0: torch.Tensor,
    timesteps: Sequence[int] = (5, 50, 200),
    seed: int = 0,
    alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0),
    batch_size: int = 256,
) -> dict[str, float]:
    """Held-out R^2_m of each modality from the frozen features of patches x0 (n, C, p, p).

    The features of a pixel are the decoder maps averaged over `timesteps` (one noise draw per t,
    from `seed`), taken on the central block of each patch that `FeatureConfig.at_patch` keeps;
    a ridge (penalty by efficient leave-one-out on the fitting half) is fitted on half the patches
    and scored on the other half. Needs >= 4 patches."""
    n, C, p, _ = x0.shape
    expect(n >= 4, DataError, f"patch_feature_r2 needs >= 4 patches, found {n}")
    was_training = diffusion.training
    diffusion.eval()
    crop = FeatureConfig(timesteps=tuple(timesteps)).at_patch(p).overlap  # the block extract_features keeps
    generator = torch.Generator().manual_seed(seed)
    noises = [torch.randn(x0.shape[1:], generator=generator) for _ in timesteps]
    dev = next(diffusion.parameters()).device
    chunks = []
    for start in range(0, n, batch_size):
        batch = x0[start : start + batch_size].to(dev)
        summed: list[torch.Tensor] | None = None
        for step, noise in zip(timesteps, noises, strict=True):
            t = torch.full((batch.shape[0],), int(step), dtype=torch.long, device=dev)
            maps = diffusion.denoiser.forward_features(diffusion.q_sample(batch, t, noise.to(dev)[None]), t)
            summed = maps if summed is None else [a + b for a, b in zip(summed, maps, strict=True)]
        assert summed is not None  # timesteps is non-empty
        chunks.append(torch.cat(summed, dim=1).float().cpu() / len(timesteps))
    diffusion.train(was_training)
    centre = slice(crop, p - crop)
    features = torch.cat(chunks)[:, :, centre, centre]  # (n, G, q, q)
    targets = x0[:, :, centre, centre].float().cpu()
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    fit, test = order[: n // 2], order[n // 2 :]

    def pixels(a: torch.Tensor) -> np.ndarray:
        return a.permute(0, 2, 3, 1).reshape(-1, a.shape[1]).double().numpy()

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=list(alphas)))
    model.fit(pixels(features[fit]), pixels(targets[fit]))
    truth, guess = pixels(targets[test]), model.predict(pixels(features[test])).reshape(-1, C)
    bounds = np.cumsum([0, *diffusion.channel_groups.values()])
    return {
        name: float(r2_score(truth[:, bounds[m] : bounds[m + 1]], guess[:, bounds[m] : bounds[m + 1]]))
        for m, name in enumerate(diffusion.channel_groups)
    }
